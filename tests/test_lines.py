"""ACAI's lines benchmark: the generated dataset, the two scores on cases with known answers, and
--mode lines_eval / --lines_eval_every on a tiny run."""
import csv
import json
import math

import numpy as np
import pytest
import torch

from conftest import run
from evaluation import lines_benchmark as L
from iterators import load_dataset, to_float
from iterators.lines import SPLIT_SIZES, angle_labels, draw_lines, split_angles


# ---------------------------------------------------------------- the data

def test_lines_along_the_axes_are_exact():
    right, up = draw_lines([0.0, math.pi / 2])
    on = torch.full((32, 32), -1.0)
    on[15:17, 16:31] = 1  # 2 px wide, from the centre to 1 px short of the right border
    assert torch.allclose(right, on, atol=1e-5)
    on = torch.full((32, 32), -1.0)
    on[1:16, 15:17] = 1  # counter-clockwise: pi / 2 points up (row 0 is the top)
    assert torch.allclose(up, on, atol=1e-5)


def test_lines_are_anti_aliased_with_about_the_band_area_at_any_angle():
    images = draw_lines(np.linspace(0, 2 * np.pi, 50, endpoint=False))
    assert images.min() >= -1 and images.max() <= 1
    grey = ((images > -1) & (images < 1)).sum((1, 2))
    assert (grey[[i for i in range(50) if i % 25]] > 0).all()  # off the axes there are partial pixels
    area = ((images + 1) / 2).sum((1, 2))  # 2 px x 15 px = 30
    assert ((area - 30).abs() < 1.5).all()


def test_labels_are_tenths_of_the_circle():
    assert angle_labels([0.0, 0.62, 0.63, math.pi, 2 * math.pi - 1e-9]).tolist() == [0, 0, 1, 5, 9]


def test_the_dataset_is_fixed_generated_and_labelled():
    a, b = load_dataset("lines", "/nonexistent"), load_dataset("lines", "/nonexistent")
    for split, n in SPLIT_SIZES.items():
        sa, sb = getattr(a, split), getattr(b, split)
        assert len(sa) == n and sa.images.shape[1:] == (1, 32, 32) and sa.images.dtype == torch.uint8
        assert torch.equal(sa.images, sb.images) and torch.equal(sa.labels, sb.labels)
        assert torch.equal(sa.labels, torch.from_numpy(angle_labels(split_angles(split))))
    assert a.n_classes == 10 and sorted(torch.unique(a.train.labels).tolist()) == list(range(10))
    sa.images[0] = 0  # a caller's edit does not reach the next load
    assert not torch.equal(load_dataset("lines", "/nonexistent").test.images[0], sa.images[0])
    x = to_float(a.valid.images[:4])[:, 0]
    assert torch.allclose(x, draw_lines(split_angles("valid")[:4]), atol=1 / 255)
    assert not np.intersect1d(split_angles("train"), split_angles("valid")).size


# ---------------------------------------------------------------- the scores

def test_true_lines_are_their_own_nearest_line():
    angles = np.array([0.0, 1.0, 3.0, 6.0]) * 2 * np.pi / L.N_TRUE_LINES * 1000
    d, found = L.closest_line(draw_lines(angles))
    assert np.all(d < 1e-5) and np.allclose(found, angles)


def test_mean_distance_by_hand():
    right, left = draw_lines([0.0, math.pi])  # each 30 pixels at +1, 994 at -1 (exact on the axes)
    both = torch.maximum(right, left)  # 60 at +1, 964 at -1
    # against either line: (30 agree at +1) - (30 disagree) + (964 agree at -1), over 32 x 32
    d, found = L.closest_line(torch.stack([both, 2.5 * right]))
    assert d[0] == pytest.approx(1 - 964 / 1024, abs=1e-6) and min(found[0], abs(found[0] - math.pi)) < 1e-9
    assert d[1] < 1e-6 and found[1] == 0  # cosine ignores scale
    # one interpolation [right, both, right]: the mean over its three frames
    scores = L.line_scores(torch.stack([right, both, right])[None])
    assert scores["mean_distance"] == pytest.approx((60 / 1024) / 3, abs=1e-6)


def test_smoothness_by_hand():
    s = L.smoothness([[0, 1, 2, 3],          # even pace: 1/3 - 1/3
                      [0, 2, 2.5, 3],        # largest step 2 of 3: 2/3 - 1/3
                      [6.2, 0.1, 0.3, 0.4],  # crosses 2 pi: unwrapped steps .183, .2, .1 of .483
                      [1, 2, 0.5, 1]])       # same angle at both ends: undefined
    assert s[0] == pytest.approx(0) and s[1] == pytest.approx(1 / 3)
    total = 0.4 + 2 * np.pi - 6.2
    assert s[2] == pytest.approx((0.3 - 0.1) / total - 1 / 3)
    assert np.isnan(s[3])


def test_mean_smoothness_counts_undefined_as_zero_as_acai():
    assert L.mean_smoothness([0.1, float("nan"), 0.3]) == pytest.approx(0.4 / 3)
    assert math.isnan(L.mean_smoothness([float("nan")] * 2))


def test_ideal_interpolation_scores_zero_and_pixel_blending_scores_worse():
    a = split_angles("valid")
    ideal = L.line_scores(L.ideal_interpolations(a[:64], a[64:128], 16))
    assert ideal["mean_distance"] < 1e-5 and abs(ideal["smoothness"]) < 0.01
    x = draw_lines(a[:128])
    pixel = L.line_scores(L.pixel_interpolations(x[:64], x[64:], 16))
    assert pixel["mean_distance"] > 100 * max(ideal["mean_distance"], 1e-6)
    assert pixel["smoothness"] > 0.5  # the nearest true line jumps from one end to the other
    same = L.line_scores(L.pixel_interpolations(x[:3], x[:3], 5))  # identical ends
    assert same["n_undefined_smoothness"] == 3 and math.isnan(same["smoothness"])


def test_ideal_interpolation_takes_the_shorter_arc():
    frames = L.ideal_interpolations([6.0], [0.3], 5)[0]
    _, found = L.closest_line(frames)
    turn = 0.3 + 2 * np.pi - 6.0
    assert np.allclose(np.unwrap(found), 6.0 + np.linspace(0, turn, 5), atol=1e-3)


# ---------------------------------------------------------------- the mode

TINY = ["--dataset=lines", "--arch=acai_lines", "--ngf=4", "--ndf=4", "--subset_train=128", "--batch_size=32",
        "--epochs=1", "--batches_per_epoch=2", "--save_every=1", "--save_images_every=100", "--val_batch_size=500"]


@pytest.fixture(scope="module")
def lines_run(tmp_path_factory):
    save = tmp_path_factory.mktemp("lines")
    assert run(TINY + ["--save_path", save, "--mixer=fm2", "--lines_eval_every=1"]) == 0
    return save, save / "s0" / "lines_swapgan_fm2" / "0"


def test_lines_eval_every_adds_the_two_numbers_to_results(lines_run):
    _, d = lines_run
    row = next(csv.DictReader(open(d / "results.csv")))
    assert 0 <= float(row["lines_mean_distance"]) <= 1 and "lines_smoothness" in row


def test_lines_eval_writes_scores_interpolations_and_grid(lines_run):
    save, d = lines_run
    argv = TINY + ["--save_path", save, "--mixer=fm2", "--mode=lines_eval", "--resume=1",
                   "--mode_override=n_interpolations=12,n_steps=6,grid_rows=3"]
    assert run(argv) == 0
    out = d / "lines_eval" / "ckpt_1_epoch1"
    report = json.loads((out / "lines_eval.json").read_text())
    assert json.loads((d / "lines_eval.json").read_text()) == report
    assert set(report["model"]) >= {"mean_distance", "smoothness"} and report["n_interpolations"] == 12
    assert report["n_steps"] == 6 and report["epoch"] == 1 and report["steps"] == 2
    assert report["ideal"]["mean_distance"] < 1e-5
    x = np.load(out / "interpolations.npz")["interpolations"]
    assert x.shape == (12, 6, 32, 32) and x.min() >= -1 and x.max() <= 1
    rescored = L.line_scores(torch.from_numpy(x))  # the saved frames are what was scored
    assert rescored["mean_distance"] == pytest.approx(report["model"]["mean_distance"])
    assert (rescored["smoothness"] == pytest.approx(report["model"]["smoothness"])
            or report["model"]["smoothness"] is None)
    from PIL import Image
    assert Image.open(out / "grid.png").size[1] == 3 * 3 * 34 + 2  # 3 rows of (pixel, model, ideal)


def test_lines_eval_is_refused_on_another_dataset(tmp_path, capsys):
    argv = ["--dataset=digits", "--ngf=4", "--ndf=4", "--subset_train=64", "--batch_size=32", "--epochs=1",
            "--batches_per_epoch=1", "--save_path", tmp_path]
    assert run(argv) == 0
    capsys.readouterr()
    assert run(argv + ["--mode=lines_eval"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--dataset lines" in err
    assert not list(tmp_path.rglob("lines_eval*"))
    assert run(argv + ["--lines_eval_every=1", "--name=other"]) == 2
    assert "--lines_eval_every needs --dataset lines" in capsys.readouterr().err
