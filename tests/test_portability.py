"""Runs that move between devices and precisions (issue: GPU-ready without a GPU): a checkpoint as CUDA
writes it (a 16-byte generator state, fused-Adam state) opens, evaluates and resumes on a CPU; float16 with
its gradient scalers resumes bitwise; --compile compiles a bounded number of graphs."""
import shutil

import pytest
import torch

from helpers import FAST, rows, run, run_dir
from models.trainable import stream_seed
from runs import load_run
from runs.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


def as_cuda_wrote_it(path):
    """Rewrite a CPU checkpoint the way a CUDA run's reads back with map_location='cpu': the random stream a
    CUDA generator's 16-byte state, every Adam fused (as the library configures it on CUDA)."""
    state = load_checkpoint(path)
    t = state["training"]
    t["mix_rng"] = torch.arange(16, dtype=torch.uint8)
    t["device_type"] = "cuda"
    for opt in t["optimizers"].values():
        for group in opt["param_groups"]:
            group.update(fused=True, foreach=None)
        for s in opt["state"].values():
            s["step"] = s["step"].float()
    state.pop("format")
    save_checkpoint(path, state)


def test_a_checkpoint_written_on_cuda_opens_evaluates_and_resumes_on_the_cpu(tmp_path, capsys):
    argv = FAST + ["--epochs=1", "--batches_per_epoch=2", "--save_path", tmp_path]
    assert run(argv) == 0
    d = run_dir(tmp_path)
    as_cuda_wrote_it(d / "last.pt")
    shutil.copy(d / "last.pt", d / "ckpt_1.pt")
    r = load_run(d, device="cpu")
    assert r.epoch == 1 and r.encode(r.data.valid.images[:2]).shape[0] == 2
    assert run(argv + ["--mode=interp_valid", "--device=cpu"]) == 0
    assert (d / "interp_valid" / "last_epoch1" / "grid.png").is_file()
    capsys.readouterr()
    assert run(argv + ["--epochs=2", "--device=cpu"]) == 0
    out, err = capsys.readouterr()
    assert "resumed from" in out
    (note,) = [line for line in err.splitlines() if "random stream" in line]
    assert "written on another kind of device (16 bytes)" in note and "(seed 0, step 2)" in note
    assert [row["epoch"] for row in rows(d / "results.csv")] == ["1", "2"]
    state = load_checkpoint(d / "last.pt")
    assert state["training"]["device_type"] == "cpu"
    assert all(g.get("fused") in (None, False) for o in state["training"]["optimizers"].values()
               for g in o["param_groups"])
    # the stream restarted from (seed, step) = (0, 2): what a generator seeded so draws
    expected = torch.Generator().manual_seed(stream_seed(0, 2))
    assert stream_seed(0, 2) == 2 and expected.initial_seed() == 2


def test_float16_with_its_gradient_scalers_resumes_bitwise(tmp_path):
    argv = FAST + ["--batches_per_epoch=3", "--amp=fp16", "--recon_loss=bce", "--update_g_every=1"]
    assert run(argv + ["--epochs=2", "--save_path", tmp_path / "whole"]) == 0
    assert run(argv + ["--epochs=1", "--save_path", tmp_path / "parts"]) == 0
    scalers = load_checkpoint(run_dir(tmp_path / "parts") / "last.pt")["training"]["scalers"]
    assert set(scalers) == {"g", "d", "probe"}
    assert run(argv + ["--epochs=2", "--save_path", tmp_path / "parts"]) == 0
    a, b = (load_checkpoint(run_dir(tmp_path / p) / "last.pt")["training"] for p in ("whole", "parts"))
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["scalers"] == b["scalers"]


def test_compile_builds_a_bounded_number_of_graphs(tmp_path):
    """Two epochs with a partial last batch (80 examples in batches of 32) and generator-only steps, then an
    interpolation mode: the graphs compiled stay few, and nothing falls back to eager for hitting Dynamo's limit."""
    pytest.importorskip("torch._dynamo")
    if not shutil.which("g++") and not shutil.which("clang++"):
        pytest.skip("--compile on CPU needs a C++ compiler")
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    argv = FAST + ["--subset_train=80", "--update_g_every=2", "--compile", "--save_path", tmp_path]
    assert run(argv + ["--epochs=1"]) == 0
    assert counters["stats"]["unique_graphs"] > 0  # the first epoch trains compiled, not only later ones
    argv.append("--epochs=2")
    assert run(argv) == 0  # resumed: the second epoch
    graphs = counters["stats"]["unique_graphs"]
    assert 0 < graphs <= 24, dict(counters["stats"])
    assert not any("recompile_limit" in k or "cache_size_limit" in k for k in counters["unimplemented"])
    assert run(argv + ["--mode=interp_valid"]) == 0  # modes run eagerly: nothing new compiled
    assert counters["stats"]["unique_graphs"] == graphs
