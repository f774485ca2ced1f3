"""Known answers for the disentanglement metrics on a small synthetic factor grid: an "image" is its
flat grid index and each encoder is a fixed function of it."""
import numpy as np
import pytest

from evaluation import disentanglement_metrics as dis

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
