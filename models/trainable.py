"""What every model the launcher trains shares: its device, its own random stream (mixing draws
or VAE noise), bf16 autocast, one Adam per parameter group, the online probe, eval-mode
encoding, and the checkpoint state. A subclass adds its networks, losses and steps, and
overrides parameter_groups() / _encode() where they differ."""
import contextlib

import torch
import torch.nn.functional as F
from torch import nn


@contextlib.contextmanager
def eval_mode(module):
    """Eval mode inside (spectral norm then runs no power iteration), the caller's mode after."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class TrainableModel(nn.Module):
    def __init__(self, generator, probe=None, seed=0):
        super().__init__()
        self.generator, self.probe, self.seed = generator, probe, seed
        self.random_stream = None  # torch.Generator on the model's device, made on first use
        self.amp = False           # bf16 autocast of forward computations (--amp); weights and optimisers stay fp32
        self.opt_g = self.opt_d = self.opt_probe = None

    # ---- set-up -------------------------------------------------------------------------
    @property
    def device(self):
        return next(self.generator.parameters()).device

    def rng(self):
        if self.random_stream is None or self.random_stream.device != self.device:
            self.random_stream = torch.Generator(self.device).manual_seed(self.seed)
        return self.random_stream

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def parameter_groups(self):
        """{"g": [...], optionally "d": [...]}: one optimiser each (the probe's is added apart)."""
        return {"g": list(self.generator.parameters())}

    def configure_optimizers(self, lr, betas, weight_decay, probe_weight_decay=None):
        kw = dict(lr=lr, betas=betas, weight_decay=weight_decay)
        if self.device.type == "cuda":
            kw["fused"] = True
        for name, params in self.parameter_groups().items():
            setattr(self, f"opt_{name}", torch.optim.Adam(params, **kw))
        if self.probe is not None:
            pkw = dict(kw, weight_decay=weight_decay if probe_weight_decay is None else probe_weight_decay)
            self.opt_probe = torch.optim.Adam(self.probe.parameters(), **pkw)

    def optimizers(self):
        opts = {"g": self.opt_g, "d": self.opt_d, "probe": self.opt_probe}
        return {name: o for name, o in opts.items() if o is not None}

    # ---- shared pieces ------------------------------------------------------------------
    def probe_outputs(self, codes, y):
        logits = self.probe(codes)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()

    @torch.no_grad()
    def encode(self, x):
        """The codes probes, interpolations and metrics see, computed in eval mode."""
        with eval_mode(self):
            return self._encode(x)

    def _encode(self, x):
        return self.generator.encode(x)

    # ---- checkpoint state ----------------------------------------------------------------
    def training_state(self):
        return {"model": self.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
                "mix_rng": self.rng().get_state()}  # the launcher's name for a model's random stream

    def load_training_state(self, state):
        self.load_state_dict(state["model"])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.rng().set_state(state["mix_rng"].cpu())  # generator states are CPU byte tensors


__all__ = ["TrainableModel", "eval_mode"]
