"""Classifier probes on the bottleneck, looked up by name from `--cls_probe`."""
from torch import nn

from ..registry import resolve_name


class LinearProbe(nn.Module):
    """Multinomial logistic regression on the flattened code (returns logits)."""

    def __init__(self, n_in: int, n_classes: int):
        super().__init__()
        self.n_in, self.n_classes = n_in, n_classes
        self.fc = nn.Linear(n_in, n_classes)

    def forward(self, h):
        return self.fc(h.flatten(1))


# 'linear_legacy' is the reference's name for the same flattened linear layer.
PROBES = {"linear": LinearProbe, "linear_legacy": LinearProbe}
PROBE_ARGS = {"n_in", "n_classes"}


def resolve_probe(spec: str) -> str:
    return resolve_name(spec, PROBES, "--cls_probe", "architectures/cls_probes")


def build_probe(name: str, n_in: int, n_classes: int) -> nn.Module:
    return PROBES[resolve_probe(name)](n_in=n_in, n_classes=n_classes)
