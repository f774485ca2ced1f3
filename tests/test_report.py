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


# ---- paired statistics over checkpoints (the CPU study's report) ------------------------------
def add_checkpoint_probe(run, epoch, steps, test_acc, random_acc=0.84):
    probe = {"epoch": epoch, "steps": steps, "trained": {"test_acc": test_acc, "valid_acc": test_acc - 0.01},
             "random_init": {"test_acc": random_acc, "valid_acc": random_acc}}
    (run / f"probe_epoch{epoch}.json").write_text(json.dumps(probe))


def study_run(root, name, seed, accs, **args):
    """A finished 3-epoch run with an offline probe of each checkpoint (500 steps an epoch)."""
    run = make_run(root, name, seed, [0.1] * 3, epochs=3, probe_test=accs[-1], **args)
    with open(run / "results.csv") as f:  # add the valid reconstruction column
        lines = f.read().splitlines()
    lines = [lines[0] + ",valid_recon"] + [f"{line},{0.3 - 0.01 * i}" for i, line in enumerate(lines[1:], 1)]
    (run / "results.csv").write_text("\n".join(lines) + "\n")
    for epoch, acc in enumerate(accs, 1):
        add_checkpoint_probe(run, epoch, 500 * epoch, acc)
    return run


def paired_table(path):
    with open(path, newline="") as f:
        return {(r["name"], r["reference"], int(r["epoch"])): r for r in csv.DictReader(f)}


def test_paired_differences_known_answers(tmp_path, capsys):
    base = {1: [0.80, 0.82, 0.84], 2: [0.81, 0.83, 0.85], 3: [0.79, 0.80, 0.81]}
    # mixup: seed 1 worse, seed 2 equal, seed 3 better at the last checkpoint
    mixup = {1: [0.81, 0.82, 0.83], 2: [0.82, 0.84, 0.85], 3: [0.80, 0.82, 0.85]}
    # fm2: better on every seed by 3, 4 and 5 points at the end (SE 0.577 pp), better at the first too
    fm2 = {1: [0.81, 0.85, 0.87], 2: [0.82, 0.86, 0.89], 3: [0.80, 0.84, 0.86]}
    # k=3: worse on every seed everywhere
    k3 = {s: [a - 0.05 - 0.01 * s for a in accs] for s, accs in base.items()}
    for s in (1, 2, 3):
        study_run(tmp_path, "baseline", s, base[s], disable_mix=True)
        study_run(tmp_path, "mixup", s, mixup[s])
        study_run(tmp_path, "fm2", s, fm2[s], mixer="fm2")
        study_run(tmp_path, "gan3f", s, k3[s], model="threegan")
        study_run(tmp_path, "ae", s, base[s], model="ae")  # the control equals the baseline on every seed
    assert report.main([str(tmp_path), "--last", "3"]) == 0
    capsys.readouterr()
    rows = paired_table(tmp_path / "paired.csv")

    last = rows[("mixup", "baseline", 3)]
    assert last["steps"] == "1500" and last["n"] == "3"
    d = [-0.01, 0.0, 0.04]
    mean = sum(d) / 3
    se = (sum((x - mean) ** 2 for x in d) / 2) ** 0.5 / 3 ** 0.5  # by hand: sample sd / sqrt(n)
    assert float(last["mean_diff"]) == pytest.approx(mean) and float(last["se"]) == pytest.approx(se)
    assert (last["seeds_positive"], last["seeds_zero"], last["seeds_negative"]) == ("1", "1", "1")
    assert last["decision"] == "no decision"
    assert rows[("mixup", "baseline", 1)]["decision"] == ""  # only the last checkpoint decides

    fm = rows[("fm2", "baseline", 3)]
    assert float(fm["mean_diff"]) == pytest.approx(0.04) and float(fm["se"]) == pytest.approx(0.01 / 3 ** 0.5)
    assert fm["decision"] == "beats"
    assert rows[("gan3f", "baseline", 3)]["decision"] == "worse"
    # against the plain autoencoder control too; the control itself is paired with the baseline only
    assert rows[("fm2", "ae", 3)]["decision"] == "beats"
    ae = rows[("ae", "baseline", 3)]
    assert float(ae["mean_diff"]) == 0 and ae["seeds_zero"] == "3" and ae["decision"] == "no decision"
    assert ("baseline", "ae", 3) not in rows

    text = (tmp_path / "report.md").read_text()
    assert "## Offline probe at each checkpoint" in text and "## Paired differences to the baseline" in text
    assert ("| mnist, bottleneck 32 | Bernoulli mixup, k=2 | `baseline` | 3 | 1500 | 3 | +4.00 | 0.58 | 3 / 0 / 0 "
            "| **beats** |") in text
    # the checkpoint table: offline mean ± std, random-init floor and valid reconstruction of that epoch
    assert "| `baseline` | 3 | 1500 | 3 | 83.33 ± 2.08 | 84.00 ± 0.00 | 0.2700 ± 0.0000 |" in text
    png = Image.open(tmp_path / "offline_accuracy.png")
    assert png.size == (650, 400)


def test_first_checkpoint_of_the_other_sign_blocks_a_decision(tmp_path, capsys):
    for s in (1, 2, 3):
        study_run(tmp_path, "baseline", s, [0.80, 0.80, 0.80], disable_mix=True)
        study_run(tmp_path, "mixup", s, [0.79, 0.82, 0.83 + s / 1000])  # worse first, clearly better last
    assert report.main([str(tmp_path)]) == 0
    capsys.readouterr()
    row = paired_table(tmp_path / "paired.csv")[("mixup", "baseline", 3)]
    assert row["seeds_positive"] == "3" and float(row["mean_diff"]) > 2 * float(row["se"])
    assert row["decision"] == "no decision"


def test_no_checkpoint_probes_no_paired_outputs(tmp_path, capsys):
    make_run(tmp_path, "mixup", 1, [0.5] * 5, probe_test=0.9)
    assert report.main([str(tmp_path)]) == 0
    capsys.readouterr()
    assert not (tmp_path / "paired.csv").exists() and not (tmp_path / "offline_accuracy.png").exists()
    assert "Paired" not in (tmp_path / "report.md").read_text()


def test_no_decision_with_fewer_seeds_than_the_study_fixed(tmp_path, capsys):
    for s in (1, 2):  # clearly better on both seeds, but the study fixed three
        study_run(tmp_path, "baseline", s, [0.80, 0.80, 0.80], disable_mix=True)
        study_run(tmp_path, "mixup", s, [0.85, 0.86, 0.87 + s / 1000])
    assert report.main([str(tmp_path)]) == 0
    row = paired_table(tmp_path / "paired.csv")[("mixup", "baseline", 3)]
    assert row["n"] == "2" and row["seeds_positive"] == "2" and row["decision"] == "no decision"
    assert report.main([str(tmp_path), "--min_seeds", "2"]) == 0
    capsys.readouterr()
    assert paired_table(tmp_path / "paired.csv")[("mixup", "baseline", 3)]["decision"] == "beats"


# ---- the lines benchmark (evaluation/lines_table.py) -------------------------------------------
def lines_run(root, name, seed, distance, smooth, **args):
    run = make_run(root, name, seed, [0.1, 0.1], epochs=2, dataset="lines", **args)
    scores = {"model": {"mean_distance": distance, "smoothness": smooth},
              "pixel": {"mean_distance": 0.0068, "smoothness": 0.88},
              "ideal": {"mean_distance": 0.0, "smoothness": 0.0}}
    (run / "lines_eval.json").write_text(json.dumps({**scores, "n_interpolations": 256, "n_steps": 16, "epoch": 2,
                                                      "checkpoint": str(run / "last.pt")}))
    return run


def test_lines_table_known_answers(tmp_path, capsys):
    for seed, (db, dm) in enumerate([(0.004, 0.003), (0.005, 0.005), (0.006, 0.0045)], 1):
        lines_run(tmp_path, "baseline", seed, db, 0.2, disable_mix=True)
        lines_run(tmp_path, "mixup", seed, dm, None if seed == 3 else 0.1)  # seed 3: no smoothness (all NaN)
        # k=3: lower distance on every seed (by 1, 2, 3 ×10⁻³: mean 2, SE 0.577) but higher smoothness on every
        # seed (by 0.1, 0.2, 0.3)
        lines_run(tmp_path, "gan3f", seed, db - 0.001 * seed, 0.2 + 0.1 * seed, model="threegan")
    stale = lines_run(tmp_path, "fm2", 1, 0.001, 0.1, mixer="fm2")
    (stale / "lines_eval.json").write_text((stale / "lines_eval.json").read_text().replace('"epoch": 2', '"epoch": 1'))
    assert report.main([str(tmp_path), "--last", "1"]) == 0
    capsys.readouterr()
    with open(tmp_path / "lines.csv", newline="") as f:
        rows = {r["method"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"pixel-space interpolation", "ideal (angle) interpolation", "baseline (no mixing)",
                         "mixup, k=2", "mixup, k=3"}  # the fm2 run's evaluation is of an older epoch: left out
    m = rows["mixup, k=2"]
    d = [-0.001, 0.0, -0.0015]
    mean = sum(d) / 3
    se = (sum((x - mean) ** 2 for x in d) / 2) ** 0.5 / 3 ** 0.5
    assert float(m["mean_distance_paired_mean"]) == pytest.approx(mean)
    assert float(m["mean_distance_paired_se"]) == pytest.approx(se)
    assert float(m["smoothness_mean"]) == pytest.approx(0.1) and m["smoothness_paired_n"] == "2"
    assert float(rows["pixel-space interpolation"]["mean_distance_mean"]) == pytest.approx(0.0068)
    # lower is better; a zero seed (mixup's distance) or two seeds (its smoothness) decide nothing
    assert (m["mean_distance_decision"], m["smoothness_decision"]) == ("no decision", "no decision")
    k3 = rows["mixup, k=3"]
    assert float(k3["mean_distance_paired_mean"]) == pytest.approx(-0.002)
    assert float(k3["mean_distance_paired_se"]) == pytest.approx(0.001 / 3 ** 0.5)
    assert (k3["mean_distance_decision"], k3["smoothness_decision"]) == ("beats", "worse")
    assert rows["baseline (no mixing)"]["mean_distance_decision"] == ""
    text = (tmp_path / "report.md").read_text()
    assert ("| mixup, k=2 | `mixup` | 1 2 3 | 4.167 ± 1.041 | 0.100 ± 0.000 | -0.833 ± 0.441 (0 / 1 / 2): no decision "
            "| -0.100 ± 0.000 (0 / 0 / 2): no decision |") in text
    assert "-2.000 ± 0.577 (0 / 0 / 3): beats | +0.200 ± 0.058 (3 / 0 / 0): worse |" in text
    assert "lines_eval.json is of epoch 1, the run reached 2" in text
    assert "no probe.json" not in text  # a lines run is evaluated by --mode lines_eval; no probe is asked for


def test_lines_run_without_its_evaluation_is_listed(tmp_path, capsys):
    lines_run(tmp_path, "baseline", 1, 0.004, 0.2, disable_mix=True)
    (lines_run(tmp_path, "mixup", 1, 0.003, 0.1) / "lines_eval.json").unlink()
    assert report.main([str(tmp_path), "--last", "1"]) == 0
    capsys.readouterr()
    text = (tmp_path / "report.md").read_text()
    assert "s1/mixup/0`: no lines_eval.json (run --mode=lines_eval)" in text
    assert "no probe.json" not in text


def test_runs_without_any_probe_get_no_probe_table_and_no_notes_asking_for_one(tmp_path, capsys):
    """Table 4's runs are scored by --mode disentangle alone: no table of dashes, no 'no probe.json' per run."""
    for seed in (1, 2):
        d = make_run(tmp_path, "baseline", seed, None, epochs=2, dataset="dsprite", disable_mix=True)
        (d / "results.csv").write_text("epoch,train_recon\n1,0.5\n2,0.4\n")
    assert report.main([str(tmp_path), "--last", "1"]) == 0
    capsys.readouterr()
    text = (tmp_path / "report.md").read_text()
    assert text.startswith(f"# Report: {tmp_path}\n") and "probe table is left out" in text
    assert "| online test |" not in text and "no online probe" not in text and "no probe.json" not in text
    make_run(tmp_path, "mixup", 1, [0.5, 0.6], epochs=2, dataset="dsprite")  # one run with a probe: the table is back
    assert report.main([str(tmp_path), "--last", "1"]) == 0
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# Probe accuracy") and "s1/baseline/0`: no online probe in results.csv" in text


def test_decide_lower_is_better_and_last_checkpoint_only():
    from evaluation.paired import decide, paired
    lower = paired({1: 0.10, 2: 0.20, 3: 0.30}, {1: 0.20, 2: 0.40, 3: 0.60})  # d = -0.1, -0.2, -0.3
    assert decide(None, lower, lower_is_better=True) == "beats"
    assert decide(None, lower) == "worse"  # the same numbers, higher is better
    assert decide(lower, lower, lower_is_better=True) == "beats"
    higher_first = paired({1: 0.3, 2: 0.3, 3: 0.3}, {1: 0.2, 2: 0.2, 3: 0.2})
    assert decide(higher_first, lower, lower_is_better=True) == "no decision"  # the first checkpoint disagrees
    assert decide(None, paired({1: 0.1, 2: 0.2}, {1: 0.2, 2: 0.4}), lower_is_better=True) == "no decision"


# ---- realism of decoded mixes (evaluation/realism_table.py) -------------------------------------
def realism_run(root, name, seed, fds, kids, **args):
    """A 3-epoch study run with realism.json of each checkpoint (mixes' FD and KID per epoch)."""
    run = study_run(root, name, seed, [0.9, 0.91, 0.92], **args)
    for epoch, (fd, kid) in enumerate(zip(fds, kids), 1):
        folder = run / "realism" / f"ckpt_{epoch}_epoch{epoch}"
        folder.mkdir(parents=True)
        scores = {part: {"fd": value, "kid": value / 100, "kid_se": 0.001, "confidence": 0.9}
                  for part, value in (("reconstructions", 5.0), ("pixel_mixes", 8.0), ("real", 0.5))}
        scores["mixes"] = {"fd": fd, "kid": kid, "kid_se": 0.001, "confidence": 0.8}
        (folder / "realism.json").write_text(json.dumps({**scores, "n": 5000, "epoch": epoch, "steps": 500 * epoch,
                                                         "k": 2, "checkpoint": f"ckpt_{epoch}.pt"}))
    return run


def test_realism_table_known_answers(tmp_path, capsys):
    for seed in (1, 2, 3):
        realism_run(tmp_path, "baseline", seed, [10.0, 9.0, 8.0], [0.10, 0.09, 0.08], disable_mix=True)
        # mixup: FD lower by 1, 2, 3 at the last checkpoint (mean -2, SE 1/sqrt(3)), and at the first;
        # KID higher on every seed at the last checkpoint but lower at the first
        realism_run(tmp_path, "mixup", seed, [9.0, 8.0, 8.0 - seed], [0.09, 0.10, 0.08 + 0.01 * seed])
        # fm2: FD higher everywhere by 2, 3, 4 (less real); KID lower by 0.01 on seeds 1-2, equal on seed 3
        realism_run(tmp_path, "fm2", seed, [12.0, 11.0, 9.0 + seed], [0.10, 0.09, 0.08 - 0.01 * (seed < 3)],
                    mixer="fm2")
    assert report.main([str(tmp_path), "--last", "1"]) == 0
    capsys.readouterr()
    with open(tmp_path / "realism.csv", newline="") as f:
        rows = {(r["name"], r["reference"], int(r["epoch"])): r for r in csv.DictReader(f)}
    m = rows[("mixup", "baseline", 3)]
    assert float(m["fd_mean_diff"]) == pytest.approx(-2.0) and float(m["fd_se"]) == pytest.approx(3 ** -0.5)
    assert m["fd_seeds"] == "0 / 0 / 3" and m["fd_decision"] == "beats"  # lower is better: more real
    assert float(m["kid_mean_diff"]) == pytest.approx(0.02) and m["kid_decision"] == "no decision"  # first < 0
    f = rows[("fm2", "baseline", 3)]
    assert float(f["fd_mean_diff"]) == pytest.approx(3.0) and f["fd_decision"] == "worse"
    assert f["kid_seeds"] == "0 / 1 / 2" and f["kid_decision"] == "no decision"
    assert rows[("mixup", "baseline", 1)]["fd_decision"] == ""  # only the last checkpoint decides
    text = (tmp_path / "report.md").read_text()
    assert "| mixup, k=2 | `baseline` | 3 | -2.000 ± 0.577 (0 / 0 / 3): **more real** |" in text
    assert "| +3.000 ± 0.577 (3 / 0 / 0): **less real** |" in text
    assert "| mnist, bottleneck 32 | baseline (no mixing) | `baseline` | 3 | 1500 | 3 | 8.000 ± 0.000 |" in text
