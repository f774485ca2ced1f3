"""--mode probe (alias logreg) and --mode embedding: a linear probe on the frozen encoder.

Protocol (the offline probe): the checkpoint's encoder maps every train/valid/test image to its
flattened bottleneck code; a StandardScaler is fitted on train; for each C in C_GRID a
multinomial logistic regression (scikit-learn, lbfgs) is fitted on the scaled train codes; the
C with the best valid accuracy is kept (ties: the smaller C, i.e. more regularisation), and the
valid and test accuracy of that fit are reported. The same is done for the randomly initialised
encoder the run started from (same --seed, no weights loaded), so a score can be read against
what random features already give. --mode_override train_examples=N fits on the first N training
examples only (the training split is already a fixed random order), for short evaluations.
The result goes to probe/<checkpoint>_epoch<N>/probe.json (--resume picks the checkpoint), so that a
run's checkpoints can be compared over training (evaluation.report, which also reads the probe.json and
probe_epoch<N>.json that runs written before this layout keep in their folder).
The random-init fit does not depend on the checkpoint, so a later probe of the same run on the same
examples reuses the earlier one (random_init_from names the file; null when fitted).
"""
import copy
import dataclasses
import json
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from amr_errors import ConfigError
from runs.files import atomic_write, atomic_write_text

from .features import SPLITS, encode_dataset

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # inverse L2 strength, chosen on valid
MAX_ITER = 1000
OPTIONS = {"train_examples": 0}  # --mode_override keys; 0: every training example
PROTOCOL = ("flattened bottleneck codes; StandardScaler fitted on train; multinomial LogisticRegression "
            "(lbfgs) fitted on train for each C in C_grid; the C with the best valid accuracy is kept "
            "(ties: smaller C); accuracies are those of that fit")


def fit_logreg(features, c_grid=C_GRID):
    """features: {split: (codes, labels)}. Returns the chosen C, its train/valid/test accuracy and the grid."""
    (x_train, y_train), (x_valid, y_valid) = features["train"], features["valid"]
    fits, grid = [], []
    for c in c_grid:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=MAX_ITER))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # recorded: iterations == MAX_ITER
            clf.fit(x_train, y_train)
        fits.append((clf.score(x_valid, y_valid), c, clf))
        grid.append({"C": c, "valid_acc": fits[-1][0], "iterations": int(clf[-1].n_iter_.max())})
    _, c, clf = max(fits, key=lambda fit: fit[0])  # the first of equals: the smallest C
    return {"C": c, **{f"{s}_acc": clf.score(*features[s]) for s in SPLITS}, "grid": grid}


def _probe_data(data, train_examples):
    if train_examples < 0:
        raise ConfigError(f"--mode_override train_examples={train_examples}: use 0 (all) or a positive count")
    if not train_examples or train_examples >= len(data.train):
        return data
    return dataclasses.replace(data, train=data.train.take(range(train_examples)))


def _earlier_random_init(run_dir, n):
    """The random-init fit depends on the run's flags only, not on the checkpoint: the one an earlier
    probe of this run made on the same examples (same protocol, C grid and split sizes), if any."""
    for f in sorted(run_dir.glob("probe/*/probe.json")) + sorted(run_dir.glob("probe_epoch*.json")):
        try:
            old = json.loads(f.read_text())
            if (old["protocol"], old["C_grid"], old["n"]) == (PROTOCOL, list(C_GRID), n):
                return old["random_init"], str(f.relative_to(run_dir))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None, None


def probe(run, options):
    data = _probe_data(run.data, options["train_examples"])
    batch_size, model = run.spec.output.val_batch_size, run.model
    untrained = copy.deepcopy(model)  # built from --seed: the networks training started from
    loaded = run.load()
    trained = encode_dataset(model, data, batch_size, run.device)
    n = {s: len(trained[s][1]) for s in SPLITS}
    random_init, source = _earlier_random_init(run.run_dir, n)
    if random_init is None:
        random_init = fit_logreg(encode_dataset(untrained, data, batch_size, run.device))
    result = {"checkpoint": str(loaded.path), "epoch": loaded.epoch, "steps": loaded.steps, "protocol": PROTOCOL,
              "C_grid": list(C_GRID), "n": n, "feature_dim": trained["train"][0].shape[1],
              "trained": fit_logreg(trained), "random_init": random_init,
              "random_init_from": source}  # source: None when fitted here
    out = run.folder(loaded) / "probe.json"
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    t, r = result["trained"], result["random_init"]
    print(f"probe (epoch {loaded.epoch}): trained encoder valid {t['valid_acc']:.4f} test {t['test_acc']:.4f} "
          f"(C={t['C']:g}); random init valid {r['valid_acc']:.4f} test {r['test_acc']:.4f} "
          f"(C={r['C']:g}); wrote {out}")


def embedding(run, options):
    loaded = run.load()
    features = encode_dataset(run.model, run.data, run.spec.output.val_batch_size, run.device)
    arrays = {f"{s}_{kind}": a for s, pair in features.items() for kind, a in zip(("features", "labels"), pair)}
    out = run.folder(loaded) / "embedding.npz"
    atomic_write(out, lambda f: np.savez(f, checkpoint=str(loaded.path), epoch=loaded.epoch, **arrays))
    print(f"embedding (epoch {loaded.epoch}): {features['train'][0].shape[1]}-d codes of "
          f"{', '.join(f'{len(features[s][1])} {s}' for s in SPLITS)} examples; wrote {out}")
