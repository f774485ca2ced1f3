"""--mode realism and --realism_every (evaluation/realism.py, docs/realism.md): the distances against
answers computed by hand, the judge's cache, and the mode on a trained digits run."""
import json
import shutil

import numpy as np
import pytest
import torch

from helpers import FAST, rows, run
from evaluation import judge as judges
from evaluation.realism import frechet_distance, kernel_distance, reference_and_floor
from test_build import FIXTURE
from test_image_folders import write_image

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def with_moments(z, mean, std):
    """z [n, d] moved to exactly this sample mean and diagonal sample covariance (n - 1 normalisation)."""
    z = z - z.mean(0)
    chol = torch.linalg.cholesky(z.T @ z / (len(z) - 1))
    white = z @ torch.linalg.inv(chol).T  # sample covariance exactly I
    return white * torch.tensor(std) + torch.tensor(mean)


def poly_mmd_by_hand(x, y):
    """The unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, term by term."""
    m, d = len(x), x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_frechet_distance_known_answers():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 6, generator=gen, dtype=torch.float64)
    assert abs(frechet_distance(a, a)) < 1e-8
    # N(0, diag(1, 4, 9)) against N((1, 2, 2), diag(4, 1, 1)): |mu1 - mu2|^2 = 9, and for diagonal
    # covariances tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (s1 - s2)^2 over the standard deviations = 1 + 1 + 4
    x = with_moments(torch.randn(400, 3, generator=gen, dtype=torch.float64), [0, 0, 0], [1, 2, 3])
    y = with_moments(torch.randn(300, 3, generator=gen, dtype=torch.float64), [1, 2, 2], [2, 1, 1])
    assert frechet_distance(x, y) == pytest.approx(15.0, abs=1e-6)
    assert frechet_distance(y, x) == pytest.approx(15.0, abs=1e-6)


def test_kernel_distance_known_answers():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(40, 4, generator=gen, dtype=torch.float64)
    # identical sets: the unbiased estimate is ~0 (its cross term keeps the diagonal, an O(1/m) offset);
    # two samples of one distribution: ~0 within its spread; beside a set shifted by 1, both are tiny
    big = torch.randn(2000, 4, generator=gen, dtype=torch.float64)
    other = torch.randn(2000, 4, generator=gen, dtype=torch.float64)
    shifted, _ = kernel_distance(big, big + 1, subsets=10, subset_size=1000)
    assert abs(kernel_distance(big, big, subsets=1, subset_size=2000)[0]) < 0.01 * shifted
    same, se = kernel_distance(big, other, subsets=10, subset_size=1000)
    assert abs(same) < 0.01 * shifted and abs(same) < 4 * se * 10 ** 0.5  # se is sd / sqrt(subsets)
    for shift in (0.5, 1.0, 2.0):
        y = x + shift
        kid, se = kernel_distance(x, y, subsets=1, subset_size=40)  # one subset of all rows: exactly the MMD^2
        assert kid == pytest.approx(poly_mmd_by_hand(x.numpy(), y.numpy()), rel=1e-9)
        assert se == 0
    # subsets of half the rows from a fixed seed: the same numbers each time, a spread > 0
    assert kernel_distance(x, x + 1, 20, 20, seed=3) == kernel_distance(x, x + 1, 20, 20, seed=3)
    assert kernel_distance(x, x + 1, 20, 20, seed=3)[1] > 0


@pytest.fixture(scope="module")
def quick_judge(tmp_path_factory):
    """Judges trained in 300 steps (not 2000) and cached in a folder of this test module."""
    mp = pytest.MonkeyPatch()
    mp.setattr(judges, "FEATURE_STEPS", 300)
    mp.setenv("AMR_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, quick_judge):
    """Two digits epochs with --realism_every 1 (the judge is trained in the first)."""
    save = tmp_path_factory.mktemp("runs")
    argv = [a for a in FAST if not a.startswith("--subset_train")] + ["--epochs=2", "--batches_per_epoch=20",
                                                                       "--realism_every=1", f"--save_path={save}"]
    assert run(argv) == 0
    return save / "s0" / "digits_swapgan_mixup" / "0"


def test_realism_every_adds_its_columns(digits_run):
    table = rows(digits_run / "results.csv")
    assert len(table) == 2
    for row in table:
        assert float(row["realism_fd"]) > 0 and float(row["realism_kid"]) > 0
        assert 0 < float(row["realism_confidence"]) <= 1


def test_realism_mode_writes_its_json_and_real_is_the_floor(digits_run, quick_judge, capsys):
    assert run(["load", "--config", digits_run / "cfg.yaml", "--mode=realism", "--resume=1"]) == 0
    out = digits_run / "realism" / "ckpt_1_epoch1"
    result = json.loads((out / "realism.json").read_text())
    assert set(result) >= {"mixes", "reconstructions", "pixel_mixes", "real", "n", "judge", "checkpoint"}
    for part in ("mixes", "reconstructions", "pixel_mixes", "real"):
        assert set(result[part]) == {"fd", "kid", "kid_se", "confidence"}
    assert result["n"] == 150 and result["epoch"] == 1  # digits: half of its 300 test images
    assert result["judge"]["test_accuracy"] > 0.8  # a judge worth asking
    for score in ("fd", "kid"):
        assert result["real"][score] < result["reconstructions"][score]
        assert result["real"][score] < result["pixel_mixes"][score]
    assert (out / "mixes.png").is_file() and (out / "examples.pt").is_file()
    # the same checkpoint again: the cached judge, the same numbers
    assert run(["load", "--config", digits_run / "cfg.yaml", "--mode=realism", "--resume=1"]) == 0
    assert json.loads((out / "realism.json").read_text()) == result


def test_reference_and_floor_are_disjoint_random_halves_of_test():
    """Not the file's halves (MNIST's test file holds two populations of writers, one per half): each set
    draws from the whole file, the two never share an image, and the split is the same every time."""
    reference, floor = reference_and_floor(10000, 5000)
    assert len(reference) == len(floor) == 5000 and not set(reference) & set(floor)
    for part in (reference, floor):
        first_half = sum(i < 5000 for i in part)
        assert 2300 < first_half < 2700  # about half from each half of the file
    assert reference_and_floor(10000, 5000) == (reference, floor)
    small = reference_and_floor(300, 150)
    assert sorted(small[0] + small[1]) == list(range(300))


def test_a_damaged_judge_cache_is_trained_again(tmp_path, monkeypatch):
    from iterators import load_dataset
    monkeypatch.setattr(judges, "FEATURE_STEPS", 20)
    monkeypatch.setenv("AMR_CACHE", str(tmp_path))
    data = load_dataset("digits", tmp_path, 96, download=False)
    _, info = judges.cached_judge(data, "digits", 0, torch.device("cpu"))
    with open(info["cache"], "r+b") as f:
        f.truncate(100)
    _, again = judges.cached_judge(data, "digits", 0, torch.device("cpu"))
    assert again == info


def test_unlabelled_data_is_refused_in_one_line(tmp_path, capsys):
    for i in range(30):
        write_image(tmp_path / "flat" / f"{i:02d}.png", i)
    argv = ["--dataset=folder", f"--data_dir={tmp_path / 'flat'}", "--image_size=32", "--num_workers=0",
            "--batch_size=8", f"--save_path={tmp_path / 'runs'}", "--mode=realism"]
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--mode realism" in err and "unlabelled" in err
    assert not (tmp_path / "runs").exists()


def test_a_run_written_before_realism_existed_is_scored(tmp_path, quick_judge):
    """The digits run of commit 8e8281f (tests/fixtures; its cfg.yaml has no spec and no realism flags)."""
    old = tmp_path / "s3" / "digits_8e8281f" / "0"
    shutil.copytree(FIXTURE, old)
    assert run(["load", "--config", old / "cfg.yaml", f"--save_path={tmp_path}", "--mode=realism"]) == 0
    result = json.loads((old / "realism" / "last_epoch2" / "realism.json").read_text())
    for part in ("mixes", "reconstructions", "pixel_mixes", "real"):
        assert set(result[part]) == {"fd", "kid", "kid_se", "confidence"}
    assert result["real"]["fd"] < result["reconstructions"]["fd"] and result["epoch"] == 2
