"""Known answers for the disentanglement metrics on a small synthetic factor grid: an "image" is its
flat grid index and each encoder is a fixed function of it; the same on factor samples (rows of the
grid) for MIG and DCI; and the scores of a loaded grid, pinned."""
import numpy as np
import pytest
import torch

from dsprites_npz import OFFICIAL_NAMES, write_npz
from evaluation import disentanglement_metrics as dis
from iterators import load_dataset
from iterators.dsprites import FactorGrid, FactorSamples

SIZES = (3, 4, 5, 6)
CHANCE = 1 / len(SIZES)
SAMPLES = dict(num_train=600, num_eval=300, batch_size=32)


class ToyGrid:
    factor_sizes = SIZES

    def __init__(self):
        self.encoded = []

    def images(self, flat):
        self.encoded.extend(np.asarray(flat).tolist())
        return np.asarray(flat)


def factors_of(flat):
    return np.stack(np.unravel_index(flat, SIZES), 1).astype(float)


RANDOM_TABLE = np.random.RandomState(5).randn(int(np.prod(SIZES)), len(SIZES))
ENCODERS = {
    "true": factors_of,
    "constant": lambda flat: np.zeros((len(flat), len(SIZES))),
    "random": lambda flat: RANDOM_TABLE[flat],  # a fixed code that ignores the factors
    # the last factor is dropped and the one before it duplicated
    "duplicate_and_drop": lambda flat: factors_of(flat)[:, [0, 1, 2, 2]],
    "drop_two": lambda flat: factors_of(flat)[:, [0, 1, 1, 1]],
}


@pytest.fixture(scope="module")
def scores():
    return {name: dis.compute(ToyGrid(), fn, list(dis.METRICS), **SAMPLES) for name, fn in ENCODERS.items()}


def test_true_factors_score_near_one(scores):
    s = scores["true"]
    assert s["factor_vae"]["eval_accuracy"] == 1.0 and s["factor_vae"]["num_active_dims"] == 4
    assert s["beta_vae"]["eval_accuracy"] > 0.98
    assert s["mig"]["discrete_mig"] > 0.95
    assert s["dci"]["disentanglement"] > 0.95 and s["dci"]["completeness"] > 0.95
    assert s["dci"]["informativeness_test"] > 0.98


def test_constant_code_scores_zero_or_chance(scores):
    s = scores["constant"]
    assert s["factor_vae"] == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}  # all pruned
    assert abs(s["beta_vae"]["eval_accuracy"] - CHANCE) < 0.08
    assert s["mig"]["discrete_mig"] == 0.0 and s["dci"]["disentanglement"] == 0.0


def test_random_code_scores_near_zero_or_chance(scores):
    s = scores["random"]
    assert abs(s["factor_vae"]["eval_accuracy"] - CHANCE) < 0.1  # votes land on dimensions at random
    assert abs(s["beta_vae"]["eval_accuracy"] - CHANCE) < 0.1
    assert s["mig"]["discrete_mig"] < 0.05 and s["dci"]["disentanglement"] < 0.05


def test_duplicating_one_factor_and_dropping_another_scores_in_between(scores):
    s = scores["duplicate_and_drop"]
    assert 0.6 < s["factor_vae"]["eval_accuracy"] < 0.9  # the dropped factor's votes are lost
    assert 0.4 < s["mig"]["discrete_mig"] < 0.6  # two factors of four have no gap: ~ 1/2
    assert s["mig"]["per_factor"][2] < 0.05 and s["mig"]["per_factor"][3] < 0.05
    assert 0.3 < s["dci"]["disentanglement"] < 0.9 and 0.3 < s["dci"]["completeness"] < 0.9
    assert 0.6 < s["dci"]["informativeness_test"] < 0.9
    # BetaVAE only asks which dimensions stop varying: "none" still identifies the dropped factor,
    # so one dropped factor goes unnoticed; with two dropped, they are confused (~3/4).
    assert s["beta_vae"]["eval_accuracy"] > 0.98
    assert 0.6 < scores["drop_two"]["beta_vae"]["eval_accuracy"] < 0.9


def test_each_image_is_encoded_once_and_metrics_do_not_share_draws():
    grid = ToyGrid()
    both = dis.compute(grid, ENCODERS["random"], ["mig", "factor_vae"], **SAMPLES)
    assert len(grid.encoded) == len(set(grid.encoded))
    alone = dis.compute(ToyGrid(), ENCODERS["random"], ["factor_vae"], **SAMPLES)
    assert alone["factor_vae"] == both["factor_vae"]  # the same score whatever else was computed


def test_factor_vae_uses_separate_train_and_eval_draws():
    """With a code unrelated to the factors, majority votes fit to their own draw beat chance by luck;
    the eval accuracy comes from a second draw, so it differs (the reference scored the fitted votes)."""
    r = dis.factor_vae_score(ToyGrid(), lambda flat: RANDOM_TABLE[flat], np.random.RandomState(0),
                             batch_size=16, num_train=50, num_eval=50, num_variance_estimate=200)
    assert r["train_accuracy"] != r["eval_accuracy"] and r["train_accuracy"] > CHANCE


def toy_samples(n, replace=False):
    """n rows of the toy grid drawn at random, as factor samples; an image is still its flat grid index."""
    flat = np.random.RandomState(7).choice(int(np.prod(SIZES)), n, replace=replace)
    return FactorSamples(("a", "b", "c", "d"), SIZES, factors_of(flat).astype(np.int64), torch.from_numpy(flat))


def on_samples(fn):
    return lambda images: fn(np.asarray(images))


def test_mig_and_dci_on_samples_match_the_grid(scores):
    """A code equal to the factors scores as high on 250 of the 360 combinations as on the grid; a random
    code as low. The metrics that fix one factor are skipped, saying why."""
    names = list(dis.METRICS)
    true = dis.compute(toy_samples(250), on_samples(ENCODERS["true"]), names, **SAMPLES)
    assert true["mig"]["discrete_mig"] > 0.95
    assert abs(true["mig"]["discrete_mig"] - scores["true"]["mig"]["discrete_mig"]) < 0.03
    assert true["dci"]["disentanglement"] > 0.95 and true["dci"]["completeness"] > 0.95
    assert true["dci"]["informativeness_test"] > 0.98
    why = ("needs the complete factor grid (it fixes one factor and varies the others); the file holds 250 "
           "samples, not every combination once")
    assert true["factor_vae"] == true["beta_vae"] == {"skipped": why}
    random = dis.compute(toy_samples(250), on_samples(ENCODERS["random"]), ["mig"], **SAMPLES)
    assert random["mig"]["discrete_mig"] < 0.05
    with pytest.raises(ValueError, match="only in a complete factor grid"):  # called directly, it cannot draw
        dis.factor_vae_score(toy_samples(250), on_samples(ENCODERS["true"]), np.random.RandomState(0))


def test_sample_draws_are_disjoint_while_they_fit():
    """The code of an image is its flat grid index, so a draw's codes tell which images it holds."""
    samples, encoded = toy_samples(100, replace=True), []  # duplicate rows are separate samples

    def encode(images):
        encoded.extend(np.asarray(images).tolist())
        return np.asarray(images)[:, None]
    codes = dis.Codes(samples, encode)
    (f_a, z_a), (f_b, z_b) = dis.draws(samples, codes, [60, 40], np.random.RandomState(0))
    assert np.array_equal(np.concatenate([f_a, f_b]), factors_of(np.concatenate([z_a, z_b])[:, 0].astype(int)))
    assert sorted(np.concatenate([z_a, z_b])[:, 0]) == sorted(samples.all_images.tolist())  # each row once
    (_, z_a), (_, z_b) = dis.draws(samples, codes, [80, 40], np.random.RandomState(0))
    assert len(z_a) == 80 and len(z_b) == 40  # more than the file holds: with replacement
    assert len(encoded) == 100  # each row encoded once over all draws


# dis.compute on the grid below with the code before factor samples were supported: the grid's draws
# must stay the same, so the same seed gives the same scores
GRID_SCORES = {"factor_vae": {"train_accuracy": 0.315, "eval_accuracy": 0.19, "num_active_dims": 4},
               "beta_vae": {"train_accuracy": 0.35, "eval_accuracy": 0.29},
               "mig": {"discrete_mig": 0.21463694333747424,
                       "per_factor": [0.44793753941903847, 0.22532764279745085, 0.06315453638339898,
                                      0.0578404418433679, 0.2789245562441149]},
               "dci": {"disentanglement": 0.08103280788337323, "completeness": 0.11779818841485688,
                       "informativeness_train": 0.9970000000000001, "informativeness_test": 0.8879999999999999}}


def test_complete_grid_scores_are_unchanged(tmp_path):
    write_npz(tmp_path / "grid.npz", (1, 3, 2, 4, 2, 3), OFFICIAL_NAMES)
    grid = load_dataset("dsprite", tmp_path / "grid.npz", download=False).factors
    assert isinstance(grid, FactorGrid)
    table = np.random.RandomState(3).randn(16, 4)
    encode = lambda images: (images.numpy().reshape(len(images), -1)[:, :16] > 0) @ table  # of the file row
    assert dis.compute(grid, encode, list(dis.METRICS), num_train=200, num_eval=100, batch_size=16) == GRID_SCORES
