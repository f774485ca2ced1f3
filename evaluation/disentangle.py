"""--mode disentangle / dsprite_disentangle_fv, and --disentangle_every during training: the
disentanglement metrics (evaluation/disentanglement_metrics.py) of a run's encoder on the dataset's factor
grid (or factor samples). The representation is model.encode (posterior means for the VAE), flattened.

Images: the metrics draw from the whole factor grid (train, valid and test images alike: the
FactorVAE and BetaVAE scores must fix one factor and vary the others freely, which only the full
grid allows); each metric fits its vote table or classifier on one draw and scores it on another.
A file that is not a complete grid (factor samples) gets MIG and DCI, drawn from all its images:
--mode disentangle records the other two as skipped with the reason, dsprite_disentangle_fv (nothing
left to compute) refuses, and --disentangle_every writes the MIG columns alone.

Which metrics: the mode's (MODE_METRICS) unless --mode_override metrics=... names others: 'all' (the
four above and the reference's two, REFERENCE_METRICS: docs/table4.md), 'reference' (those two), or
names joined by '+', e.g. --mode_override="metrics='mig+factor_vae_reference'".

Besides the scores, the mode writes a latent traversal of the checkpoint (docs/table4.md): for one
validation image (--vis_seed), each code dimension in turn swept from the 2.5th to the 97.5th
percentile of its values over the images the metrics encoded, the others kept at the image's code.
disentangle.json, traversal.png and traversal.npz go to disentangle/<checkpoint>_epoch<N>/
(dsprite_disentangle_fv/<checkpoint>_epoch<N>/disentangle_fv.json for that mode; runs written before
this layout keep disentangle.json in the run folder, where evaluation.report also looks).
"""
import json

import numpy as np
import torch

from amr_errors import ConfigError
from iterators import to_float, vis_batch
from runs.files import atomic_write, atomic_write_text
from runs.images import save_grid

from .disentanglement_metrics import ALL_METRICS, METRICS, NEEDS_GRID, REFERENCE_METRICS, Codes, compute, grid_missing

# --mode_override keys; "metrics": "" keeps the mode's MODE_METRICS (see above)
OPTIONS = {"seed": 0, "num_train": 10000, "num_eval": 5000, "batch_size": 64, "metrics": ""}
MODE_METRICS = {"disentangle": list(METRICS), "dsprite_disentangle_fv": ["factor_vae"]}
METRIC_SETS = {"all": list(ALL_METRICS), "reference": list(REFERENCE_METRICS)}
EPOCH_METRICS = ["factor_vae", "beta_vae", "mig"]  # DCI's boosted trees take minutes on a CPU: mode only
COMPUTE_OPTIONS = ("seed", "num_train", "num_eval", "batch_size")  # the options compute() takes
TRAVERSAL = {"steps": 10, "max_dims": 16, "percentiles": (2.5, 97.5)}


def encoder(model, device, batch_size):
    """uint8 images [n, C, H, W] -> numpy codes [n, D], in batches on `device`."""
    @torch.no_grad()
    def encode(images):
        return torch.cat([model.encode(to_float(images[i:i + batch_size].to(device))).flatten(1).float().cpu()
                          for i in range(0, len(images), batch_size)]).numpy()
    return encode


def require_factors(data, flag):
    if data.factors is None:
        raise ConfigError(f"{flag} needs a dataset with ground-truth factors; use --dataset dsprite")


def scores(model, data, device, names, options, batch_size, codes=None):
    codes = codes if codes is not None else Codes(data.factors, encoder(model, device, batch_size))
    return compute(data.factors, codes, names, **{k: options[k] for k in COMPUTE_OPTIONS if k in options})


def metric_names(chosen, default):
    """The metrics named by the option 'metrics' (see the module's docstring); `default` when it is empty."""
    if not chosen.strip():
        return list(default)
    if chosen.strip() in METRIC_SETS:
        return METRIC_SETS[chosen.strip()]
    names = chosen.replace("+", " ").replace(",", " ").split()
    bad = [n for n in names if n not in ALL_METRICS]
    if bad or not names:
        raise ConfigError(f"--mode_override metrics='{chosen}': unknown metric {', '.join(bad) or '(none given)'}; "
                          f"use {', '.join(sorted(METRIC_SETS))} or names from {', '.join(ALL_METRICS)} joined by '+'")
    return list(dict.fromkeys(names))


@torch.no_grad()
def traversal(model, x, codes, steps=10, max_dims=16, percentiles=(2.5, 97.5)):
    """x: one image [1, C, H, W]; codes: [n, D] codes of other images (the sweep's range per dimension).
    Returns (images [dims, steps + 1, C, H, W]: the image, then its decodes with dimension d swept from
    the lower to the upper percentile, the others at the image's code; {"low", "high"} per dimension)."""
    z = model.encode(x)
    flat = z.flatten(1).float()
    dims = min(flat.shape[1], max_dims)
    low, high = np.percentile(codes, percentiles, axis=0)
    rows = []
    for d in range(dims):
        swept = flat.repeat(steps, 1)
        swept[:, d] = torch.linspace(float(low[d]), float(high[d]), steps, device=flat.device)
        rows.append(torch.cat([x, model.generator.decode(swept.to(z.dtype).view(steps, *z.shape[1:]))]))
    return torch.stack(rows), {"low": [float(v) for v in low[:dims]], "high": [float(v) for v in high[:dims]]}


def write_traversal(model, data, codes, vis_seed, device, out):
    """traversal.png / traversal.npz in `out` from the codes the metrics encoded; returns the json entry."""
    seen = codes.codes[codes.done] if codes.codes is not None else None
    if seen is None or len(seen) < 2:
        return {"skipped": "no codes were encoded"}
    x, _ = vis_batch(data.valid, 1, vis_seed, device)
    images, ranges = traversal(model, x, seen, **TRAVERSAL)
    images = images.float().cpu()
    save_grid(images.flatten(0, 1), out / "traversal.png", nrow=images.shape[1])
    atomic_write(out / "traversal.npz", lambda f: np.savez_compressed(f, images=images.numpy().astype(np.float16)))
    return {"file": "traversal.png", "dims": images.shape[0], "steps": TRAVERSAL["steps"],
            "percentiles": list(TRAVERSAL["percentiles"]), "codes_seen": int(len(seen)), **ranges}


def columns(results):
    """Scalar entries as results.csv columns, e.g. factor_vae_eval_accuracy, mig_discrete_mig."""
    return {f"{name}_{key}": value for name, r in results.items() for key, value in r.items()
            if isinstance(value, (int, float))}


def epoch_columns(model, data, device, batch_size=64):
    """EPOCH_METRICS with the default sample sizes, for the epoch's results.csv row (on factor samples
    the MIG columns alone: the skipped metrics have no scalar to write)."""
    return columns(scores(model, data, device, EPOCH_METRICS, OPTIONS, batch_size))


def images_note(factors):
    """Where the metrics' images come from, for the report."""
    if grid_missing(factors):
        return (f"drawn from all {len(factors)} images of the file, which are factor samples, not a complete grid: "
                f"MIG and DCI draw rows, without replacement while the file holds all of a metric's draws; "
                f"separate draws fit and score each metric")
    return f"drawn from all {len(factors)} images of the factor grid; separate draws fit and score each metric"


def checked_metrics(data, mode, default, options):
    """The metrics to compute (the option 'metrics', else `default`), refusing what cannot be computed."""
    require_factors(data, f"--mode {mode}")
    missing, names = grid_missing(data.factors), metric_names(options.get("metrics", ""), default)
    if missing and set(names) <= set(NEEDS_GRID):
        raise ConfigError(f"--mode {mode}: {', '.join(names)} {missing}; use --mode disentangle for MIG and DCI")
    if min(options["num_train"], options["num_eval"], options["batch_size"]) < 2:
        raise ConfigError("--mode_override: num_train, num_eval and batch_size must be >= 2")
    return names


def score_and_write(model, data, device, names, options, batch_size, vis_seed, folder, checkpoint, epoch,
                    dataset, file_name="disentangle.json"):
    """Scores the loaded checkpoint, writes the traversal and the report into `folder` (the checkpoint's
    mode folder) and prints the scores."""
    codes = Codes(data.factors, encoder(model, device, batch_size))
    results = scores(model, data, device, names, options, batch_size, codes)
    factors = data.factors
    report = {"checkpoint": str(checkpoint), "epoch": epoch, "dataset": dataset,
              "factors": dict(zip(factors.factor_names, factors.factor_sizes)), "images": images_note(factors),
              "options": options, "metrics": results,
              "traversal": write_traversal(model, data, codes, vis_seed, device, folder)}
    out = folder / file_name
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in columns(results).items()))
    skipped = [name for name, r in results.items() if "skipped" in r]
    if skipped:
        print(f"skipped {', '.join(skipped)}: {grid_missing(factors)}")
    print(f"wrote {out} and the traversal")
    return report


def disentangle(run, options, metrics, file_name="disentangle.json"):
    """--mode disentangle (and dsprite_disentangle_fv): `run` a runs.restore.ModeRun, `metrics` the mode's
    default metrics, `file_name` what the scores are written as."""
    names = checked_metrics(run.data, run.mode, metrics, options)
    loaded = run.load()
    out = run.spec.output
    score_and_write(run.model, run.data, run.device, names, options, out.val_batch_size, out.vis_seed,
                    run.folder(loaded), loaded.path, loaded.epoch, run.spec.data.dataset, file_name)
