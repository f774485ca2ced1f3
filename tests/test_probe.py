"""--mode probe / logreg / embedding on digits: the probe's numbers are what scikit-learn gives on the
saved embeddings, and a trained encoder beats the random one it started from."""
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from helpers import run

# Four epochs of a tiny model on the full digits training split (152 steps).
TRAIN = ["--dataset=digits", "--batch_size=32", "--ngf=4", "--ndf=4", "--lamb=10", "--beta=0", "--lr=2e-3",
         "--epochs=4", "--save_every=100", "--save_images_every=100", "--val_batch_size=500"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    save = tmp_path_factory.mktemp("probe")
    assert run(TRAIN + ["--save_path", save]) == 0
    return save, save / "s0" / "digits_swapgan_mixup" / "0"


def refit(npz, c):
    """scikit-learn directly on the saved codes: scaler on train, logistic regression with C."""
    scaler = StandardScaler().fit(npz["train_features"])
    clf = LogisticRegression(C=c, max_iter=1000).fit(scaler.transform(npz["train_features"]), npz["train_labels"])
    return {s: clf.score(scaler.transform(npz[f"{s}_features"]), npz[f"{s}_labels"]) for s in ("valid", "test")}


def test_probe_matches_an_independent_refit_and_beats_random_init(trained_run, capsys):
    save, d = trained_run
    capsys.readouterr()
    assert run(TRAIN + ["--save_path", save, "--mode=probe"]) == 0
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1 and line.startswith("probe (epoch 4): trained encoder valid")
    probe = json.loads((d / "probe" / "last_epoch4" / "probe.json").read_text())
    assert probe["epoch"] == 4 and probe["n"] == {"train": 1197, "valid": 300, "test": 300}
    assert probe["feature_dim"] == 32

    assert run(TRAIN + ["--save_path", save, "--mode=embedding"]) == 0
    npz = np.load(d / "embedding" / "last_epoch4" / "embedding.npz")
    assert npz["train_features"].shape == (1197, 32) and int(npz["epoch"]) == 4
    trained = probe["trained"]
    # the chosen C is the grid's best on valid, and its accuracies are what a refit gives
    by_c = {c: refit(npz, c) for c in probe["C_grid"]}
    best = max(probe["C_grid"], key=lambda c: (by_c[c]["valid"], -c))
    assert trained["C"] == best
    assert trained["valid_acc"] == pytest.approx(by_c[best]["valid"], abs=1e-12)
    assert trained["test_acc"] == pytest.approx(by_c[best]["test"], abs=1e-12)
    assert [g["valid_acc"] for g in trained["grid"]] == pytest.approx([by_c[c]["valid"] for c in probe["C_grid"]])

    random_init = probe["random_init"]
    assert 0.2 < random_init["test_acc"] < trained["test_acc"]  # random conv features are far above chance
    assert random_init["valid_acc"] < trained["valid_acc"]


def test_logreg_alias_and_train_examples(trained_run):
    save, d = trained_run
    assert run(TRAIN + ["--save_path", save, "--mode=logreg", "--mode_override=train_examples=100"]) == 0
    probe = json.loads((d / "probe" / "last_epoch4" / "probe.json").read_text())  # logreg writes as probe
    assert probe["n"]["train"] == 100 and probe["n"]["test"] == 300
    assert run(TRAIN + ["--save_path", save, "--mode=probe", "--mode_override=train_examples=-1"]) == 2


def test_probe_without_checkpoint_writes_nothing(tmp_path, capsys):
    assert run(TRAIN + ["--save_path", tmp_path / "out", "--mode=probe"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--mode probe: no checkpoint" in err
    assert not (tmp_path / "out").exists()


def test_random_init_fit_is_reused_from_an_earlier_probe_of_the_run(tmp_path):
    train = TRAIN + ["--epochs=2", "--save_every=1", "--save_path", tmp_path]
    assert run(train) == 0
    d = tmp_path / "s0" / "digits_swapgan_mixup" / "0"
    p1, p2 = d / "probe" / "ckpt_1_epoch1" / "probe.json", d / "probe" / "ckpt_2_epoch2" / "probe.json"
    assert run(train + ["--mode=probe", "--resume=1"]) == 0
    first = json.loads(p1.read_text())
    assert first["random_init_from"] is None
    assert run(train + ["--mode=probe", "--resume=2"]) == 0
    second = json.loads(p2.read_text())
    assert second["random_init_from"] == "probe/ckpt_1_epoch1/probe.json"
    assert second["random_init"] == first["random_init"] and second["trained"] != first["trained"]
    # what reuse saves is exactly what a fit would give: fitting again reproduces it
    p1.unlink()
    p2.unlink()
    assert run(train + ["--mode=probe", "--resume=2"]) == 0
    again = json.loads(p2.read_text())
    assert again["random_init_from"] is None and again["random_init"] == first["random_init"]
    # other examples: fitted anew
    assert run(train + ["--mode=probe", "--resume=1", "--mode_override=train_examples=100"]) == 0
    assert json.loads(p1.read_text())["random_init_from"] is None
