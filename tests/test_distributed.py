"""Data-parallel training under torchrun: 2 CPU processes with gloo on digits; and a single
process gives exactly what it gave before data parallelism existed."""
import subprocess
import sys

import pytest

import task_launcher
from helpers import FAST, ROOT, rows

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def torchrun(tmp_path, *extra):
    return subprocess.run([*TORCHRUN, "task_launcher.py", *FAST, f"--save_path={tmp_path}", *extra],
                          cwd=ROOT, capture_output=True, text=True)


def test_two_processes_train_stay_identical_write_once_and_resume(tmp_path, capsys):
    p = torchrun(tmp_path, "--epochs=2", "--global_batch")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "all 2 processes hold identical weights" in p.stdout
    assert p.stdout.count("epoch 1/2 ") == 1 and p.stdout.count("done:") == 1  # rank 0 alone reports
    runs = [d for d in tmp_path.glob("s*/*/*") if d.is_dir()]
    assert len(runs) == 1
    run = runs[0]
    assert [r["epoch"] for r in rows(run / "results.csv")] == ["1", "2"]
    assert sorted(f.name for f in run.glob("*.pt")) == ["ckpt_1.pt", "ckpt_2.pt", "last.pt"]
    assert float(rows(run / "results.csv")[-1]["test_probe_acc"]) >= 0
    p = torchrun(tmp_path, "--epochs=3", "--global_batch")
    assert p.returncode == 0, p.stderr[-2000:]
    assert "resumed from" in p.stdout and "(epoch 2)" in p.stdout
    assert [r["epoch"] for r in rows(run / "results.csv")] == ["1", "2", "3"]
    assert task_launcher.main(FAST + [f"--save_path={tmp_path}", "--epochs=4", "--global_batch"]) == 0
    out = capsys.readouterr().out
    assert "written by 2 process(es) and 1 continue" in out
    assert [r["epoch"] for r in rows(run / "results.csv")] == ["1", "2", "3", "4"]


# FAST digits run, epochs 1 and 2, measured with the commit before data parallelism (5cfa576) with
# only today's layers swapped in (group-norm form of the instance norm, in-place leaky ReLU,
# channels-last on CPU: float-level changes, e.g. valid_recon 0.833193 -> 0.833113 at epoch 2).
# Those networks are named acai32 since the reference's spellings build the reference's port.
GOLDEN = [
    {"train_recon": 0.8501788377761841, "train_d_loss": 2.0785446166992188, "valid_recon": 0.8397136330604553,
     "test_probe_acc": 0.15333333611488342},
    {"train_recon": 0.8311606049537659, "train_d_loss": 2.077054977416992, "valid_recon": 0.833112895488739,
     "test_probe_acc": 0.1733333319425583}]


@pytest.mark.usefixtures("one_thread")
def test_single_process_results_are_unchanged(tmp_path):
    assert task_launcher.main(FAST + ["--arch=acai32", "--epochs=2", f"--save_path={tmp_path}"]) == 0
    got = rows(tmp_path / "s0" / "digits_swapgan_mixup" / "0" / "results.csv")
    for row, expected in zip(got, GOLDEN, strict=True):
        for k, v in expected.items():
            assert float(row[k]) == pytest.approx(v, rel=1e-5), k
