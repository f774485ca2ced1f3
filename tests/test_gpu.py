"""What only a GPU can show: a CUDA-trained run opened and resumed on the CPU (and back), --amp (bf16) and
--amp=fp16 training steps with the BCE reconstruction losses that CUDA autocast refuses, --compile in a short
run, and --deterministic repeated bitwise. Skipped without CUDA; `python -m benchmarks.gpu_check` runs them
(`pytest -m gpu`) when a GPU is lent.

AMR_GPU_TESTS_DEVICE=cpu runs the same bodies on the CPU, to check the tests themselves where there is no GPU
(a few assertions about crossing devices then have nothing to compare).
"""
import math
import os
import subprocess
import sys

import pytest
import torch

from helpers import FAST, ROOT, rows, run
from dsprites_npz import OFFICIAL_NAMES, write_npz
from iterators import batches, on_device, vis_rng
from runs import load_run
from runs.build import build_model, complete, load_data
from runs.runtime import set_determinism, start
from runs.spec import spec_from_flags
from runs.training import train_epoch

DEVICE = os.environ.get("AMR_GPU_TESTS_DEVICE", "cuda")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA device")]
CROSSES = DEVICE != "cpu"  # a checkpoint moves between two kinds of device


@pytest.fixture(autouse=True)
def fast_defaults():
    """Each test starts from a run's speed settings, and leaves them so (--deterministic changes them)."""
    set_determinism(False)
    yield
    set_determinism(False)


def train_cli(save_path, name, *extra, epochs=1, batches_per_epoch=2):
    argv = FAST + [f"--epochs={epochs}", f"--batches_per_epoch={batches_per_epoch}", f"--save_path={save_path}",
                   f"--name={name}", "--no_verbose", "--update_g_every=1", *extra]
    assert run(argv) == 0
    return save_path / "s0" / name / "0"


def checkpoint(run_dir, name="last.pt"):
    return torch.load(run_dir / name, map_location="cpu", weights_only=True)


def test_a_gpu_run_opens_and_resumes_on_the_cpu_and_back(tmp_path, capsys):
    run_dir = train_cli(tmp_path, "round_trip", f"--device={DEVICE}")
    state = checkpoint(run_dir)
    assert state["training"]["device_type"] == DEVICE
    loaded = load_run(run_dir, device="cpu")
    assert loaded.device.type == "cpu" and all(p.device.type == "cpu" for p in loaded.model.parameters())
    saved = state["training"]["model"]
    assert set(saved) == set(loaded.model.state_dict())
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    codes = loaded.encode(loaded.data.valid.images[:8])
    assert codes.device.type == "cpu" and torch.isfinite(codes).all()
    capsys.readouterr()

    train_cli(tmp_path, "round_trip", "--device=cpu", epochs=2)  # resumed on the CPU
    out, err = capsys.readouterr()
    assert "resumed from" in out and (not CROSSES or "another kind of device" in err), err
    state = checkpoint(run_dir)
    assert state["epoch"] == 2 and state["steps"] == 4 and state["training"]["device_type"] == "cpu"
    assert all(not g.get("fused") for o in state["training"]["optimizers"].values() for g in o["param_groups"])

    train_cli(tmp_path, "round_trip", f"--device={DEVICE}", epochs=3)  # and back on the GPU
    state = checkpoint(run_dir)
    assert state["epoch"] == 3 and state["training"]["device_type"] == DEVICE
    table = rows(run_dir / "results.csv")
    assert [int(r["epoch"]) for r in table] == [1, 2, 3]
    assert all(math.isfinite(float(r[k])) for r in table for k in ("train_recon", "valid_recon", "test_probe_acc"))


@pytest.fixture(scope="module")
def dsprites_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dsprites") / "tiny.npz"
    write_npz(path, (1, 3, 2, 2, 2, 2), OFFICIAL_NAMES)  # 48 binary 64 px images: 44 train, 2 valid, 2 test
    return path


@pytest.mark.parametrize("recon_loss", ["bce", "bce_sum"])
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
@pytest.mark.parametrize("model_name", ["swapgan", "vae"])
def test_mixed_precision_steps_with_bce(dsprites_file, model_name, amp, recon_loss):
    """CUDA autocast refuses F.binary_cross_entropy; the library computes it in float32 outside autocast.
    Steps under --amp / --amp=fp16 train (finite float32 losses, float32 weights that move, fp16 with a
    gradient scaler per optimiser) and evaluate close to float32 on the same batch and draws."""
    flags = {"dataset": "dsprite", "data_dir": str(dsprites_file), "arch": "dsprite_gd", "model": model_name,
             "ngf": 4, "batch_size": 8, "recon_loss": recon_loss, "amp": amp, "device": DEVICE, "cls_probe": "linear",
             "val_batch_size": 16, "update_g_every": 1}
    if model_name != "vae":
        flags["ndf"] = 4
    spec = spec_from_flags(flags)
    assert spec.model.recon_loss == ("bce_sum" if model_name == "vae" else recon_loss)  # vae: bce is bce_sum
    runtime = start(spec, distributed=False)
    data = load_data(spec)
    spec = complete(spec, data)
    model = build_model(spec, runtime.device)
    assert model.amp_dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    assert set(model.scalers) == (set(model.optimizers()) if amp == "fp16" else set())
    data = on_device(data, runtime.device)
    before = {n: p.detach().clone() for n, p in model.generator.named_parameters()}
    # 4 epochs of 6 steps: under fp16 with a summed loss the scalers skip the first ~13 steps (their initial
    # scale, 2**16, overflows the float16 gradients until it has been halved to ~8)
    for _ in range(4):
        logs = train_epoch(model, batches(data.train, 8, runtime.device), update_g_every=1)
        assert "recon" in logs and all(math.isfinite(v) for v in logs.values()), logs
    assert all(p.dtype == torch.float32 and p.device.type == runtime.device.type for p in model.parameters())
    assert any(not torch.equal(p, before[n]) for n, p in model.generator.named_parameters())
    for scaler in model.scalers.values():
        assert math.isfinite(scaler.get_scale()) and scaler.get_scale() > 0
    x, y = next(batches(data.train, 16, runtime.device))
    half = model.eval_step(x, y, vis_rng(0, runtime.device))
    model.set_precision(None)
    full = model.eval_step(x, y, vis_rng(0, runtime.device))
    assert all(v.dtype == torch.float32 for v in half.values())
    for k in ("recon", "kl") if model_name == "vae" else ("recon", "d_loss"):
        if k in full:
            assert half[k].item() == pytest.approx(full[k].item(), rel=0.05, abs=0.02), k


def test_fp16_run_saves_and_resumes_its_gradient_scalers(tmp_path):
    run_dir = train_cli(tmp_path, "fp16", f"--device={DEVICE}", "--amp=fp16")
    scalers = checkpoint(run_dir)["training"]["scalers"]
    assert set(scalers) == {"g", "d", "probe"} and all(s["scale"] > 0 for s in scalers.values())
    train_cli(tmp_path, "fp16", f"--device={DEVICE}", "--amp=fp16", epochs=2)
    assert checkpoint(run_dir)["epoch"] == 2
    assert all(math.isfinite(float(r["train_recon"])) for r in rows(run_dir / "results.csv"))


def test_compile_in_a_short_run(tmp_path):
    """--compile in a one-epoch run trains compiled networks (graphs made by torch.compile) and computes
    what the eager run computes, up to float differences."""
    from torch._dynamo.utils import counters
    eager = rows(train_cli(tmp_path, "eager", f"--device={DEVICE}", batches_per_epoch=3) / "results.csv")[0]
    graphs = counters["stats"]["unique_graphs"]
    compiled = rows(train_cli(tmp_path, "compiled", f"--device={DEVICE}", "--compile", batches_per_epoch=3)
                    / "results.csv")[0]
    assert counters["stats"]["unique_graphs"] > graphs, (
        "--compile trained without compiling a graph: torch.compiler.set_stance('force_eager') takes effect when it "
        "is made, not only inside its `with` (runs/training.py)")
    for k in ("train_recon", "train_d_loss", "valid_recon"):
        assert float(compiled[k]) == pytest.approx(float(eager[k]), rel=0.05, abs=1e-3), k


def test_deterministic_runs_are_bitwise_equal(tmp_path):
    """Two --deterministic runs, each in a fresh process (cuBLAS reads CUBLAS_WORKSPACE_CONFIG when it starts),
    train the same weights bit for bit."""
    states = []
    for name in ("a", "b"):
        argv = FAST + ["--epochs=1", "--batches_per_epoch=4", "--update_g_every=1", f"--save_path={tmp_path}",
                       f"--name={name}", "--no_verbose", f"--device={DEVICE}", "--deterministic"]
        env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}  # the flag must set it
        done = subprocess.run([sys.executable, "task_launcher.py", *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        states.append(checkpoint(tmp_path / "s0" / name / "0")["training"]["model"])
    assert states[0].keys() == states[1].keys()
    different = [k for k in states[0] if not torch.equal(states[0][k], states[1][k])]
    assert not different, f"--deterministic runs differ in {different[:5]}"
