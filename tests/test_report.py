"""python -m evaluation.report on hand-made run folders with known answers: 0, 1 and many seeds, missing
files, a run killed mid-epoch, broken folders."""
import csv
import json

import pytest
import yaml
from PIL import Image

from evaluation import report

ARGS = {"model": "swapgan", "mixer": "mixup", "disable_mix": False, "dataset": "mnist", "subset_train": None,
        "epochs": 5}


def make_run(root, name, seed, test_accs, epochs=5, probe_epoch=None, probe_test=None, **args):
    """A run folder as training writes it; test_accs are the per-epoch online test accuracies."""
    d = root / f"s{seed}" / name / "0"
    d.mkdir(parents=True)
    k = {"threegan": 3}.get(args.get("model"), 2)
    cfg = {"args": {**ARGS, "seed": seed, "epochs": epochs, **args}, "resolved": {"k": k, "code_size": 32}}
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    if test_accs is not None:
        rows = ["epoch,train_recon,valid_probe_acc,test_probe_acc"]
        rows += [f"{e},0.5,{a - 0.05},{a}" for e, a in enumerate(test_accs, 1)]
        (d / "results.csv").write_text("\n".join(rows) + "\n")
    if probe_test is not None:
        probe = {"epoch": probe_epoch or len(test_accs), "trained": {"test_acc": probe_test, "valid_acc": probe_test},
                 "random_init": {"test_acc": 0.5, "valid_acc": 0.5}}
        (d / "probe.json").write_text(json.dumps(probe))
    return d


def read_csv(path):
    with open(path, newline="") as f:
        return {row["name"]: row for row in csv.DictReader(f)}


def test_many_one_and_zero_seeds_with_broken_and_unfinished_runs(tmp_path, capsys):
    for s in (1, 2, 3):  # online median of the last 3 epochs: 0.70 + s/100; offline 0.90 + s/100
        accs = [0.1, 0.5, 0.6 + s / 100, 0.7 + s / 100, 0.8 + s / 100]
        make_run(tmp_path, "mixup", s, accs, probe_test=0.9 + s / 100)
    killed = make_run(tmp_path, "mixup", 4, [0.1, 0.2])  # killed during epoch 3
    (killed / ".results.csv.abc.tmp").write_text("epoch,test")  # what an interrupted write leaves
    make_run(tmp_path, "baseline", 1, [0.3] * 5, probe_test=0.85, disable_mix=True)
    make_run(tmp_path, "gan3f", 1, None, model="threegan")  # killed in its first epoch
    make_run(tmp_path, "fm2", 1, [0.4] * 5, mixer="fm2")  # finished, probe never run
    make_run(tmp_path, "fm2", 2, [0.6] * 5, mixer="fm2", probe_epoch=3, probe_test=0.99)  # stale probe
    torn = make_run(tmp_path, "fm2", 3, [0.5] * 5, mixer="fm2")
    with open(torn / "results.csv", "a") as f:
        f.write("6,0.5\n")  # a torn row from an older, non-atomic writer
    (tmp_path / "s1" / "junk" / "0").mkdir(parents=True)  # a folder without cfg.yaml

    assert report.main([str(tmp_path), "--last", "3"]) == 0
    assert "10 runs (6 finished, 4 left out) in 5 groups" in capsys.readouterr().out
    table = read_csv(tmp_path / "report.csv")

    mixup = table["mixup"]
    assert mixup["n_runs"] == "3" and mixup["seeds"] == "1 2 3" and mixup["left_out"] == "1"
    assert float(mixup["online_test_mean"]) == pytest.approx(0.72)
    assert float(mixup["online_test_std"]) == pytest.approx(0.01)
    assert float(mixup["online_valid_mean"]) == pytest.approx(0.67)
    assert float(mixup["offline_test_mean"]) == pytest.approx(0.92)
    assert float(mixup["random_init_test_mean"]) == pytest.approx(0.5)

    baseline = table["baseline"]  # one seed: a value, no std
    assert baseline["n_runs"] == "1" and float(baseline["online_test_mean"]) == pytest.approx(0.3)
    assert baseline["online_test_std"] == "" and baseline["method"] == "baseline (no mixing)"

    assert table["gan3f"]["n_runs"] == "0" and table["gan3f"]["online_test_mean"] == ""  # zero seeds
    fm2 = table["fm2"]  # seeds 1 and 2 finished; neither has a usable probe.json
    assert fm2["n_runs"] == "2" and fm2["offline_test_n"] == "0" and fm2["method"] == "Bernoulli mixup, k=2"
    assert float(fm2["online_test_mean"]) == pytest.approx(0.5)

    md = (tmp_path / "report.md").read_text()
    assert "| mnist, bottleneck 32 | mixup, k=2 | `mixup` | 1 2 3 (n=3) | 5 | 72.00 ± 1.00 |" in md
    assert "| 30.00 |" in md and "| none (n=0) |" in md
    assert f"`{killed}`: unfinished, 2 of 5 epochs in results.csv" in md
    assert "gan3f/0`: unfinished, no completed epoch of 5 (no results.csv)" in md
    assert f"`{torn}`: broken, results.csv unreadable (line 7 is not a complete row)" in md
    assert "junk/0`: broken, no readable cfg.yaml" in md
    assert "s1/fm2/0`: no probe.json (run --mode=probe)" in md
    assert "s2/fm2/0`: probe.json is of epoch 3, the run reached 5" in md
    assert md.index("baseline (no mixing)") < md.index("mixup, k=2") < md.index("mixup, k=3")  # the paper's order
    with Image.open(tmp_path / "probe_accuracy.png") as im:
        assert im.format == "PNG" and im.size[1] >= 400


def test_no_runs_and_bad_arguments(tmp_path, capsys):
    out = tmp_path / "out"
    assert report.main([str(tmp_path), "--out", str(out)]) == 0
    assert "No run folders" in (out / "report.md").read_text()
    assert (out / "report.csv").read_text().startswith("setting,method,name,n_runs")
    assert len((out / "report.csv").read_text().splitlines()) == 1
    assert (out / "probe_accuracy.png").is_file()
    capsys.readouterr()
    assert report.main([str(tmp_path / "missing")]) == 2
    assert report.main([str(tmp_path), "--last", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "is not a folder" in err[0] and "--last must be >= 1" in err[1]
