"""ACAI's lines benchmark: the generated dataset, the two scores on cases with known answers, and
--mode lines_eval / --lines_eval_every on a tiny run."""
import csv
import json
import math

import numpy as np
import pytest
import torch

from helpers import run
from evaluation import lines_benchmark as L
from iterators import load_dataset, to_float
from iterators.lines import SPLIT_SIZES, angle_labels, draw_lines, split_angles


# ---------------------------------------------------------------- the data

def acai_line_by_hand(angle, size=32, w=2.0):
    """ACAI's draw_line (brain-research/acai lib/data.py) step by step, one pixel at a time, in float64
    as ACAI; deliberately plain, to check the vectorised draw_lines against. x is the column, y the row."""
    img = np.zeros((size, size))
    # 1. the line runs from the centre (a pixel corner) 1 px short of the border; -angle: counter-clockwise
    c = size * 0.5
    x_end = c + (c - 1) * math.cos(-angle)
    y_end = c + (c - 1) * math.sin(-angle)
    # 2. the major axis is the one along which the line extends further (rows on a tie); in
    #    (minor, major) coordinates: (p, q)
    columns_major = abs(c - y_end) < abs(c - x_end)
    if columns_major:
        p0, q0, p1, q1 = c, c, y_end, x_end
    else:
        p0, q0, p1, q1 = c, c, x_end, y_end
    # 3. walk from the lower major coordinate to the higher one
    if q1 < q0:
        p0, q0, p1, q1 = p1, q1, p0, q0
    # 4. shift both ends by half the width along the minor axis, then the slope
    p0, p1 = p0 - w / 2, p1 - w / 2
    slope = (p1 - p0) / (q1 - q0) if q1 != q0 else 0
    # 5. each major index q: a weight, and a run [s, s + w) along the minor axis
    for q in range(math.floor(q0), math.ceil(q1)):
        if q < math.ceil(q0):
            weight = math.ceil(q0) - q0  # the first index, entered part-way
        elif q > math.floor(q1):
            weight = q1 - math.floor(q1)  # ACAI's branch for the last one; never reached (q < ceil(q1))
        else:
            weight = 1.0
        s = p0 + (q - q0 - 0.5) * slope  # ACAI's: the line at q - 0.5, not at the index's middle q + 0.5
        e = s + w
        pieces = [(k, weight) for k in range(math.ceil(s), math.floor(e))]  # pixels the run fully covers
        if s != math.ceil(s):
            pieces.append((math.floor(s), weight * (math.ceil(s) - s)))  # partly covered, on the left
        if e != math.floor(e):
            pieces.append((math.floor(e), weight * (e - math.floor(e))))  # and on the right
        for k, z in pieces:
            if columns_major:
                img[k, q] += 2 * z
            else:
                img[q, k] += 2 * z
    # 6. background -1, fully covered 1
    return np.clip(img - 1, -1, 1)


def test_lines_are_acais_at_every_angle():
    rng = np.random.RandomState(7)
    angles = np.concatenate([rng.uniform(0, 2 * np.pi, 1500), np.arange(16) * np.pi / 8,  # axes and diagonals
                             np.linspace(0, 2 * np.pi, L.N_TRUE_LINES, endpoint=False)[::10],  # true lines
                             [0.3, 1.0, 2.0, 4.0, 5.5, 1e-9, 2 * np.pi - 1e-9]])
    by_hand = torch.from_numpy(np.stack([acai_line_by_hand(a) for a in angles])).float()
    drawn = draw_lines(angles)
    assert drawn.dtype == torch.float32 and drawn.shape == (len(angles), 32, 32)
    assert (drawn - by_hand).abs().max() <= 1e-6  # float32 precision (in practice bit for bit)
    for size, width in [(10, 2.0), (17, 2.0), (64, 2.0), (32, 1.0), (32, 3.5)]:
        a = rng.uniform(0, 2 * np.pi, 50)
        by_hand = torch.from_numpy(np.stack([acai_line_by_hand(v, size, width) for v in a])).float()
        assert (draw_lines(a, size, width) - by_hand).abs().max() <= 1e-6, (size, width)
    with pytest.raises(ValueError):
        draw_lines([0.0], size=9)  # ACAI's procedure leaves the image there


def test_pixel_values_by_hand():
    """A few pixels from ACAI's steps, worked out on paper to 7 decimals (c = 16; the end at
    (16 + 15 cos a, 16 - 15 sin a) as (column, row); p0 the first end's minor coordinate - 1)."""
    x = draw_lines([0.3, 1.0, 2.0, 4.0, 5.5]).numpy()
    # 0.3 rad: end (30.3300473, 11.5671969); columns major (14.33 > 4.43); the centre comes first:
    # p0 = 15, slope = (11.5671969 - 1 - 15) / 14.3300473 = -0.3093362
    # column 16: s = 15 + (16 - 16 - 0.5) * slope = 15.1546681 -> rows 15, 16, 17:
    # 2 * 0.8453319 - 1, 1, 2 * 0.1546681 - 1
    assert x[0, 15:18, 16] == pytest.approx([0.6906638, 1, -0.6906638], abs=1e-6)
    # column 30, the last, weighs 1 though the line ends at 30.33: s = 15 + 13.5 * slope = 10.8239606
    assert x[0, 10:13, 30] == pytest.approx([-0.6479212, 1, 0.6479212], abs=1e-6)
    assert (x[0, :, 31] == -1).all() and (x[0, :, :16] == -1).all()
    # 1.0 rad: end (24.1045346, 3.3779352); rows major; the end comes first: q0 = 3.3779352,
    # p0 = 23.1045346, slope = (15 - 23.1045346) / (16 - 3.3779352) = -0.6420926; row 3 weighs
    # 4 - q0 = 0.6220648, its run starts at s = 23.1045346 + (3 - 3.3779352 - 0.5) * slope = 23.6682503:
    # columns 23, 24, 25: 2 * 0.6220648 * 0.3317497 - 1, 2 * 0.6220648 - 1, 2 * 0.6220648 * 0.6682503 - 1
    assert x[1, 3, 23:26] == pytest.approx([-0.5872604, 0.2441296, -0.1686100], abs=1e-6)
    assert (x[1, :3] == -1).all() and (x[1, 16:] == -1).all()
    # 2.0 rad: end (9.7577975, 2.3605386); rows major; the end first: row 2 weighs 0.6394614, slope
    # 0.4576576, s = 8.7577975 + (2 - 2.3605386 - 0.5) * slope = 8.3639655: columns 8, 9, 10:
    # 2 * 0.6394614 * 0.6360345 - 1, 2 * 0.6394614 - 1, 2 * 0.6394614 * 0.3639655 - 1
    assert x[2, 2, 8:11] == pytest.approx([-0.1865610, 0.2789228, -0.5345162], abs=1e-6)
    # 4.0 rad: end (6.1953457, 27.3520374); rows major; the centre first, slope (5.1953457 - 15) /
    # 11.3520374 = -0.8636912; row 16: s = 15 - 0.5 * slope = 15.4318456; row 27 (the last, weight 1
    # though the line ends at 27.35): s = 15 + 10.5 * slope = 5.9312429
    assert x[3, 16, 15:18] == pytest.approx([0.1363088, 1, -0.1363088], abs=1e-6)
    assert x[3, 27, 5:8] == pytest.approx([-0.8624858, 1, 0.8624858], abs=1e-6)
    assert (x[3, 28:] == -1).all() and (x[3, :16] == -1).all()
    # 5.5 rad: end (26.6300466, 26.5831049); columns major (10.630 > 10.583, nearly diagonal); the
    # centre first, slope 10.5831049 / 10.6300466 = 0.9955841; column 16: s = 15 - 0.5 * slope =
    # 14.5022080; column 26: s = 15 + 9.5 * slope = 24.4580485
    assert x[4, 14:17, 16] == pytest.approx([-0.0044160, 1, 0.0044160], abs=1e-6)
    assert x[4, 24:27, 26] == pytest.approx([0.0839030, 1, -0.0839030], abs=1e-6)


def test_lines_along_the_axes_are_exact():
    right, up = draw_lines([0.0, math.pi / 2])
    on = torch.full((32, 32), -1.0)
    on[15:17, 16:31] = 1  # 2 px wide, from the centre to 1 px short of the right border
    assert torch.allclose(right, on, atol=1e-5)
    on = torch.full((32, 32), -1.0)
    on[1:16, 15:17] = 1  # counter-clockwise: pi / 2 points up (row 0 is the top)
    assert torch.allclose(up, on, atol=1e-5)


def test_lines_are_anti_aliased_with_acais_area_at_any_angle():
    angles = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    images = draw_lines(angles)
    assert images.min() >= -1 and images.max() <= 1
    grey = ((images > -1) & (images < 1)).sum((1, 2))
    assert (grey[[i for i in range(50) if i % 25]] > 0).all()  # off the axes there are partial pixels
    # every major index holds 2 px x its weight: 1 for each index, part of a pixel for the first one
    # when the line's far end is its lower end (up or left), all of the last one when it is its
    # higher end (down or right): the area is 2 L or 2 ceil(L), L = 15 max(|cos|, |sin|)
    area = ((images + 1) / 2).sum((1, 2)).double().numpy()
    cos, sin = np.cos(angles), np.sin(angles)
    extent = 15 * np.maximum(np.abs(cos), np.abs(sin))
    far_end_higher = np.where(np.abs(cos) > np.abs(sin), cos > 0, sin < 0)  # right, or down
    expected = 2 * np.where(far_end_higher, np.ceil(extent - 1e-9), extent)
    assert np.allclose(area, expected, atol=1e-4)
    assert 21 < area.min() and area.max() == pytest.approx(30)


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
    assert not (d / "lines_eval.json").exists()  # every mode writes into its folder
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
