"""runs.training.train from Python, no command line: a 2-step spec trains, every trainable weight moves,
hooks add their columns, the checkpoint stores the spec, and load_run opens the result."""
import pytest
import torch
import yaml

from helpers import rows
from runs import load_run
from runs.build import build_model, complete, load_data
from runs.runtime import start
from runs.spec import spec_from_dict, spec_from_flags
from runs.training import EpochHook, train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_on_a_two_step_spec(tmp_path):
    spec = spec_from_flags({"dataset": "digits", "subset_train": 64, "batch_size": 32, "ngf": 4, "ndf": 4,
                            "epochs": 1, "batches_per_epoch": 2, "update_g_every": 1, "cls_probe": "linear",
                            "save_path": str(tmp_path), "device": "cpu", "no_verbose": True, "num_workers": 0})
    data = load_data(spec)
    spec = complete(spec, data)
    model = build_model(spec)
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    calls = []

    def hook(m, d, device):
        calls.append(m is model)
        return {"my_column": 1.5}

    run_dir = tmp_path / "run"
    train(spec, start(spec, distributed=False), data, model, run_dir, hooks=[EpochHook(1, hook)])
    moved = {k for k, p in model.named_parameters() if not torch.equal(p.detach(), before[k])}
    assert moved == set(before)  # every trainable weight of the generator, discriminator and probe
    (row,) = rows(run_dir / "results.csv")
    assert row["my_column"] == "1.5" and calls == [True]
    state = torch.load(run_dir / "last.pt", weights_only=True)
    assert state["steps"] == 2 and spec_from_dict(state["spec"]) == spec
    assert yaml.safe_load((run_dir / "cfg.yaml").read_text())["spec"]["model"]["gen_width"] == 4
    r = load_run(run_dir)
    assert r.spec == spec and r.epoch == 1
    for name, p in r.model.named_parameters():
        assert torch.equal(p, dict(model.named_parameters())[name].detach())
