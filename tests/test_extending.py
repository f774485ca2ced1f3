"""docs/extending.md, executed: a mixer, a model objective, a network preset and a dataset, each one registry
entry, reach --help, train, and load through load_run."""
import pytest
import torch

import task_launcher
from architectures import ARCHITECTURES, ArchPreset
from helpers import rows, run, run_dir
from iterators import DATASETS, DatasetInfo, Split
from models import MODELS, ModelInfo
from models.amr import AMR
from models.mixing import MIXERS, Mixer
from runs import load_run

pytestmark = pytest.mark.usefixtures("one_thread")


# ---- the four entries of docs/extending.md ----------------------------------------------------
def halves(k, batch, channels, generator, device):
    """Every source weighted 1/k: the mix at the middle of every interpolation."""
    return torch.full((batch, k, channels), 1 / k, device=device)


class CodePenaltyAMR(AMR):
    """AMR whose generator also pays for large codes (an L2 penalty on the bottleneck)."""

    def generator_loss(self, x, fwd, y=None):
        total, terms = super().generator_loss(x, fwd, y)
        terms["code_l2"] = fwd.codes.pow(2).mean()
        terms["g_loss"] = total + 0.01 * terms["code_l2"]
        return terms["g_loss"], terms


def noise(data_dir, download):
    """32 px random images with random labels: (train, valid, test) splits of uint8 [N, 1, 32, 32]."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (n,), generator=g))
    return split(96), split(40), split(40)


ENTRIES = [
    (MIXERS, "halves", Mixer("every source weighted 1/k", halves)),
    (MODELS, "code_penalty", ModelInfo("amr", 2, "AMR with an L2 penalty on the codes", model_class=CodePenaltyAMR)),
    (ARCHITECTURES, "acai32_narrow", ArchPreset("ACAI's layers at width 8; 32 px, bottleneck 4x4x2 = 32", 32, 4, 2,
                                                depth=8, disc_depth=8)),
    (DATASETS, "noise", DatasetInfo(noise, "random 32 px images, 10 random labels, 96/40/40")),
]


@pytest.fixture
def registered(monkeypatch):
    for registry, name, entry in ENTRIES:
        monkeypatch.setitem(registry, name, entry)


def test_new_entries_reach_help_train_and_load(registered, tmp_path):
    text = task_launcher.build_parser().format_help()
    for _, name, entry in ENTRIES:
        assert name in text
    argv = ["--dataset=noise", "--model=code_penalty", "--mixer=halves", "--arch=acai32_narrow", "--batch_size=32",
            "--epochs=1", "--batches_per_epoch=2", "--update_g_every=1", "--cls_probe=linear", "--num_workers=0",
            "--save_path", tmp_path, "--name=extended"]
    assert run(argv) == 0
    (row,) = rows(run_dir(tmp_path, "extended") / "results.csv")
    assert float(row["train_code_l2"]) > 0  # the new objective's term
    r = load_run(run_dir(tmp_path, "extended"))
    assert type(r.model) is CodePenaltyAMR and r.spec.model.mixer == "halves" and r.spec.data.dataset == "noise"
    assert r.model.generator.encoder[0].out_channels == 8  # the preset's width
    x = r.data.valid.images[:2]
    assert r.interpolate(x[:1], x[1:], steps=3).shape == (1, 3, 1, 32, 32)
    assert run(["load", "--config", run_dir(tmp_path, "extended") / "cfg.yaml", "--mode=interp_valid"]) == 0
