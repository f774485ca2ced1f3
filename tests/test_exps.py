"""Every exps/ script in smoke form (SMOKE=1) on tiny generated files in the official formats, and the
driver end to end (methods x seeds, probes, report), so no script rots."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import task_launcher

from helpers import ROOT

SCRIPTS = sorted((ROOT / "exps").glob("table[123]/*.sh"))  # the paper's Tables 1-3 (table4: test_disentanglement)
# Each table's settings, given to its scripts in turn so that every branch of exps/common.sh runs:
# (environment, run-name prefix, dataset, bottleneck, lamb)
SETTINGS = {
    "table1": [({"DATASET": "mnist"}, "mnist32", "mnist", 32, 10.0),
               ({"DATASET": "kmnist"}, "kmnist32", "kmnist", 32, 10.0),
               ({"DATASET": "svhn"}, "svhn32", "svhn", 32, 10.0)],
    "table2": [({"SUBSET": s}, f"svhn32_{s}", "svhn", 32, 10.0) for s in ("1k", "5k", "10k", "20k")],
    "table3": [({"DATASET": d, "BOTTLENECK": str(b)}, f"{d}{b}", d, b, 50.0 if d == "cifar10" else 10.0)
               for d in ("svhn", "cifar10") for b in (256, 1024)],
}
METHOD_ARGS = {"baseline": {"disable_mix": True, "model": "swapgan"}, "mixup": {"mixer": "mixup", "model": "swapgan"},
               "mixupfm2": {"mixer": "fm2", "model": "swapgan"}, "gan3f": {"model": "threegan"},
               "acaif3": {"model": "acaif3"}}


def bash(args, data_dir, results, path_first=None, **env):
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = {**os.environ, "SMOKE": "1", "DATA_DIR": str(data_dir), "RESULTS_DIR": str(results),
           "PATH": f"{path_first}:{path}" if path_first else path, **env}
    return subprocess.run(["bash"] + [str(a) for a in args], env=env, capture_output=True, text=True)


def python_argv(script, tmp_path, data_dir, **env):
    """The arguments a script passes to python (the active environment's python3), recorded by a stub put
    first on PATH."""
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    (stub / "python3").write_text(f"#!/bin/bash\nprintf '%s\\0' \"$@\" > {tmp_path / 'argv'}\n")
    (stub / "python3").chmod(0o755)
    proc = bash([script], data_dir, tmp_path, path_first=stub, **env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return (tmp_path / "argv").read_text().split("\0")[:-1]


def test_every_table_has_the_five_methods():
    for table in SETTINGS:
        assert sorted(p.stem for p in SCRIPTS if p.parent.name == table) == sorted(METHOD_ARGS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_script_smoke_run(tmp_path, data_dir, script, monkeypatch):
    """The script runs for real, up to the python command line it builds; that command line then runs
    in this process (a python start costs more than the smoke run itself)."""
    table, method = script.parent.name, script.stem
    env, prefix, dataset, code_size, lamb = SETTINGS[table][sorted(METHOD_ARGS).index(method) % len(SETTINGS[table])]
    argv = python_argv(script, tmp_path, data_dir, SEED="7", **env)
    assert argv[:2] == ["task_launcher.py", "run"]
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    assert task_launcher.main(argv[1:]) == 0

    run_dir = tmp_path / "s7" / f"{prefix}_{method}" / "0"
    with open(run_dir / "results.csv", newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1"]
    cfg = yaml.safe_load((run_dir / "cfg.yaml").read_text())
    args = cfg["args"]
    assert (args["dataset"], args["lamb"], cfg["resolved"]["code_size"]) == (dataset, lamb, code_size)
    assert (args["batch_size"], args["batches_per_epoch"], args["lr"], args["beta1"], args["beta2"]) == \
        (16, 2, 1e-4, 0.5, 0.99)
    assert args["weight_decay"] == 1e-5 and args["seed"] == 7
    assert {k: args[k] for k in METHOD_ARGS[method]} == METHOD_ARGS[method]


@pytest.mark.parametrize("script", sorted((ROOT / "exps" / "mnist").glob("*.sh")), ids=lambda p: p.stem)
def test_reference_mnist_script_names_run_table1(tmp_path, data_dir, script):
    method = script.stem.split("_lamb")[0]
    assert python_argv(script, tmp_path, data_dir) == python_argv(ROOT / "exps" / "table1" / f"{method}.sh", tmp_path,
                                                                 data_dir, DATASET="mnist")


def test_driver_runs_seeds_probes_and_report(tmp_path, data_dir):
    proc = bash([ROOT / "exps" / "run_table.sh", "table1", "--val_batch_size=50"], data_dir, tmp_path,
                SEEDS="1 2", METHODS="mixup", DATASETS="mnist nope", LAST="5", JOBS="2")
    assert proc.returncode == 1  # the bad setting fails, the rest still runs and is reported
    assert "DATASET=nope: Table 1 uses mnist, kmnist or svhn" in proc.stderr
    with open(tmp_path / "report.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["name"], row["n_runs"], row["seeds"], row["offline_test_n"]) == ("mnist32_mixup", "2", "1 2", "2")
    assert (tmp_path / "report.md").is_file() and (tmp_path / "probe_accuracy.png").is_file()
    assert bash([ROOT / "exps" / "run_table.sh", "table9"], data_dir, tmp_path).returncode == 2


STUDY_METHODS = {"baseline": {"disable_mix": True, "model": "swapgan"}, "mixup": {"mixer": "mixup", "model": "swapgan"},
                 "mixupfm2": {"mixer": "fm2", "model": "swapgan"}, "gan3f": {"model": "threegan"},
                 "acaif3": {"model": "acaif3"}, "ae": {"model": "ae"}}


@pytest.mark.parametrize("method", sorted(STUDY_METHODS))
def test_cpu_study_scripts_use_the_studys_settings(tmp_path, data_dir, method):
    argv = python_argv(ROOT / "exps" / "cpu_study" / f"{method}.sh", tmp_path, data_dir, SEED="2")
    args = vars(task_launcher.parse_args(argv[1:]))
    assert {k: args[k] for k in STUDY_METHODS[method]} == STUDY_METHODS[method]
    assert (args["dataset"], args["arch"], args["lamb"], args["lr"], args["update_g_every"]) == \
        ("mnist", "architectures/arch_acai_kyle.py", 10.0, 1e-3, 1)
    assert (args["beta1"], args["beta2"], args["weight_decay"], args["seed"]) == (0.5, 0.99, 1e-5, 2)
    assert args["save_every"] == 1 and args["name"] == f"mnist32_{method}"
    # without SMOKE: 3 epochs of 500 batches of 64, a checkpoint after each
    full = python_argv(ROOT / "exps" / "cpu_study" / f"{method}.sh", tmp_path, data_dir, SMOKE="")
    full = vars(task_launcher.parse_args(full[1:]))
    assert (full["epochs"], full["batches_per_epoch"], full["batch_size"], full["save_every"]) == (3, 500, 64, 1)


def test_driver_probes_every_checkpoint_of_the_cpu_study(tmp_path, data_dir):
    proc = bash([ROOT / "exps" / "run_table.sh", "cpu_study", "--epochs=2", "--val_batch_size=50"], data_dir,
                tmp_path, SEEDS="1 2", METHODS="baseline mixup ae", LAST="2", JOBS="2", PROBE_EPOCHS="1 2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for seed in (1, 2):
        for method in ("baseline", "mixup", "ae"):
            run = tmp_path / f"s{seed}" / f"mnist32_{method}" / "0"
            assert sorted(str(p.relative_to(run)) for p in run.glob("probe/*/probe.json")) == [
                "probe/ckpt_1_epoch1/probe.json", "probe/ckpt_2_epoch2/probe.json"]
    with open(tmp_path / "paired.csv", newline="") as f:
        pairs = list(csv.DictReader(f))
    assert {(r["name"], r["reference"], r["epoch"]) for r in pairs} == {
        ("mnist32_mixup", "mnist32_baseline", "1"), ("mnist32_mixup", "mnist32_baseline", "2"),
        ("mnist32_ae", "mnist32_baseline", "1"), ("mnist32_ae", "mnist32_baseline", "2"),
        ("mnist32_mixup", "mnist32_ae", "1"), ("mnist32_mixup", "mnist32_ae", "2")}
    assert all(r["n"] == "2" and r["steps"] in ("2", "4") for r in pairs)
    assert (tmp_path / "offline_accuracy.png").is_file()


@pytest.mark.parametrize("latent", ["2", "16"])
def test_acai_with_acais_own_settings(tmp_path, data_dir, monkeypatch, latent):
    argv = python_argv(ROOT / "exps" / "acai" / "mnist.sh", tmp_path, data_dir, LATENT=latent)
    args = vars(task_launcher.parse_args(argv[1:]))
    assert (args["model"], args["arch"], args["recon_loss"], args["lamb"], args["update_g_every"]) == \
        ("acai", "acai32_plain", "l2", 1.0, 1)
    assert (args["lr"], args["beta1"], args["beta2"], args["weight_decay"], args["batch_size"], args["epochs"]) == \
        (1e-4, 0.9, 0.999, 0.0, 64, 336)
    assert args["latent_dim"] == int(latent) and args["cls_probe"] == "linear"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    smoke = ["--epochs=1", "--batches_per_epoch=2", "--subset_train=32", "--batch_size=16", "--val_batch_size=500",
             f"--save_path={tmp_path}"]
    assert task_launcher.main(argv[1:] + smoke) == 0
    cfg = yaml.safe_load((tmp_path / "s1" / f"mnist{16 * int(latent)}_acai_published" / "0" / "cfg.yaml").read_text())
    assert cfg["resolved"]["code_size"] == 16 * int(latent) and cfg["resolved"]["objective"] == "acai"


LINES_METHODS = {**{k: v for k, v in STUDY_METHODS.items() if k != "ae"}, "acai": {"model": "acai"}}


@pytest.mark.parametrize("method", sorted(LINES_METHODS))
def test_lines_scripts_use_the_tables_settings(tmp_path, data_dir, method):
    full = python_argv(ROOT / "exps" / "lines" / f"{method}.sh", tmp_path, data_dir, SMOKE="", SEED="3")
    args = vars(task_launcher.parse_args(full[1:]))
    assert {k: args[k] for k in LINES_METHODS[method]} == LINES_METHODS[method]
    assert (args["dataset"], args["arch"], args["lamb"], args["lr"], args["update_g_every"], args["seed"]) == \
        ("lines", "acai_lines", 10.0, 1e-3, 1, 3)
    assert (args["epochs"], args["batches_per_epoch"], args["batch_size"], args["lines_eval_every"]) == (3, 500, 64, 1)
    assert args["recon_loss"] == "l2"
    assert (args["ngf"], args["ndf"]) == (8, 8)
    assert args["name"] == f"lines_{method}"


def test_driver_runs_the_lines_table_and_reports_it(tmp_path, data_dir):
    proc = bash([ROOT / "exps" / "run_table.sh", "lines", "--val_batch_size=200"], data_dir, tmp_path,
                SEEDS="1", METHODS="baseline mixupfm2", LAST="1", JOBS="2",
                PROBE_OVERRIDE="n_interpolations=20,n_steps=8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for method in ("baseline", "mixupfm2"):
        run = tmp_path / "s1" / f"lines_{method}" / "0"
        assert (run / "lines_eval" / "last_epoch1" / "lines_eval.json").is_file() and not (run / "probe").exists()
        assert (run / "lines_eval" / "last_epoch1" / "interpolations.npz").is_file()
    with open(tmp_path / "lines.csv", newline="") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"pixel-space interpolation", "ideal (angle) interpolation", "baseline (no mixing)",
                         "Bernoulli mixup, k=2"}
    assert rows["Bernoulli mixup, k=2"]["mean_distance_paired_n"] == "1"
    assert "## Interpolation quality on lines" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "lines_interpolations.png").is_file()
