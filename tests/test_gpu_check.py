"""benchmarks/gpu_check.py, the one command a session runs when a GPU is lent: its budget, its isolation of
parts (one that fails or hangs never hides the others), and its CPU dry run end to end."""
import json
import subprocess
import sys

import psutil
import pytest
import torch

from benchmarks.gpu_check import PARTS, SHARES, has_mnist, plan_timeout, state_hash, write_random_mnist
from helpers import ROOT


def gpu_check(out, *flags):
    """The check in a process of its own; its --budget_s bounds it (no wall-clock limit here: a busy machine
    makes its parts time out, which the summary then says)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--out", str(out), *flags], cwd=ROOT,
                          capture_output=True, text=True)
    summary = json.loads((out / "summary.json").read_text())
    return done, summary


def test_the_budget_is_shared_by_weight_and_what_a_part_leaves_goes_on():
    later = list(PARTS[1:])
    first = plan_timeout(480, "environment", later, 480, 480)
    assert first == pytest.approx(480 * SHARES["environment"][0] / sum(w for w, _ in SHARES.values()))
    # the environment took 5 s of its share: the next part's share is of the 475 s left
    second = plan_timeout(475, "gpu_tests", later[1:], 480, 480)
    assert second == pytest.approx(475 * SHARES["gpu_tests"][0] / sum(SHARES[p][0] for p in later))
    assert plan_timeout(30, "determinism", [], 480, 480) == pytest.approx(30)  # the last part gets all that is left
    assert plan_timeout(SHARES["step_time"][1] - 1, "step_time", ["determinism"], 480, 480) is None  # below its minimum
    assert plan_timeout(50, "step_time", ["determinism"], 480, 480) == SHARES["step_time"][1]  # at least the minimum
    assert plan_timeout(0.5, "environment", later, 480, 480) is None


def test_state_hash_sees_every_bit_and_dtype():
    a = {"w": torch.arange(6.0).view(2, 3), "n": torch.tensor(3), "u": torch.ones(())}
    assert state_hash(a) == state_hash({k: v.clone() for k, v in reversed(list(a.items()))})
    b = dict(a, w=a["w"].clone())
    b["w"].view(-1).view(torch.int32)[4] ^= 1  # one bit of one float
    assert state_hash(b) != state_hash(a)
    assert state_hash(dict(a, n=torch.tensor(3.0))) != state_hash(a)


def test_generated_mnist_is_read_as_mnist(tmp_path):
    from iterators import load_dataset
    write_random_mnist(tmp_path, 60, 12)
    assert has_mnist(tmp_path) and not has_mnist(tmp_path / "elsewhere") and not has_mnist(None)
    data = load_dataset("mnist", tmp_path, download=False)
    assert (len(data.train), len(data.valid), len(data.test)) == (50, 10, 12)
    assert data.train.images.shape[1:] == (1, 32, 32) and data.n_classes == 10


def test_a_failing_and_a_hanging_part_do_not_hide_the_others(tmp_path):
    done, s = gpu_check(tmp_path, "--device", "cpu", "--budget_s", "12", "--parts", "environment,gpu_tests,round_trip",
                        "--_selftest", "environment=ok,gpu_tests=hang,round_trip=fail")
    assert done.returncode == 1, done.stdout + done.stderr
    parts = s["parts"]
    assert list(parts) == list(PARTS)
    assert [parts[p]["status"] for p in PARTS] == ["ok", "timeout", "failed", "skipped", "skipped", "skipped"]
    assert "selftest: this part fails on purpose" in parts["round_trip"]["error"]
    assert "stopped at its limit" in parts["gpu_tests"]["error"] and parts["gpu_tests"]["seconds"] < 12
    assert all(parts[p]["reason"] == "not selected (--parts)" for p in PARTS[3:])
    assert s["ok"] is False and s["exit_status"] == 1 and s["finished"] is True
    pid = parts["gpu_tests"]["figures"]["grandchild_pid"]  # the hanging part's own child was stopped too
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    md = (tmp_path / "summary.md").read_text()
    assert "| gpu_tests | timeout |" in md and "| round_trip | failed |" in md and "NOT all ok" in md


def test_a_spent_budget_skips_parts_with_the_reason(tmp_path):
    done, s = gpu_check(tmp_path, "--device", "cpu", "--budget_s", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(p["status"] == "skipped" and "budget spent" in p["reason"] for p in s["parts"].values())


@pytest.mark.slow
def test_the_cpu_dry_run_runs_every_part(tmp_path):
    done, s = gpu_check(tmp_path, "--device", "cpu", "--budget_s", "280")
    parts = s["parts"]
    assert {p: parts[p]["status"] for p in PARTS} == dict.fromkeys(PARTS, "ok"), (done.stdout, (tmp_path /
                                                                                              "summary.md").read_text())
    assert done.returncode == 0 and s["exit_status"] == 0 and s["dry_run"] is True and s["device"] == "cpu"
    assert all(isinstance(parts[p]["seconds"], float) and parts[p]["log"] for p in PARTS)
    f = {p: parts[p]["figures"] for p in PARTS}
    assert f["environment"]["torch"] == torch.__version__ and "as_a_run_sets_them" in f["environment"]["tf32"]
    assert f["gpu_tests"]["counts"]["skipped"] >= 1 and f["gpu_tests"]["counts"]["failed"] == 0  # no CUDA here
    assert f["round_trip"]["weights_equal_after_load"] and f["round_trip"]["resumed_epoch"] == 2
    variants = f["mnist_epoch"]["variants"]
    assert list(variants) == ["float32", "bf16", "fp16", "compiled"] and "generated" in f["mnist_epoch"]["data"]
    assert all(v["status"] == "ok" and v["epochs"][-1]["train_time_s"] > 0 for v in variants.values())
    assert len(variants["compiled"]["epochs"]) == 2 and variants["compiled"]["compiled_graphs"] > 0
    batches = f["step_time"]["batches"]
    assert list(batches) == ["8", "16", "32"]
    assert all(set(b["results"]) == {"reference", "ours", "ours+amp", "ours+compile"} for b in batches.values())
    assert f["determinism"]["equal"]["deterministic"] is True and len(f["determinism"]["runs"]) == 4
    md = (tmp_path / "summary.md").read_text()
    assert "| part | status | seconds | limit | what it found |" in md and "every part ok or skipped" in md
