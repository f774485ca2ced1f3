"""The command line: flags, run folder, resume, interpolation grids, bad input."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import task_launcher
from helpers import FAST, ROOT, SHARED_DATA, needs_shared_mnist, rows, run, run_dir


REFERENCE_FLAGS = ["--model", "--k", "--dataset", "--dataset_args", "--subset_train", "--arch", "--batch_size",
                   "--n_channels", "--ngf", "--ndf", "--lr", "--lamb", "--beta", "--cls", "--mixer",
                   "--disable_g_recon", "--disable_mix", "--cls_loss", "--gan_loss", "--recon_loss", "--beta1",
                   "--beta2", "--weight_decay", "--update_g_every", "--cls_probe", "--cls_probe_args",
                   "--cls_probe_weight_decay", "--cls_probe_weight", "--bpc", "--batches_per_epoch", "--seed", "--name",
                   "--epochs", "--trial_id",
                   "--save_path", "--val_batch_size", "--save_every", "--save_images_every", "--resume",
                   "--num_workers", "--mode", "--mode_override", "--vis_seed", "--data_dir", "--device"]


def test_self_explaining_aliases_set_the_references_flags():
    pairs = {"--recon_weight=3": ("lamb", 3.0), "--gen_width=8": ("ngf", 8), "--disc_width=8": ("ndf", 8),
             "--class_mix_weight=0.5": ("cls", 0.5), "--mask_prior_weight=0.1": ("eps", 0.1),
             "--cls_probe_backprop_grads": ("bpc", True)}
    for flag, (dest, value) in pairs.items():
        assert getattr(task_launcher.parse_args([flag]), dest) == value, flag


def test_help_lists_every_flag_with_a_meaning():
    out = subprocess.run([sys.executable, "task_launcher.py", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    for flag in REFERENCE_FLAGS:
        m = re.search(rf"^\s+{re.escape(flag)}(?:,?\s+\S+)?\s+(\S.*)$", out, re.M)  # ",": an alias follows
        assert m, f"{flag} missing or without help text"
    assert "load --config" in out


def test_train_resume_interpolate_on_digits(tmp_path, capsys):
    assert run(FAST + ["--epochs=2", "--save_path", tmp_path]) == 0
    d = run_dir(tmp_path)
    cfg = yaml.safe_load((d / "cfg.yaml").read_text())
    assert cfg["args"]["epochs"] == 2 and cfg["resolved"]["k"] == 2 and "torch" in cfg["versions"]
    table = rows(d / "results.csv")
    assert [r["epoch"] for r in table] == ["1", "2"]
    for col in ("train_recon", "train_g_mix", "train_d_loss", "valid_recon", "valid_d_loss", "train_probe_acc",
                "valid_probe_acc", "test_probe_acc", "epoch_time_s"):
        assert col in table[0] and float(table[0][col]) == float(table[0][col])  # present and a number
    assert (d / "last.pt").is_file() and (d / "ckpt_1.pt").is_file() and (d / "ckpt_2.pt").is_file()
    assert sorted(p.name for p in (d / "images").iterdir()) == [
        "epoch00001_train.png", "epoch00001_valid.png", "epoch00002_train.png", "epoch00002_valid.png"]
    capsys.readouterr()

    assert run(FAST + ["--epochs=3", "--resume=auto", "--save_path", tmp_path]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 3/3" in out and "epoch 2/3" not in out
    assert [r["epoch"] for r in rows(d / "results.csv")] == ["1", "2", "3"]
    assert torch.load(d / "last.pt", weights_only=True)["epoch"] == 3

    assert run(FAST + ["--epochs=3", "--mode=interp_valid", "--val_batch_size=8", "--save_path", tmp_path]) == 0
    out_dir = d / "interp_valid" / "last_epoch3"
    assert (out_dir / "grid.png").is_file() and len(list(out_dir.glob("pair_*.png"))) == 4
    from PIL import Image
    w, h = Image.open(out_dir / "grid.png").size
    assert w == 2 + 12 * (32 + 2) and h == 2 + 4 * (32 + 2)  # 10 decodes + 2 inputs per row, 4 rows


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(FAST + ["--epochs=3", "--model=threegan", "--mixer=fm", "--save_path", a]) == 0
    assert run(FAST + ["--epochs=2", "--model=threegan", "--mixer=fm", "--save_path", b]) == 0
    assert run(FAST + ["--epochs=3", "--model=threegan", "--mixer=fm", "--save_path", b]) == 0
    name = "digits_threegan_fm"
    sa = torch.load(run_dir(a, name) / "last.pt", weights_only=True)["training"]
    sb = torch.load(run_dir(b, name) / "last.pt", weights_only=True)["training"]
    for key, value in sa["model"].items():
        assert torch.equal(value, sb["model"][key]), key
    last_a, last_b = rows(run_dir(a, name) / "results.csv")[-1], rows(run_dir(b, name) / "results.csv")[-1]
    assert last_a["train_recon"] == last_b["train_recon"]


def test_bpc_adds_the_probe_loss_and_a_run_saved_with_the_old_integer_bpc_resumes(tmp_path):
    """--bpc is the reference's probe switch (g_probe in results.csv); a checkpoint and cfg.yaml from before
    --batches_per_epoch, whose --bpc held the batch cap, resume and reload with that cap."""
    argv = FAST + ["--epochs=1", "--batches_per_epoch=2", "--save_path", tmp_path]
    assert run(argv + ["--bpc", "--cls_probe_weight=0.5", "--name=bpc"]) == 0
    assert float(rows(run_dir(tmp_path, "bpc") / "results.csv")[0]["train_g_probe"]) > 0
    assert run(argv) == 0
    d = run_dir(tmp_path, "digits_swapgan_mixup")
    assert "train_g_probe" not in rows(d / "results.csv")[0]
    state = torch.load(d / "last.pt", weights_only=True)
    cfg = yaml.safe_load((d / "cfg.yaml").read_text())
    old = {**{k: v for k, v in cfg["args"].items() if k != "batches_per_epoch"}, "bpc": 2}  # before the rename
    del state["spec"], cfg["spec"]  # and before specs were stored: flags only
    state["config"], cfg["args"] = old, old
    torch.save(state, d / "last.pt")
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert run(["load", "--config", d / "cfg.yaml", "--epochs=2"]) == 0
    table = rows(d / "results.csv")
    assert len(table) == 2 and "train_g_probe" not in table[1]
    assert torch.load(d / "last.pt", weights_only=True)["steps"] == 4  # 2 batches an epoch, as saved


def test_load_config_reruns_and_overrides(tmp_path, capsys):
    assert run(FAST + ["--epochs=1", "--mixer=mixup2", "--save_path", tmp_path]) == 0
    cfg = run_dir(tmp_path, "digits_swapgan_mixup2") / "cfg.yaml"
    capsys.readouterr()
    assert run(["load", "--config", cfg, "--epochs=2"]) == 0
    assert "epoch 2/2" in capsys.readouterr().out
    assert len(rows(cfg.parent / "results.csv")) == 2


@pytest.mark.parametrize("extra", [["--model=kgan", "--k=4", "--mixer=fm2"], ["--model=acai"],
                                   ["--model=acaif3"], ["--disable_mix", "--gan_loss=mse", "--recon_loss=l2"],
                                   ["--disable_g_recon", "--recon_loss=bce_sum", "--beta=0"]])
def test_every_model_trains_one_epoch(tmp_path, extra):
    assert run(FAST + ["--epochs=1", "--batches_per_epoch=2", "--save_path", tmp_path] + extra) == 0
    (d,) = list(tmp_path.glob("s0/*/0"))
    loss = float(rows(d / "results.csv")[0]["train_d_loss"])
    assert loss == loss and abs(loss) < 1e3


def test_plain_autoencoder_control_trains_resumes_and_has_no_discriminator(tmp_path):
    assert run(FAST + ["--epochs=1", "--batches_per_epoch=2", "--model=ae", "--save_path", tmp_path]) == 0
    d = run_dir(tmp_path, "digits_ae")
    first = rows(d / "results.csv")[0]
    assert float(first["train_recon"]) > 0
    assert not [k for k in first if k.split("_", 1)[-1].startswith(("d_", "g_mix", "g_recon"))]
    state = torch.load(d / "last.pt", weights_only=True)
    assert not any(k.startswith("discriminator") for k in state["training"]["model"])
    assert state["steps"] == 2
    assert run(FAST + ["--epochs=2", "--batches_per_epoch=2", "--model=ae", "--save_path", tmp_path]) == 0
    assert [r["epoch"] for r in rows(d / "results.csv")] == ["1", "2"]
    assert torch.load(d / "last.pt", weights_only=True)["steps"] == 4


def test_probe_learns_above_chance_on_digits(tmp_path):
    flags = ["--dataset=digits", "--batch_size=32", "--ngf=8", "--ndf=8", "--cls_probe=linear", "--lamb=10",
             "--beta=0", "--lr=2e-3", "--epochs=3", "--save_every=100", "--save_images_every=100"]
    assert run(flags + ["--save_path", tmp_path]) == 0
    last = rows(run_dir(tmp_path) / "results.csv")[-1]
    assert float(last["test_probe_acc"]) > 0.4 and float(last["valid_probe_acc"]) > 0.4  # chance is 0.1


BAD_INPUTS = [
    (["--model=foo"], "--model"),
    (["--dataset=foo"], "--dataset"),
    (["--mixer=foo"], "--mixer"),
    (["--arch=nope"], "--arch: unknown 'nope'"),
    (["--arch=../../evil.py"], "--arch: unknown"),
    (["--cls_probe=os"], "--cls_probe: unknown"),
    (["--mode=foo"], "--mode: unknown 'foo'"),
    (["--model=kgan"], "--model kgan needs --k"),
    (["--model=kgan", "--k=1"], "--k must be >= 2"),
    (["--model=swapgan", "--k=3"], "conflicts with --model swapgan"),
    (["--model=acaif3", "--mixer=fm"], "--model acaif3 mixes with --mixer mixup"),
    (["--model=ae", "--mixer=fm2"], "--model ae mixes nothing"),
    (["--model=ae", "--k=3"], "conflicts with --model ae"),
    (["--cls=1", "--model=acaif3"], "--cls > 0 (class-conditioned mixing) needs --model swapgan"),
    (["--cls=-1"], "--cls and --eps must be >= 0"),
    (["--cls=1", "--arch=dsprite_gd"], "--cls > 0 needs an ACAI preset"),
    (["--mode=interp_sup_valid"], "--mode interp_sup_valid needs a run trained with --cls > 0"),
    (["--n_channels=3"], "--n_channels 3 disagrees with --dataset digits"),
    (["--batch_size=5000"], "--batch_size 5000 is larger than the training split"),
    (["--batch_size=0"], "--batch_size must be >= 1"),
    (["--cls_probe_args={'n_in': 31, 'n_classes': 10}"], "n_in 31 does not match"),
    (["--cls_probe_args={'n_in': 32, 'n_classes': 7}"], "n_classes 7"),
    (["--cls_probe_args=__import__('os').system('touch PWNED')"], "--cls_probe_args: '__import__"),
    (["--cls_probe_args={'n_in': 32, 'evil': 1}"], "--cls_probe_args: unknown keys ['evil']"),
    (["--dataset_args={'foo': 1}"], "--dataset_args: unknown keys ['foo']"),
    (["--dataset_args=[1, 2]"], "--dataset_args: '[1, 2]' is not a literal dict"),
    (["--mode=interp_valid", "--mode_override=num_interps=abc"], "--mode_override: value of 'num_interps'"),
    (["--mode=interp_valid", "--mode_override=colour=1"], "--mode_override: unknown key 'colour'; this mode takes"),
    (["--mode=interp_valid", "--mode_override=colour"], "--mode_override: 'colour' is not key=value"),
    (["--mode=interp_valid", "--mode_override=num_interps=2.5"], "num_interps must be int"),
    (["--resume=99"], "--resume=99: no checkpoint"),
    (["--resume=/nonexistent/x.pt"], "--resume=/nonexistent/x.pt: no checkpoint"),
    (["--mode=interp_valid"], "--mode interp_valid: no checkpoint"),
    (["--dataset=mnist", "--data_dir=/nonexistent", "--dataset_args={'download': False}"], "/nonexistent"),
    (["--save_path=/proc/amr"], "--save_path /proc/amr: cannot write"),
    (["--cls_probe=", "--bpc"], "--bpc lets the online probe's loss train the encoder; it needs --cls_probe"),
    (["--bpc", "--model=vae"], "--bpc (the probe's loss training the encoder) is for the AMR models"),
    (["--cls_probe_weight=2"], "--cls_probe_weight weighs the probe's loss in the generator's loss, which only --bpc"),
    (["--bpc", "--cls_probe_weight=-1"], "--cls_probe_weight must be >= 0"),
    (["--batches_per_epoch=-1"], "--batches_per_epoch and --beta must be >= 0"),
    (["--model=vae", "--arch=dsprite_gd", "--recon_loss=bce_sum", "--mixer=fm"],
     "--mixer fm: --model vae mixes nothing"),
    (["--model=vae", "--arch=dsprite_gd", "--recon_loss=l1"], "--model vae needs --recon_loss bce_sum"),
    (["--disable_mix", "--mixer=fm2"], "--disable_mix trains without mixes, so --mixer fm2 would never be used"),
    (["--amp=fp32"], "--amp: invalid choice"),
    (["--epoch=1"], "unrecognized arguments: --epoch=1"),  # no abbreviations
    (["--overwrite", "--resume=3"], "--overwrite starts a run anew"),
    (["--eps=0.5"], "--eps has no effect in this run (they only act with --cls > 0"),
    (["--cls_label_only"], "--cls_label_only has no effect in this run"),
    (["--sigma=0.1"], "--sigma (the reference's unfinished dropout on the code) is not implemented"),
    (["--load_nonstrict"], "--load_nonstrict: checkpoints load strictly"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_gives_one_clear_line(tmp_path, capsys, argv, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save = [] if any(a.startswith("--save_path") for a in argv) else ["--save_path", tmp_path / "out"]
    assert run(FAST[:-1] + ["--epochs=1"] + save + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    assert not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "out").exists()  # nothing written, not even the run folder


def test_missing_config_file_and_changed_config_are_refused(tmp_path, capsys):
    assert run(["load", "--config", tmp_path / "none.yaml"]) == 2
    assert "--config" in capsys.readouterr().err
    assert run(FAST + ["--epochs=1", "--save_path", tmp_path]) == 0
    capsys.readouterr()
    assert run(FAST + ["--epochs=2", "--lamb=3", "--name=digits_swapgan_mixup", "--save_path", tmp_path]) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "--lamb" in err and len(err.strip().splitlines()) == 1


@needs_shared_mnist
# mixup in the default selection; the other reference scripts (about 30 s each) under `pytest -m slow`
@pytest.mark.parametrize("script", [pytest.param(s, marks=() if s.stem == "mixup_lamb10" else pytest.mark.slow)
                                    for s in sorted((ROOT / "exps" / "mnist").glob("*.sh"))], ids=lambda p: p.stem)
def test_reference_mnist_command_lines_start_training(tmp_path, script):
    env = dict(os.environ, DATA_DIR=str(SHARED_DATA), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    smoke = ["--epochs=1", "--batches_per_epoch=3", "--subset_train=512", "--val_batch_size=256",
             f"--save_path={tmp_path}"]
    proc = subprocess.run(["bash", str(script)] + smoke, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (d,) = list(tmp_path.glob("s1/*/0"))
    table = rows(d / "results.csv")
    assert len(table) == 1 and float(table[0]["test_probe_acc"]) >= 0.0
    cfg = yaml.safe_load((d / "cfg.yaml").read_text())
    assert cfg["args"]["lamb"] == 10.0 and cfg["resolved"]["code_size"] == 32


def test_resume_from_a_checkpoint_path_in_another_folder(tmp_path, capsys):
    assert run(FAST + ["--epochs=1", "--save_path", tmp_path / "a"]) == 0
    ckpt = run_dir(tmp_path / "a") / "last.pt"
    assert run(FAST + ["--epochs=2", f"--resume={ckpt}", "--save_path", tmp_path / "b"]) == 0
    assert f"resumed from {ckpt} (epoch 1)" in capsys.readouterr().out
    assert [r["epoch"] for r in rows(run_dir(tmp_path / "b") / "results.csv")] == ["2"]


def test_flags_a_model_ignores_are_accepted_with_a_note(tmp_path, capsys):
    assert run(FAST + ["--epochs=1", "--batches_per_epoch=1", "--model=ae", "--gan_loss=mse", "--disable_g_recon",
                       "--save_path", tmp_path]) == 0
    err = capsys.readouterr().err
    assert "note: --gan_loss has no effect in --model ae (it has no discriminator); ignored" in err
    assert "note: --disable_g_recon has no effect in --model ae" in err


def test_a_finished_run_is_never_overwritten(tmp_path, capsys):
    """--resume none with other flags over a finished run is refused in one line and changes no byte; --overwrite
    moves the old run aside (nothing deleted) and starts anew; a free --trial_id is another run."""
    argv = FAST + ["--epochs=2", "--batches_per_epoch=2", "--save_path", tmp_path]
    assert run(argv) == 0
    d = run_dir(tmp_path)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    assert {"results.csv", "cfg.yaml", "last.pt", "ckpt_1.pt", "ckpt_2.pt"} <= set(before)
    capsys.readouterr()
    assert run(argv + ["--resume=none", "--lamb=5", "--name=digits_swapgan_mixup"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(d) in err and "--overwrite" in err and "--trial_id" in err
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before
    assert run(argv + ["--resume=none", "--lamb=5", "--name=digits_swapgan_mixup", "--overwrite"]) == 0
    (moved,) = d.parent.glob("0.replaced-*")
    assert {p.name: p.read_bytes() for p in moved.iterdir() if p.is_file()} == before
    assert yaml.safe_load((d / "cfg.yaml").read_text())["spec"]["model"]["recon_weight"] == 5.0
    assert run(argv + ["--lamb=5", "--trial_id=1"]) == 0 and (d.parent / "1" / "last.pt").is_file()


def test_run_files_take_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        assert run(FAST + ["--epochs=1", "--batches_per_epoch=1", "--save_path", tmp_path]) == 0
    finally:
        os.umask(old)
    for name in ("cfg.yaml", "results.csv", "last.pt"):
        assert (run_dir(tmp_path) / name).stat().st_mode & 0o777 == 0o644, name
