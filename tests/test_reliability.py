"""Nothing lost, nothing executed, every bad input answered: kill and resume, non-finite losses,
random flag combinations."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import task_launcher
from helpers import FAST, ROOT
from iterators import Dataset, Split
from models import AMR
from runs.checkpoint import load_checkpoint
from runs.build import complete
from runs.errors import ConfigError
from runs.spec import spec_from_flags

KILL_FLAGS = FAST + ["--epochs=7", "--save_every=3", "--save_images_every=2"]


def launch(tmp_path, name, *extra, stdout=subprocess.DEVNULL):
    return subprocess.Popen([sys.executable, "task_launcher.py", *KILL_FLAGS, f"--save_path={tmp_path}",
                             f"--name={name}", *extra], cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def final_weights(tmp_path, name):
    state = load_checkpoint(tmp_path / "s0" / name / "0" / "last.pt")
    assert state["epoch"] == 7
    return state["training"]


def assert_identical(a, b):
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert torch.equal(a["mix_rng"], b["mix_rng"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Final state of a run of KILL_FLAGS that nothing interrupted."""
    folder = tmp_path_factory.mktemp("whole")
    assert launch(folder, "whole").wait() == 0
    return final_weights(folder, "whole")


def test_sigkill_at_random_moments_then_resume_ends_identical(tmp_path, uninterrupted):
    kill_and_resume(tmp_path, uninterrupted)


@pytest.mark.slow
def test_sigkill_then_resume_ends_identical_under_deterministic(tmp_path):
    """--deterministic (deterministic algorithms, no autotuning, no TF32) keeps the CPU's bitwise resume."""
    assert launch(tmp_path, "whole", "--deterministic").wait() == 0
    kill_and_resume(tmp_path, final_weights(tmp_path, "whole"), "--deterministic")


def kill_and_resume(tmp_path, uninterrupted, *extra):
    rng = random.Random(0)
    kills = 0
    for kill_after_epoch in (1, 3, 5):
        p = launch(tmp_path, "killed", *extra, stdout=subprocess.PIPE)
        for line in p.stdout:  # wait for that epoch's line, then kill at a random moment after it
            if line.startswith(f"epoch {kill_after_epoch}/") or line.startswith("done"):
                break
        time.sleep(rng.uniform(0.0, 0.5))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    assert kills >= 2
    assert launch(tmp_path, "killed", *extra).wait() == 0  # --resume=auto is the default
    assert_identical(uninterrupted, final_weights(tmp_path, "killed"))
    assert not list((tmp_path / "s0" / "killed" / "0").glob(".*.tmp"))


def test_resume_ignores_a_torn_write_and_a_truncated_newest_checkpoint(tmp_path, uninterrupted):
    """What a kill during a checkpoint write leaves (a partial temp file), and a newest checkpoint
    cut short (a full disk): --resume=auto skips both, says so, and still ends identical."""
    p = subprocess.run([sys.executable, "task_launcher.py", *KILL_FLAGS, f"--save_path={tmp_path}", "--name=torn",
                        "--epochs=4"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    folder = tmp_path / "s0" / "torn" / "0"
    data = (folder / "last.pt").read_bytes()
    (folder / ".last.pt.abc123.tmp").write_bytes(data[: len(data) // 3])
    (folder / "last.pt").write_bytes(data[: len(data) // 2])  # epoch 4, unreadable; ckpt_3.pt is good
    p = subprocess.run([sys.executable, "task_launcher.py", *KILL_FLAGS, f"--save_path={tmp_path}", "--name=torn"],
                       cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "skips checkpoint" in p.stderr and "last.pt" in p.stderr
    assert "resumed from" in p.stdout and "ckpt_3.pt" in p.stdout
    assert_identical(uninterrupted, final_weights(tmp_path, "torn"))
    assert not list(folder.glob(".*.tmp"))


def test_nonfinite_loss_names_epoch_step_and_loss_and_keeps_last_checkpoint(tmp_path, capsys, monkeypatch):
    argv = FAST + ["--epochs=3", f"--save_path={tmp_path}"]
    assert task_launcher.main(argv + ["--epochs=1"]) == 0
    real_step, calls = AMR.train_step, []

    def poisoned(self, x, y, update_g=True):
        logs = real_step(self, x, y, update_g)
        calls.append(1)
        if len(calls) == 2:  # the second step of epoch 2
            logs["d_loss"] = logs["d_loss"] * float("nan")
        return logs
    monkeypatch.setattr(AMR, "train_step", poisoned)
    assert task_launcher.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "epoch 2, step 2: non-finite training loss d_loss = nan" in err[0]
    assert load_checkpoint(tmp_path / "s0" / "digits_swapgan_mixup" / "0" / "last.pt")["epoch"] == 1


# ---- random flag combinations never escape as a traceback -------------------------------------
def fake_digits():
    split = Split(torch.zeros(40, 1, 32, 32, dtype=torch.uint8), torch.zeros(40, dtype=torch.long))
    return Dataset("digits", split, split, split, n_classes=10, n_channels=1)


VALUES = st.one_of(st.integers(-3, 100).map(str), st.sampled_from(
    ["0", "-1", "1e-3", "nan", "inf", "abc", "", "{}", "{'n_in': 32}", "{'n_classes': 3}", "{'download': 1}",
     "num_interps=3", "num_interps=x", "a=1,b", "{'x': __import__('os')}", "[1, 2]", "arch_acai_kyle",
     "architectures/arch_acai_kyle.py", "linear", "../../etc/passwd", "mixup", "fm2", "kgan", "vae", "train",
     "interp_valid", "probe", "none", "auto", "7", "cpu", "cuda"]))
FLAGS = ["--model", "--k", "--mixer", "--arch", "--n_channels", "--ngf", "--ndf", "--lamb", "--beta", "--cls",
         "--batch_size", "--epochs", "--batches_per_epoch", "--lr", "--update_g_every", "--cls_probe",
         "--cls_probe_args",
         "--dataset_args", "--mode", "--mode_override", "--save_every", "--val_batch_size", "--device",
         "--latent_dim", "--eps", "--subset_train", "--seed", "--resume"]
SWITCHES = ["--disable_mix", "--disable_g_recon", "--amp", "--cls_label_only", "--bpc"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=6),
       st.lists(st.sampled_from(SWITCHES), max_size=2))
def test_random_flags_give_a_config_error_or_a_valid_config(pairs, switches):
    known = {a.option_strings[0] for a in task_launcher.build_parser()._actions if a.option_strings}
    argv = [f"{flag}={value}" for flag, value in pairs if flag in known] + [s for s in switches if s in known]
    try:
        args = task_launcher.parse_args(argv + ["--dataset=digits"])
        task_launcher.invocation(args)
        complete(spec_from_flags(vars(args)), fake_digits())
    except ConfigError as e:
        assert "\n" not in str(e) and str(e)
    except SystemExit as e:  # argparse: one line, status 2
        assert e.code == 2
