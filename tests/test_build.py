"""The run spec and the library factory (runs/spec.py, runs/build.py, runs/stored.py): every model family goes
flags -> spec -> cfg.yaml -> the same spec and the same state_dict keys; the spec covers every flag of the
command line; bad specs raise one-line ConfigErrors; a run written before specs were stored converts to the
spec today's flags give, and still loads, evaluates and resumes."""
import shutil
from pathlib import Path

import pytest
import yaml

import task_launcher
from amr_errors import ConfigError
from dsprites_npz import OFFICIAL_NAMES, write_npz
from helpers import ROOT, rows, run
from runs import load_run
from runs.build import build_model, complete, load_data
from runs.spec import RunSpec, differences, spec_from_flags, spec_to_dict, stored_flags
from runs.stored import read_spec, write_config

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"dataset": "digits", "subset_train": 64, "batch_size": 32, "ngf": 4, "ndf": 4, "cls_probe": "linear"}
FAMILIES = {"k2": {}, "k3_fm2": {"model": "threegan", "mixer": "fm2"}, "kgan4": {"model": "kgan", "k": 4},
            "baseline": {"disable_mix": True}, "acaif3": {"model": "acaif3"}, "acai": {"model": "acai"},
            "ae": {"model": "ae"}, "class_mixer": {"cls": 1.0}, "reference_nets": {"arch": "arch_acai_kyle"},
            "bpc": {"bpc": True, "cls_probe_weight": 0.5}}


@pytest.fixture(scope="module")
def dsprites(tmp_path_factory):
    path = tmp_path_factory.mktemp("dsprites") / "tiny.npz"
    write_npz(path, (1, 3, 2, 2, 2, 2), OFFICIAL_NAMES)
    return path


def built(flags):
    spec = spec_from_flags(flags)
    data = load_data(spec)
    spec = complete(spec, data)
    return spec, build_model(spec)


@pytest.mark.parametrize("family", sorted(FAMILIES) + ["vae"])
def test_every_family_round_trips_through_cfg_yaml(tmp_path, family, dsprites):
    vae = {"dataset": "dsprite", "data_dir": str(dsprites), "arch": "dsprite_gd", "model": "vae",
           "recon_loss": "bce_sum", "batch_size": 8, "ndf": 0, "subset_train": None}
    flags = {**TINY, **(vae if family == "vae" else FAMILIES[family])}
    spec, model = built(flags)
    assert isinstance(spec, RunSpec) and spec.data.n_channels == 1 and spec.data.n_classes in (3, 10)
    write_config(tmp_path, spec)
    again = read_spec(tmp_path / "cfg.yaml")
    assert again == spec and differences(again, spec) == []
    rebuilt = build_model(again)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    # the flags cfg.yaml records give the same spec back (what `load --config` relies on)
    saved = yaml.safe_load((tmp_path / "cfg.yaml").read_text())["args"]
    assert complete(spec_from_flags(saved), load_data(spec)) == spec


def test_the_spec_covers_every_flag_of_the_command_line():
    dests = {a.dest for a in task_launcher.build_parser()._actions if a.dest != "help"}
    assert dests == stored_flags() | set(task_launcher.INVOCATION_FLAGS)


@pytest.mark.parametrize("flags,message", [
    ({"model": "kgan"}, "--model kgan needs --k"),
    ({"lamb": 0}, "--lamb must be > 0"),
    ({"arch": "nope"}, "--arch: unknown 'nope'"),
    ({"model": "vae", "arch": "acai32", "recon_loss": "bce_sum"}, "--model vae needs a preset with a vector code"),
    ({"disable_mix": True, "mixer": "fm2"}, "--disable_mix trains without mixes"),
    ({"amp": "fp8"}, "--amp fp8"),
])
def test_bad_specs_raise_one_line(flags, message):
    with pytest.raises(ConfigError, match=message) as e:
        spec_from_flags(flags)
    assert "\n" not in str(e.value)


def test_specs_compare_on_what_makes_a_run():
    a = spec_from_flags({"lamb": 10, "epochs": 5, "save_path": "/a"})
    b = spec_from_flags({"lamb": 10, "epochs": 50, "save_path": "/b", "device": "cpu", "num_workers": 0})
    assert differences(a, b) == []  # control fields: how long, where, how fast
    assert differences(a, spec_from_flags({"lamb": 3})) == [("lamb", 10.0, 3.0)]


FIXTURE = ROOT / "tests" / "fixtures" / "run_8e8281f"  # a digits run written by the code of commit 8e8281f


@pytest.fixture
def old_run(tmp_path):
    """The fixture run copied to where its flags put it under a --save_path of this test."""
    d = tmp_path / "s3" / "digits_8e8281f" / "0"
    shutil.copytree(FIXTURE, d)
    return d


def test_a_run_from_before_specs_loads_evaluates_and_resumes(old_run, tmp_path, capsys):
    cfg = yaml.safe_load((old_run / "cfg.yaml").read_text())
    assert "spec" not in cfg  # written before specs were stored
    spec = read_spec(old_run / "cfg.yaml")  # through the one converter
    assert spec.model.recon_weight == 10.0 and spec.model.gen_width == 4 and spec.data.n_classes == 10
    r = load_run(old_run)
    assert r.epoch == 2 and load_run(old_run, checkpoint="ckpt_1").epoch == 1
    assert r.encode(r.data.valid.images[:3]).shape == (3, 2, 4, 4)
    again = ["load", "--config", old_run / "cfg.yaml", f"--save_path={tmp_path}"]
    assert run(again + ["--mode=interp_valid"]) == 0
    assert (old_run / "interp_valid" / "last_epoch2" / "grid.png").is_file()
    capsys.readouterr()
    assert run(again + ["--epochs=3"]) == 0
    assert f"resumed from {old_run / 'last.pt'} (epoch 2)" in capsys.readouterr().out
    assert [r["epoch"] for r in rows(old_run / "results.csv")] == ["1", "2", "3"]
    assert "spec" in yaml.safe_load((old_run / "cfg.yaml").read_text())  # now written with its spec
    assert spec_to_dict(read_spec(old_run / "cfg.yaml"))["model"] == spec_to_dict(spec)["model"]


def test_the_fixture_is_small():
    assert sum(p.stat().st_size for p in Path(FIXTURE).rglob("*") if p.is_file()) < 3 * 2 ** 20


LAYERS = ("architectures", "iterators", "models", "runs", "evaluation")  # each may import only those before it


def imported_top_names(path):
    """The top-level names a module imports (absolute imports; relative ones stay in its own package)."""
    import ast
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", [*LAYERS, "benchmarks"])
def test_packages_only_look_down(package):
    """architectures/ and iterators/ -> models/ -> runs/ -> evaluation/ -> task_launcher.py: no package imports
    one above it, and none imports the command line (benchmarks run it as a process or a script)."""
    above = set(LAYERS[LAYERS.index(package) + 1:]) if package in LAYERS else set()
    if package == "architectures":
        above.add("iterators")  # side by side at the bottom
    offending = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_top_names(path) & (above | {"task_launcher"})
        if bad:
            offending[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offending


def test_the_report_loads_no_torch():
    import subprocess
    import sys
    code = "import sys, evaluation.report; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
