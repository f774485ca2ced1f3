"""Disentanglement metrics on ground-truth factor data, following disentanglement_lib
(Locatello et al. 2019): FactorVAE score, BetaVAE score, MIG and DCI.

Every metric is `metric(dataset, encode_fn, rng, **sizes) -> dict`:
  dataset    a complete factor grid: `factor_sizes` and `images(flat_indices)` (iterators.dsprites.FactorGrid);
             MIG and DCI also take factor samples: `classes` [N, F] and `images(rows)` (FactorSamples);
  encode_fn  images -> codes [n, D] (the deterministic representation, e.g. posterior means), or a
             Codes to share one set of encodings between metrics;
  rng        a numpy RandomState: all sampling comes from it.
On a grid, factors are drawn uniformly from the whole grid (every factor counts, the official file's
constant colour excepted); on samples, MIG and DCI draw rows (their factors as they occur in the file).
The FactorVAE and BetaVAE scores fix one factor and vary the others, which needs the grid: compute()
skips them on samples and says why. The metric's classifier or vote table is fitted on one draw and
scored on a separate draw. As the representation is deterministic, each image is encoded at most once.

Differences from the reference's FactorVAE score (its issue tracker: it never drew the fifth factor,
so it could not exceed 0.8, and it scored the votes it was fitted on): all factors are drawn, and
train and eval votes are separate draws.

REFERENCE_METRICS are the reference's own two scores (christopher-beckham/amr, tools.py:
dsprite_disentanglement_fv and dsprite_disentanglement) with its sample sizes, corrected where it
scored something else than it meant (docs/table4.md lists each difference):
  factor_vae_reference  L = 800 images per vote, 800 votes (160 per factor), codes scaled by their
                        standard deviation over all the votes' images, no pruning; majority vote per
                        code dimension (Kim & Mnih's classifier), every factor scored, the table
                        fitted on one set of 800 votes and scored on another;
  beta_vae_reference    50,000 points, each the mean |z1 - z2| over the 128 pairs of a batch of 256
                        images sharing one factor's value; multinomial logistic regression fitted on
                        them and scored on 10,000 other points.
"""
import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score

from iterators.dsprites import FactorSamples, flat_index

NEEDS_GRID = ("factor_vae", "beta_vae", "factor_vae_reference", "beta_vae_reference")  # they fix one factor


def grid_missing(dataset):
    """Why the NEEDS_GRID metrics cannot score `dataset`: a line for factor samples, None for a grid."""
    if isinstance(dataset, FactorSamples):
        return (f"needs the complete factor grid (it fixes one factor and varies the others); the file holds "
                f"{len(dataset)} samples, not every combination once")
    return None


class Codes:
    """Codes of the dataset's images, encoded on first use and kept (each image at most once)."""

    def __init__(self, dataset, encode_fn, chunk=4096):
        self.dataset, self.encode_fn, self.chunk = dataset, encode_fn, chunk
        self.sizes = np.asarray(dataset.factor_sizes, dtype=np.int64)
        self.samples = isinstance(dataset, FactorSamples)
        n = len(dataset) if self.samples else int(np.prod(self.sizes))
        self.codes, self.done = None, np.zeros(n, dtype=bool)

    def __call__(self, factors):
        """Grid only: factors [..., F] -> codes [..., D]."""
        if self.samples:
            raise ValueError("factor classes address images only in a complete factor grid")
        flat = flat_index(factors.reshape(-1, len(self.sizes)), self.sizes)
        return self.at(flat).reshape(*factors.shape[:-1], -1)

    def at(self, index):
        """Image indices [n] (flat grid indices, or rows of factor samples) -> codes [n, D]."""
        todo = np.unique(index[~self.done[index]])
        for i in range(0, len(todo), self.chunk):
            part = todo[i:i + self.chunk]
            z = np.asarray(self.encode_fn(self.dataset.images(part))).reshape(len(part), -1)
            if self.codes is None:  # float32: the whole grid's codes can be large
                self.codes = np.zeros((len(self.done), z.shape[1]), dtype=np.float32)
            self.codes[part], self.done[part] = z, True
        return self.codes[index].astype(np.float64)


def cached_codes(dataset, encode_fn):
    return encode_fn if isinstance(encode_fn, Codes) else Codes(dataset, encode_fn)


def sample_factors(dataset, shape, rng):
    """Independent uniform factor classes, int64 [*shape, F]."""
    return np.stack([rng.randint(n, size=shape) for n in dataset.factor_sizes], -1)


def draws(dataset, codes, sizes, rng):
    """(factor classes [n, F], codes [n, D]) for draws of each of `sizes` images. Grid: independent
    uniform factor classes. Samples: rows of the file, without replacement (so the draws are disjoint)
    while it holds sum(sizes) rows, else with replacement."""
    if not isinstance(dataset, FactorSamples):
        factors = [sample_factors(dataset, (n,), rng) for n in sizes]
        return [(f, codes(f)) for f in factors]
    total = sum(sizes)
    rows = np.split(rng.choice(len(dataset), total, replace=total > len(dataset)), np.cumsum(sizes)[:-1])
    return [(dataset.classes[r], codes.at(r)) for r in rows]


def _fixed_factor_groups(dataset, n, batch_size, rng):
    """n groups of batch_size factor draws; in each, one random factor takes the group's first value
    throughout: (factors [n, batch_size, F], which [n])."""
    which = rng.randint(len(dataset.factor_sizes), size=n)
    factors = sample_factors(dataset, (n, batch_size), rng)
    rows = np.arange(n)
    factors[rows, :, which] = factors[rows, :1, which]
    return factors, which


def factor_vae_score(dataset, encode_fn, rng, batch_size=64, num_train=10000, num_eval=5000,
                     num_variance_estimate=10000, prune_threshold=0.05):
    """Kim & Mnih 2018: fix one factor in a group, find the code dimension of least variance
    (relative to its global variance), and predict the factor from that dimension by majority
    vote. Dimensions whose global standard deviation is below prune_threshold are left out.
    Chance is 1 / number of factors; a code with no active dimension scores 0."""
    codes = cached_codes(dataset, encode_fn)
    global_var = codes(sample_factors(dataset, (num_variance_estimate,), rng)).var(0, ddof=1)
    active = np.flatnonzero(np.sqrt(global_var) >= prune_threshold)
    if len(active) == 0:
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}

    def votes(n, chunk=1000):  # [factors, code dims]; chunks bound the [chunk, batch, D] codes
        table = np.zeros((len(dataset.factor_sizes), len(global_var)), dtype=np.int64)
        for start in range(0, n, chunk):
            factors, which = _fixed_factor_groups(dataset, min(chunk, n - start), batch_size, rng)
            local_var = codes(factors)[:, :, active].var(1, ddof=1)
            np.add.at(table, (which, active[np.argmin(local_var / global_var[active], 1)]), 1)
        return table

    train = votes(num_train)
    classifier = train.argmax(0)  # each code dimension votes for its most frequent factor
    accuracy = lambda table: float(table[classifier, np.arange(table.shape[1])].sum() / table.sum())
    return {"train_accuracy": accuracy(train), "eval_accuracy": accuracy(votes(num_eval)),
            "num_active_dims": int(len(active))}


def beta_vae_score(dataset, encode_fn, rng, batch_size=64, num_train=10000, num_eval=5000):
    """Higgins et al. 2017: the mean |z1 - z2| over pairs sharing one factor is the feature; a
    logistic regression predicts which factor was shared. Chance is 1 / number of factors."""
    codes = cached_codes(dataset, encode_fn)
    n_factors = len(dataset.factor_sizes)

    def points(n, chunk=1000):  # chunks bound the [chunk, batch, D] codes
        features, labels = [], []
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            which = rng.randint(n_factors, size=m)
            first, second = sample_factors(dataset, (m, batch_size), rng), sample_factors(dataset, (m, batch_size), rng)
            rows = np.arange(m)
            second[rows, :, which] = first[rows, :, which]  # each pair shares the value of factor `which`
            features.append(np.abs(codes(first) - codes(second)).mean(1))
            labels.append(which)
        return np.concatenate(features), np.concatenate(labels)

    x_train, y_train = points(num_train)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    x_eval, y_eval = points(num_eval)
    return {"train_accuracy": float(model.score(x_train, y_train)), "eval_accuracy": float(model.score(x_eval, y_eval))}


def _histogram_discretize(z, num_bins):
    return np.stack([np.digitize(col, np.histogram(col, num_bins)[1][:-1]) for col in z.T], 1)


def mig(dataset, encode_fn, rng, num_train=10000, num_bins=20):
    """Chen et al. 2018: per factor, the gap between the two largest mutual informations with a
    code dimension (codes binned into num_bins equal-width bins), over the factor's entropy; averaged."""
    ((factors, codes),) = draws(dataset, cached_codes(dataset, encode_fn), [num_train], rng)
    z = _histogram_discretize(codes, num_bins)
    mi = np.array([[mutual_info_score(f, c) for f in factors.T] for c in z.T])  # [D, F]
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    top = np.sort(mi, axis=0)[::-1]
    gaps = (top[0] - (top[1] if len(top) > 1 else 0)) / entropy
    return {"discrete_mig": float(gaps.mean()), "per_factor": [float(g) for g in gaps]}


def dci(dataset, encode_fn, rng, num_train=10000, num_test=5000):
    """Eastwood & Williams 2018 with gradient boosted trees (as disentanglement_lib): importance of
    each code dimension for predicting each factor; disentanglement (one factor per dimension) and
    completeness (one dimension per factor) are 1 - normalised entropies weighted by importance;
    informativeness is the trees' accuracy."""
    (f_train, z_train), (f_test, z_test) = draws(dataset, cached_codes(dataset, encode_fn), [num_train, num_test], rng)
    importance = np.zeros((z_train.shape[1], f_train.shape[1]))
    acc_train, acc_test = [], []
    for k in range(f_train.shape[1]):
        trees = GradientBoostingClassifier(random_state=rng.randint(2 ** 31)).fit(z_train, f_train[:, k])
        importance[:, k] = np.nan_to_num(np.abs(trees.feature_importances_))  # no split at all: zeros
        acc_train.append(trees.score(z_train, f_train[:, k]))
        acc_test.append(trees.score(z_test, f_test[:, k]))

    def weighted_purity(matrix):  # rows: the units scored; 1 - entropy over the columns, by row importance
        purity = np.clip(1 - scipy.stats.entropy(matrix.T + 1e-11, base=matrix.shape[1]), 0, 1)
        weight = matrix.sum(1) if matrix.sum() > 0 else np.ones(len(matrix))
        return float((purity * weight / weight.sum()).sum())

    return {"disentanglement": weighted_purity(importance), "completeness": weighted_purity(importance.T),
            "informativeness_train": float(np.mean(acc_train)), "informativeness_test": float(np.mean(acc_test))}


def _fixed_value_groups(dataset, which, group_size, rng):
    """For each entry of `which` (a factor), a group of group_size factor draws in which that factor
    takes one random value throughout and the others vary freely: factors [len(which), group_size, F]."""
    sizes = np.asarray(dataset.factor_sizes)
    value = rng.randint(sizes[which])
    factors = sample_factors(dataset, (len(which), group_size), rng)
    factors[np.arange(len(which)), :, which] = value[:, None]
    return factors


def factor_vae_reference(dataset, encode_fn, rng, num_votes=800, group_size=800, num_eval_votes=800, chunk=100):
    """The reference's FactorVAE-style score (dsprite_disentanglement_fv) with its sizes: each factor in
    turn is fixed at a random value for num_votes // F votes of group_size images; the codes are divided
    by their standard deviation over all the votes' images, and each vote is the code dimension of least
    variance within its group. Corrected: every factor is scored (the reference left the last one out
    of its sum), the majority vote is Kim & Mnih's classifier (each code dimension predicts the factor
    that most often fixed it; the reference counted, per factor, the votes of its most frequent
    dimension, so one dimension could be right for every factor), and the vote table is scored on a
    second set of num_eval_votes votes (the reference scored the votes it fitted), scaled by the
    fitted draw's standard deviations. Dimensions that never vary cannot vote (the reference divided
    by their zero deviation). reference_formula_accuracy is the reference's own sum on the fitted
    votes, bugs included, to compare with its numbers. Chance is 1 / F; a constant code scores 0."""
    codes = cached_codes(dataset, encode_fn)
    n_factors = len(dataset.factor_sizes)

    def vote_codes(n):  # codes [n_factors * (n // n_factors), group_size, D] and the fixed factor of each group
        which = np.repeat(np.arange(n_factors), max(1, n // n_factors))
        z = np.concatenate([codes(_fixed_value_groups(dataset, which[i:i + chunk], group_size, rng))
                            for i in range(0, len(which), chunk)])
        return z, which

    z_train, y_train = vote_codes(num_votes)
    scale = z_train.reshape(-1, z_train.shape[-1]).std(0)
    active = np.flatnonzero(scale > 0)
    if len(active) == 0:
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "reference_formula_accuracy": 0.0, "num_active_dims": 0,
                "votes_per_factor": len(y_train) // n_factors}

    def table(z, which):  # [factors, code dims] vote counts
        votes = active[np.argmin((z[:, :, active] / scale[active]).var(1), 1)]
        counts = np.zeros((n_factors, z.shape[-1]), dtype=np.int64)
        np.add.at(counts, (which, votes), 1)
        return counts

    train = table(z_train, y_train)
    classifier = train.argmax(0)  # each code dimension votes for its most frequent factor
    accuracy = lambda t: float(t[classifier, np.arange(t.shape[1])].sum() / t.sum())  # noqa: E731
    reference_formula = float(train[:n_factors - 1].max(1).sum() / train.sum())  # for j in range(ys.max())
    del z_train
    return {"train_accuracy": accuracy(train), "eval_accuracy": accuracy(table(*vote_codes(num_eval_votes))),
            "reference_formula_accuracy": reference_formula, "num_active_dims": int(len(active)),
            "votes_per_factor": len(y_train) // n_factors}


def beta_vae_reference(dataset, encode_fn, rng, num_train=50000, num_eval=10000, batch_size=256, chunk=500):
    """The reference's BetaVAE-style score (dsprite_disentanglement) with its sizes: a point fixes a
    random factor at a random value for a batch of batch_size images (the others vary freely); its
    feature is the mean |z_even - z_odd| over the batch's batch_size // 2 pairs, its label the factor;
    a multinomial logistic regression (lbfgs, C = 1, unscaled features, as the reference) is fitted on
    num_train points. Corrected: it is scored on num_eval other points (the reference scored the
    points it fitted; train_accuracy is that number). Chance is 1 / F."""
    codes = cached_codes(dataset, encode_fn)
    n_factors = len(dataset.factor_sizes)

    def points(n):
        features, labels = [], []
        for start in range(0, n, chunk):
            which = rng.randint(n_factors, size=min(chunk, n - start))
            z = codes(_fixed_value_groups(dataset, which, batch_size, rng))
            features.append(np.abs(z[:, 0:batch_size - 1:2] - z[:, 1::2]).mean(1))
            labels.append(which)
        return np.concatenate(features), np.concatenate(labels)

    x_train, y_train = points(num_train)
    model = LogisticRegression(max_iter=100000).fit(x_train, y_train)  # lbfgs, multinomial
    x_eval, y_eval = points(num_eval)
    return {"train_accuracy": float(model.score(x_train, y_train)), "eval_accuracy": float(model.score(x_eval, y_eval))}


METRICS = {"factor_vae": factor_vae_score, "beta_vae": beta_vae_score, "mig": mig, "dci": dci}
REFERENCE_METRICS = {"factor_vae_reference": factor_vae_reference, "beta_vae_reference": beta_vae_reference}
ALL_METRICS = {**METRICS, **REFERENCE_METRICS}  # a metric's position here seeds its draws: append only


def compute(dataset, encode_fn, names, seed=0, num_train=10000, num_eval=5000, batch_size=64):
    """The named metrics (keys of ALL_METRICS); METRICS with disentanglement_lib's sample sizes by default
    (num_train, num_eval, batch_size), REFERENCE_METRICS always with the reference's. Each metric draws
    from its own RandomState([seed, position in ALL_METRICS]), so a score does not depend on which others
    run. On factor samples the NEEDS_GRID metrics are {"skipped": why} instead."""
    codes, missing = cached_codes(dataset, encode_fn), grid_missing(dataset)
    sizes = {"factor_vae": dict(batch_size=batch_size, num_train=num_train, num_eval=num_eval,
                                num_variance_estimate=num_train),
             "beta_vae": dict(batch_size=batch_size, num_train=num_train, num_eval=num_eval),
             "mig": dict(num_train=num_train), "dci": dict(num_train=num_train, num_test=num_eval),
             "factor_vae_reference": {}, "beta_vae_reference": {}}
    return {name: {"skipped": missing} if missing and name in NEEDS_GRID else
            ALL_METRICS[name](dataset, codes, np.random.RandomState([seed, list(ALL_METRICS).index(name)]),
                              **sizes[name])
            for name in names}
