"""runs.load_run (a trained run from Python) on every model family, its errors, the example script,
and --tensorboard: event files read back with tensorboard's EventAccumulator, across a resume."""
import csv
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

import task_launcher
from helpers import FAST, ROOT
from dsprites_npz import OFFICIAL_NAMES, write_npz
from runs import RunError, load_run

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def train(tmp_path, *extra, name=None):
    argv = FAST + ["--epochs=1", "--batches_per_epoch=2", f"--save_path={tmp_path}", *extra]
    assert task_launcher.main(argv + ([f"--name={name}"] if name else [])) == 0
    (run,) = [d for d in tmp_path.glob(f"s0/{name or '*'}/0") if d.is_dir()]
    return run


@pytest.fixture(scope="module")
def dsprites(tmp_path_factory):
    path = tmp_path_factory.mktemp("dsprites") / "tiny.npz"
    write_npz(path, (1, 3, 2, 2, 2, 2), OFFICIAL_NAMES)
    return path


FAMILIES = {"k2": ["--mixer=mixup"], "k3_fm2": ["--model=threegan", "--mixer=fm2"], "acaif3": ["--model=acaif3"],
            "class_mixer": ["--cls=1"], "ae": ["--model=ae"], "reference_nets": ["--arch=arch_acai_kyle"]}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_load_run_encodes_decodes_mixes_and_interpolates(tmp_path, family):
    run_dir = train(tmp_path, *FAMILIES[family], name=family)
    run = load_run(run_dir)
    assert run.epoch == 1 and run.config["name"] == family and not run.model.training
    valid = run.data.valid
    x8 = valid.images[:8]
    codes = run.encode(x8)
    torch.testing.assert_close(codes, run.encode(x8.float() / 127.5 - 1))  # uint8 and float give the same
    assert codes.shape == (8, 2, 4, 4) and not codes.requires_grad
    images = run.decode(codes)
    assert images.shape == (8, 1, 32, 32)
    # the launcher's own model, restored the launcher's way, decodes the same
    state = torch.load(run_dir / "last.pt", weights_only=True)
    reference = run.model.state_dict()
    assert all(torch.equal(state["training"]["model"][k], v) for k, v in reference.items())
    mixed = run.mix([codes[:4], codes[4:]], [0.25, 0.75])
    torch.testing.assert_close(mixed, 0.25 * codes[:4] + 0.75 * codes[4:])
    per_channel = torch.zeros(4, 2, 2)
    per_channel[:, 0, 0] = per_channel[:, 1, 1] = 1  # channel 0 from a, channel 1 from b
    torch.testing.assert_close(run.mix(torch.stack([codes[:4], codes[4:]]), per_channel),
                               torch.stack([codes[:4, 0], codes[4:, 1]], 1))
    rows = run.interpolate(x8[:4], x8[4:], steps=5)
    assert rows.shape == (4, 5, 1, 32, 32)
    torch.testing.assert_close(rows[:, 0], run.decode(codes[:4]), atol=1e-5, rtol=0)   # starts at a
    torch.testing.assert_close(rows[:, -1], run.decode(codes[4:]), atol=1e-5, rtol=0)  # ends at b
    with pytest.raises(ValueError, match="do not fit"):
        run.mix([codes[:4], codes[4:]], torch.ones(3))


def test_load_run_on_a_vae(tmp_path, dsprites):
    argv = [f"--data_dir={dsprites}", "--dataset=dsprite", "--arch=dsprite_gd", "--model=vae", "--ngf=4",
            "--batch_size=8", "--recon_loss=bce_sum", "--val_batch_size=16", "--epochs=1", "--batches_per_epoch=2",
            f"--save_path={tmp_path}"]
    assert task_launcher.main(argv) == 0
    (run_dir,) = tmp_path.glob("s0/*/0")
    run = load_run(run_dir)
    x = run.data.valid.images[:2]
    codes = run.encode(x)
    assert codes.shape == (2, 10) and run.decode(codes).shape == (2, 1, 64, 64)
    assert run.interpolate(x[:1], x[1:], steps=3).shape == (1, 3, 1, 64, 64)


def test_bad_runs_raise_one_clear_error(tmp_path):
    with pytest.raises(RunError, match="no cfg.yaml: not a run folder") as info:
        load_run(tmp_path)
    assert info.value.path == tmp_path
    a = train(tmp_path / "a", name="a")
    b = train(tmp_path / "b", "--arch=arch_acai_kyle", name="b")
    with pytest.raises(RunError, match="belongs to a different configuration") as info:
        load_run(a, checkpoint=b / "last.pt")  # another architecture's checkpoint
    assert str(a) in str(info.value) and "--arch" in str(info.value)
    with pytest.raises(RunError, match="no checkpoint 7 .*; the run holds: last, ckpt_1$"):
        load_run(a, checkpoint=7)
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "something-else"}, foreign)
    with pytest.raises(RunError, match="not an amr checkpoint"):
        load_run(a, checkpoint=foreign)
    # a run whose dataset has gone: the model loads, run.data says what is missing
    cfg = yaml.safe_load((a / "cfg.yaml").read_text())
    cfg["spec"]["data"].update(dataset="mnist", data_dir=str(tmp_path / "nowhere"))
    moved = tmp_path / "moved" / "s0" / "a" / "0"
    shutil.copytree(a, moved)
    (moved / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    state = torch.load(moved / "last.pt", weights_only=True)
    state["spec"]["data"].update(dataset="mnist", data_dir=str(tmp_path / "nowhere"))
    torch.save(state, moved / "last.pt")
    run = load_run(moved)
    with pytest.raises(RunError, match="its dataset cannot be loaded") as info:
        run.data
    assert "nowhere" in str(info.value)


def test_example_script_runs_on_a_digits_run(tmp_path):
    run_dir = train(tmp_path)
    out = tmp_path / "row.png"
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "interpolate_two_digits.py"), str(run_dir),
                        "--out", str(out), "--steps", "6"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "300 validation codes of shape (2, 4, 4)" in p.stdout and out.stat().st_size > 1000


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_tensorboard_logs_every_column_images_and_continues_after_resume(tmp_path):
    base = FAST + ["--batches_per_epoch=150", "--tensorboard", f"--save_path={tmp_path}", "--batch_size=2",
                   "--subset_train=300"]
    assert task_launcher.main(base + ["--epochs=2"]) == 0
    assert task_launcher.main(base + ["--epochs=3"]) == 0  # resumes from epoch 2
    run_dir = tmp_path / "s0" / "digits_swapgan_mixup" / "0"
    with open(run_dir / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    acc = read_events(run_dir / "tb")
    scalars = set(acc.Tags()["scalars"])
    assert {f"epoch/{k}" for k in rows[0]} <= scalars
    assert {"train/recon", "train/d_loss", "train/g_loss"} <= scalars  # running losses, logged at steps 50, 100, ...
    for tag in scalars:
        steps = [e.step for e in acc.Scalars(tag)]
        assert steps == sorted(set(steps)), tag  # strictly increasing, also across the resume
    epoch_steps = [e.step for e in acc.Scalars("epoch/epoch")]
    assert epoch_steps == [150, 300, 450] and [e.value for e in acc.Scalars("epoch/epoch")] == [1, 2, 3]
    assert [e.step for e in acc.Scalars("train/recon")] == [50, 100, 150, 200, 250, 300, 350, 400, 450]
    valid_recon = [float(r["valid_recon"]) for r in rows]
    assert [e.value for e in acc.Scalars("epoch/valid_recon")] == pytest.approx(valid_recon, rel=1e-6)
    for tag in ("images/train", "images/valid", "interpolation"):
        assert [e.step for e in acc.Images(tag)] == [150, 300, 450], tag
    assert torch.load(run_dir / "last.pt", weights_only=True)["steps"] == 450
