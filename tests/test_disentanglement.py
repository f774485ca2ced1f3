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


# ---- the reference's two scores (REFERENCE_METRICS), corrected; docs/table4.md ----------------------------

REF_SIZES = {"factor_vae_reference": dict(num_votes=400, group_size=200, num_eval_votes=400),
             "beta_vae_reference": dict(num_train=2000, num_eval=1000, batch_size=64)}
ONE_DIMENSION = lambda flat: ((factors_of(flat) - (np.array(SIZES) - 1) / 2)  # noqa: E731
                              / np.sqrt((np.array(SIZES) ** 2 - 1) / 12)).sum(1, keepdims=True)


def reference(name, encoder, seed=0, **sizes):
    return dis.REFERENCE_METRICS[name](ToyGrid(), encoder, np.random.RandomState(seed), **{**REF_SIZES[name], **sizes})


@pytest.fixture(scope="module")
def reference_scores():
    return {enc: {name: reference(name, ENCODERS[enc]) for name in dis.REFERENCE_METRICS} for enc in ENCODERS}


def test_reference_scores_of_the_true_factors(reference_scores):
    """Every factor scored: the true factors score 1; the reference's own sum left the last factor out, so
    it stops at (F - 1) / F (0.8 on dSprites' five factors, 3/4 here)."""
    fv, bv = reference_scores["true"]["factor_vae_reference"], reference_scores["true"]["beta_vae_reference"]
    assert fv["eval_accuracy"] == fv["train_accuracy"] == 1.0 and fv["num_active_dims"] == 4
    assert fv["reference_formula_accuracy"] == 0.75 and fv["votes_per_factor"] == 100
    assert bv["eval_accuracy"] > 0.98 and bv["train_accuracy"] > 0.98


def test_reference_scores_of_a_constant_and_a_random_code(reference_scores):
    fv, bv = reference_scores["constant"]["factor_vae_reference"], reference_scores["constant"]["beta_vae_reference"]
    assert fv == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "reference_formula_accuracy": 0.0,
                  "num_active_dims": 0, "votes_per_factor": 100}  # no dimension varies: none can vote
    assert abs(bv["eval_accuracy"] - CHANCE) < 0.05
    fv, bv = reference_scores["random"]["factor_vae_reference"], reference_scores["random"]["beta_vae_reference"]
    assert abs(fv["eval_accuracy"] - CHANCE) < 0.1 and abs(bv["eval_accuracy"] - CHANCE) < 0.05


def test_reference_scores_of_duplicated_and_dropped_factors(reference_scores):
    """The dropped factor's votes land on the other factors' dimensions: 3/4 exactly (a quarter of the
    votes fix each factor). BetaVAE-style: one dropped factor goes unnoticed, two are confused."""
    fv = reference_scores["duplicate_and_drop"]["factor_vae_reference"]
    assert fv["eval_accuracy"] == fv["train_accuracy"] == 0.75
    assert reference_scores["duplicate_and_drop"]["beta_vae_reference"]["eval_accuracy"] > 0.98
    assert 0.6 < reference_scores["drop_two"]["beta_vae_reference"]["eval_accuracy"] < 0.9


def test_one_dimension_for_every_factor_is_chance_not_the_references_three_quarters():
    """One code dimension (the sum of the standardised factors) always varies least: by Kim & Mnih's
    majority vote it predicts one factor, chance (1/4); the reference counted, per factor, the votes of
    that factor's most frequent dimension, so the same dimension was right for every factor (3/4 here
    with the last factor left out, 1 with it)."""
    fv = reference("factor_vae_reference", ONE_DIMENSION)
    assert fv["eval_accuracy"] == fv["train_accuracy"] == CHANCE
    assert fv["reference_formula_accuracy"] == 0.75


def test_reference_scores_fit_and_score_separate_draws():
    """A code unrelated to the factors: the votes (points) the table (regression) was fitted on beat
    chance by luck, the second draw does not."""
    fv = reference("factor_vae_reference", ENCODERS["random"], num_votes=20, group_size=20, num_eval_votes=20)
    assert fv["train_accuracy"] != fv["eval_accuracy"] and fv["train_accuracy"] > CHANCE
    bv = reference("beta_vae_reference", ENCODERS["random"], num_train=40, num_eval=400, batch_size=8)
    assert bv["train_accuracy"] > bv["eval_accuracy"]


def test_reference_scores_through_compute_leave_the_other_scores_alone(scores):
    """compute() runs the reference's scores at the reference's sizes, on draws of their own: adding them
    changes nothing else, and each is the same alone or with the others."""
    names = ["mig", "factor_vae_reference", "factor_vae", "beta_vae_reference"]
    both = dis.compute(ToyGrid(), ENCODERS["true"], names, **SAMPLES)
    assert both["mig"] == scores["true"]["mig"] and both["factor_vae"] == scores["true"]["factor_vae"]
    assert both["factor_vae_reference"]["votes_per_factor"] == 200  # 800 votes of 800 images, 4 factors
    assert both["factor_vae_reference"]["eval_accuracy"] == 1.0 and both["beta_vae_reference"]["eval_accuracy"] > 0.98
    alone = dis.compute(ToyGrid(), ENCODERS["true"], ["factor_vae_reference"], **SAMPLES)
    assert alone["factor_vae_reference"] == both["factor_vae_reference"]
    assert list(dis.ALL_METRICS)[:4] == list(dis.METRICS)  # positions seed the draws: the four keep theirs


def test_reference_scores_are_skipped_on_samples():
    out = dis.compute(toy_samples(250), on_samples(ENCODERS["true"]), list(dis.REFERENCE_METRICS), **SAMPLES)
    assert all(set(r) == {"skipped"} for r in out.values())


def test_metric_names_of_the_mode():
    from evaluation.disentangle import MODE_METRICS, metric_names
    default = MODE_METRICS["disentangle"]
    assert metric_names("", default) == ["factor_vae", "beta_vae", "mig", "dci"]
    assert metric_names(" ", MODE_METRICS["dsprite_disentangle_fv"]) == ["factor_vae"]
    assert metric_names("all", default) == list(dis.ALL_METRICS)
    assert metric_names("reference", default) == ["factor_vae_reference", "beta_vae_reference"]
    assert metric_names("mig+factor_vae_reference+mig", default) == ["mig", "factor_vae_reference"]
    with pytest.raises(Exception, match="unknown metric fv") as e:  # ConfigError: one line, exit status 2
        metric_names("mig+fv", default)
    assert type(e.value).__name__ == "ConfigError"


def test_traversal_sweeps_one_dimension_per_row():
    """A decoder that writes its code into the image: row d holds the image, then codes equal to the
    image's except dimension d, going evenly from its 2.5th to its 97.5th percentile over `codes`."""
    from evaluation.disentangle import traversal

    class Identity(torch.nn.Module):
        def encode(self, x):
            return x.flatten(1)[:, :3]

        def decode(self, z):
            return torch.nn.functional.pad(z, (0, 1)).view(-1, 1, 2, 2)

    model = Identity()
    model.generator = model
    x = torch.tensor([[[[0.5, -0.5], [0.25, 0.0]]]])
    codes = np.random.RandomState(0).randn(1000, 3)
    images, ranges = traversal(model, x, codes, steps=5, max_dims=2)
    assert images.shape == (2, 6, 1, 2, 2) and torch.equal(images[:, 0], x.expand(2, 1, 2, 2))
    low, high = np.percentile(codes, (2.5, 97.5), axis=0)
    assert ranges == {"low": list(low[:2]), "high": list(high[:2])}
    for d in range(2):
        z = images[d, 1:].flatten(1)[:, :3]
        assert torch.allclose(z[:, d], torch.linspace(low[d], high[d], 5).float())
        others = [k for k in range(3) if k != d]
        assert torch.equal(z[:, others], x.flatten(1)[:, others].expand(5, -1))


# dis.compute of the reference's two scores, at the reference's sizes, on the loaded grid below: pinned as
# first measured, so that a change to their draws or definitions shows
REFERENCE_GRID_SCORES = {
    "factor_vae_reference": {"train_accuracy": 0.35875, "eval_accuracy": 0.35625, "reference_formula_accuracy": 0.37625,
                             "num_active_dims": 4, "votes_per_factor": 160},
    "beta_vae_reference": {"train_accuracy": 0.3692, "eval_accuracy": 0.3637}}


def test_reference_scores_on_a_loaded_grid_are_pinned(tmp_path):
    """800 votes of 800 images and 50,000 + 10,000 points of 256 on a 144-image grid of five factors."""
    write_npz(tmp_path / "grid.npz", (1, 3, 2, 4, 2, 3), OFFICIAL_NAMES)
    grid = load_dataset("dsprite", tmp_path / "grid.npz", download=False).factors
    table = np.random.RandomState(3).randn(16, 4)
    encode = lambda images: (images.numpy().reshape(len(images), -1)[:, :16] > 0) @ table  # noqa: E731
    assert dis.compute(grid, encode, list(dis.REFERENCE_METRICS)) == REFERENCE_GRID_SCORES


# ---- evaluation.disentangle_table: Table 4 from hand-made run folders ----------------------------------

def make_run(root, seed, name, metrics, epoch=4, model="swapgan", folder=True, **args):
    """A finished run of `epoch` epochs whose --mode disentangle wrote `metrics` (into the checkpoint's
    folder, or only into the run folder)."""
    import json

    import yaml
    run = root / f"s{seed}" / name / "0"
    run.mkdir(parents=True)
    cfg = {"args": {"dataset": "dsprite", "epochs": epoch, "model": model, "mixer": "mixup", **args},
           "resolved": {"code_size": 10}}
    (run / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    (run / "results.csv").write_text("epoch,valid_recon\n" + "".join(f"{e},1.0\n" for e in range(1, epoch + 1)))
    report = {"checkpoint": str(run / "last.pt"), "epoch": epoch, "metrics": metrics}
    target = run / "disentangle" / f"last_epoch{epoch}" if folder else run
    target.mkdir(parents=True, exist_ok=True)
    (target / "disentangle.json").write_text(json.dumps(report))
    return run


def table4_metrics(fv, bv, mig, dci, formula=0.5):
    return {"factor_vae_reference": {"eval_accuracy": fv, "train_accuracy": 1.0, "reference_formula_accuracy": formula},
            "beta_vae_reference": {"eval_accuracy": bv}, "mig": {"discrete_mig": mig, "per_factor": [mig]},
            "dci": {"disentanglement": dci, "completeness": dci, "informativeness_test": 0.9},
            "factor_vae": {"skipped": "not run"}}


def test_disentangle_table_from_hand_made_runs(tmp_path):
    import csv
    import io
    import json

    from evaluation import disentangle_table as dt
    from evaluation.runs_table import find_runs
    base = {1: (0.50, 0.60, 0.10, 0.20), 2: (0.60, 0.70, 0.20, 0.30), 3: (0.70, 0.80, 0.30, 0.40)}
    for seed, (fv, bv, mig, dci) in base.items():
        make_run(tmp_path, seed, "dsprite_baseline", table4_metrics(fv, bv, mig, dci), disable_mix=True)
        # mixup: FactorVAE +0.10/+0.12/+0.08 (beats); BetaVAE -0.10/-0.11/-0.09 (worse); MIG +0.1/-0.1/+0.3
        # (no decision); DCI equal on seed 2 (no decision)
        deltas = {1: (0.10, -0.10, 0.1, 0.05), 2: (0.12, -0.11, -0.1, 0.0), 3: (0.08, -0.09, 0.3, 0.05)}[seed]
        make_run(tmp_path, seed, "dsprite_mixup", table4_metrics(*(a + d for a, d in zip(base[seed], deltas))),
                 folder=seed != 2)  # seed 2: the run folder's copy only
        make_run(tmp_path, seed, "dsprite_bvae_beta4", table4_metrics(0.9, 0.9, 0.5, 0.6), model="vae", beta=4.0)
    make_run(tmp_path, 4, "dsprite_gan3f", table4_metrics(0.9, 0.9, 0.9, 0.9), model="threegan")
    stale = make_run(tmp_path, 5, "dsprite_mixupfm2", table4_metrics(0.9, 0.9, 0.9, 0.9), mixer="fm2")
    (stale / "results.csv").write_text("epoch,valid_recon\n" + "".join(f"{e},1.0\n" for e in range(1, 6)))
    (stale / "cfg.yaml").write_text((stale / "cfg.yaml").read_text().replace("epochs: 4", "epochs: 5"))
    newer = make_run(tmp_path, 6, "dsprite_mixupfm2", table4_metrics(0.1, 0.1, 0.1, 0.1), mixer="fm2")
    (newer / "disentangle" / "last_epoch2").mkdir()  # an older checkpoint's scores are not the newest
    (newer / "disentangle" / "last_epoch2" / "disentangle.json").write_text(
        json.dumps({"checkpoint": "x", "epoch": 2, "metrics": table4_metrics(0.9, 0.9, 0.9, 0.9)}))

    runs = find_runs(tmp_path, 20)
    rows = {r["name"]: r for r in dt.disentangle_rows(runs)}
    assert [r["name"] for r in dt.disentangle_rows(runs)] == ["dsprite_baseline", "dsprite_mixup", "dsprite_mixupfm2",
                                                              "dsprite_gan3f", "dsprite_bvae_beta4"]
    b, m, v = rows["dsprite_baseline"], rows["dsprite_mixup"], rows["dsprite_bvae_beta4"]
    assert b["method"] == "baseline (no mixing)" and b["seeds"] == [1, 2, 3] and b["epochs"] == [4]
    assert b["fv_ref"] == [0.5, 0.6, 0.7] and b["fv_lib"] == [None, None, None] and "fv_ref_paired" not in b
    assert v["method"] == "beta-VAE, beta = 4 (KL summed over the code)" and v["mig"] == [0.5] * 3
    assert rows["dsprite_mixupfm2"]["seeds"] == [6] and rows["dsprite_mixupfm2"]["fv_ref"] == [0.1]
    p = m["fv_ref_paired"]
    assert (p.n, p.positive, p.zero, p.negative) == (3, 3, 0, 0)
    assert p.mean == pytest.approx(0.10) and p.se == pytest.approx(0.02 / 3 ** 0.5)
    assert m["fv_ref_decision"] == "beats" and m["bv_ref_decision"] == "worse"
    assert m["mig_decision"] == "no decision" and m["dci_d_decision"] == "no decision"
    assert (m["dci_d_paired"].positive, m["dci_d_paired"].zero) == (2, 1)
    assert rows["dsprite_gan3f"]["fv_ref_paired"].n == 0 and rows["dsprite_gan3f"]["fv_ref_decision"] == "no decision"
    assert "fv_ref_formula_decision" not in m and m["fv_ref_formula_paired"].mean == 0.0  # reported, not decided

    text = "\n".join(dt.disentangle_markdown(dt.disentangle_rows(runs)))
    assert "| dsprite, bottleneck 10 | mixup, k=2 | `dsprite_mixup` | 1 2 3 | 0.700 ± 0.092 |" in text
    assert "+0.100 ± 0.012 (3 / 0 / 0): beats" in text and "-0.100 ± 0.006 (0 / 0 / 3): worse" in text
    assert "FactorVAE (disentanglement_lib)" not in text  # a score no run has is left out
    table = list(csv.DictReader(io.StringIO(dt.disentangle_csv_text(dt.disentangle_rows(runs)))))
    mixup = next(r for r in table if r["name"] == "dsprite_mixup")
    assert float(mixup["fv_ref_mean"]) == pytest.approx(0.7) and mixup["fv_ref_decision"] == "beats"
    assert float(mixup["bv_ref_paired_mean"]) == pytest.approx(-0.1) and mixup["bv_ref_paired_negative"] == "3"
    notes = dt.disentangle_notes(runs)
    assert len(notes) == 1 and "s5/dsprite_mixupfm2/0: disentangle.json is of epoch 4, the run reached 5" in notes[0]


def test_disentangle_picture_stacks_one_traversal_per_method(tmp_path):
    from PIL import Image

    from evaluation import disentangle_table as dt
    from evaluation.runs_table import find_runs
    for seed in (2, 1):
        for name, value in (("dsprite_baseline", -1.0), ("dsprite_mixup", 1.0)):
            run = make_run(tmp_path, seed, name, table4_metrics(0.5, 0.5, 0.5, 0.5), disable_mix=name.endswith("line"))
            images = np.full((3, 4, 1, 8, 8), value if seed == 1 else 0.0, dtype=np.float16)  # 3 dims, 3 steps
            np.savez(run / "disentangle" / "last_epoch4" / "traversal.npz", images=images)
    labels = dt.disentangle_picture(find_runs(tmp_path, 20), tmp_path / "t.png")
    assert labels == ["rows 1–3: baseline (no mixing) (`dsprite_baseline`, seed 1, epoch 4)",
                      "rows 4–6: mixup, k=2 (`dsprite_mixup`, seed 1, epoch 4)"]
    picture = np.asarray(Image.open(tmp_path / "t.png").convert("L"))
    assert picture.shape == (2 + 6 * 10, 2 + 4 * 10)  # 8 px images, 2 px padding
    assert picture[2:10, 2:10].max() == 0 and picture[-10:-2, 2:10].min() == 255  # seed 1 of each, in order
    assert dt.disentangle_picture([], tmp_path / "none.png") == [] and not (tmp_path / "none.png").exists()


# ---- exps/table4: the command lines the scripts build (docs/table4.md) -----------------------------------

TABLE4 = {"baseline": ["--mixer=mixup", "--disable_mix"], "mixup": ["--mixer=mixup"], "mixupfm2": ["--mixer=fm2"],
          "gan3f": ["--model=threegan", "--mixer=mixup"], "bvae_beta100": ["--model=vae", "--beta=10.0"],
          "bvae_beta4": ["--model=vae", "--beta=4.0"]}


def table4_argv(tmp_path, method, *args, **env):
    """The arguments exps/table4/<method>.sh gives its interpreter, recorded by a stub given as PYTHON."""
    import os
    import subprocess
    from pathlib import Path
    stub = tmp_path / "stub"
    stub.write_text(f"#!/bin/bash\nprintf '%s\\0' \"$@\" > {tmp_path / 'argv'}\n")
    stub.chmod(0o755)
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(["bash", str(root / "exps" / "table4" / f"{method}.sh"), *args],
                          env={**os.environ, "PYTHON": str(stub), **env}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (tmp_path / "argv").read_text().split("\0")[:-1]


@pytest.mark.parametrize("method", sorted(TABLE4))
def test_table4_scripts_use_the_studys_settings(tmp_path, method):
    argv = table4_argv(tmp_path, method, SEED="2")
    assert argv[:2] == ["task_launcher.py", "run"]
    flags = dict((a.split("=", 1) + [True])[:2] for a in argv[2:])  # the last value of each flag
    assert {k: flags[k] for k in ("--dataset", "--arch", "--batch_size", "--lamb", "--recon_loss", "--lr")} == \
        {"--dataset": "dsprite", "--arch": "dsprite_gd", "--batch_size": "64", "--lamb": "1.0",
         "--recon_loss": "bce_sum", "--lr": "1e-3"}
    assert (flags["--epochs"], flags["--batches_per_epoch"], flags["--disentangle_every"], flags["--seed"]) == \
        ("4", "160", "0", "2")
    assert flags["--name"] == f"dsprite_{method}" and all(flag in argv for flag in TABLE4[method])
    if "--model=vae" in argv:
        assert (flags["--beta1"], flags["--beta2"]) == ("0.9", "0.99")
        assert not any(a.startswith(("--ndf", "--update_g")) for a in argv)  # the VAE refuses them
    else:
        assert (flags["--beta"], flags["--ndf"], flags["--beta1"], flags["--beta2"], flags["--update_g_every"]) == \
            ("0.0", "32", "0.5", "0.99", "1")
    assert not any(a.split("=")[0] in ("--mode", "--mode_override") for a in argv)  # training (train refuses it)


def test_table4_scores_every_metric_and_smokes(tmp_path):
    for mode in (["--mode=disentangle"], ["--mode", "disentangle"]):
        argv = table4_argv(tmp_path, "gan3f", *mode)
        assert argv[argv.index("--mode_override=metrics='all'") + 1:] == mode  # the caller's arguments last
    argv = table4_argv(tmp_path, "mixup", "--mode=disentangle", "--mode_override=metrics='mig'")
    assert argv[-1] == "--mode_override=metrics='mig'"  # given: it wins
    assert "--mode_override=metrics='all'" not in table4_argv(tmp_path, "mixup", "--mode=interp_valid")
    smoke = table4_argv(tmp_path, "bvae_beta4", SMOKE="1")
    assert smoke[-7:] == ["--epochs=1", "--batches_per_epoch=2", "--batch_size=16", "--ngf=4", "--val_batch_size=64",
                          "--save_every=1", "--save_images_every=1"]
    assert table4_argv(tmp_path, "baseline", SMOKE="1")[-1] == "--ndf=4"
