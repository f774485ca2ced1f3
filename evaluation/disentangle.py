"""--mode disentangle / dsprite_disentangle_fv, and --disentangle_every during training: the
disentanglement metrics (evaluation/disentanglement_metrics.py) of a run's encoder on the dataset's factor
grid (or factor samples). The representation is model.encode (posterior means for the VAE), flattened.

Images: the metrics draw from the whole factor grid (train, valid and test images alike: the
FactorVAE and BetaVAE scores must fix one factor and vary the others freely, which only the full
grid allows); each metric fits its vote table or classifier on one draw and scores it on another.
A file that is not a complete grid (factor samples) gets MIG and DCI, drawn from all its images:
--mode disentangle records the other two as skipped with the reason, dsprite_disentangle_fv (nothing
left to compute) refuses, and --disentangle_every writes the MIG columns alone.
"""
import json

import torch

from iterators import to_float
from runs.errors import ConfigError
from runs.files import atomic_write_text
from runs.run_dir import load_for_eval

from .disentanglement_metrics import METRICS, NEEDS_GRID, Codes, compute, grid_missing

OPTIONS = {"seed": 0, "num_train": 10000, "num_eval": 5000, "batch_size": 64}  # --mode_override keys
MODE_METRICS = {"disentangle": list(METRICS), "dsprite_disentangle_fv": ["factor_vae"]}
EPOCH_METRICS = ["factor_vae", "beta_vae", "mig"]  # DCI's boosted trees take minutes on a CPU: mode only


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


def scores(model, data, device, names, options, batch_size):
    return compute(data.factors, Codes(data.factors, encoder(model, device, batch_size)), names, **options)


def columns(results):
    """Scalar entries as results.csv columns, e.g. factor_vae_eval_accuracy, mig_discrete_mig."""
    return {f"{name}_{key}": value for name, r in results.items() for key, value in r.items()
            if isinstance(value, (int, float))}


def epoch_columns(model, data, args, device):
    """EPOCH_METRICS with the default sample sizes, for the epoch's results.csv row (on factor samples
    the MIG columns alone: the skipped metrics have no scalar to write)."""
    return columns(scores(model, data, device, EPOCH_METRICS, OPTIONS, args.val_batch_size))


def images_note(factors):
    """Where the metrics' images come from, for the report."""
    if grid_missing(factors):
        return (f"drawn from all {len(factors)} images of the file, which are factor samples, not a complete grid: "
                f"MIG and DCI draw rows, without replacement while the file holds all of a metric's draws; "
                f"separate draws fit and score each metric")
    return f"drawn from all {len(factors)} images of the factor grid; separate draws fit and score each metric"


def disentangle(args, resolved, data, model, run_dir):
    require_factors(data, f"--mode {args.mode}")
    missing, names = grid_missing(data.factors), MODE_METRICS[args.mode]
    if missing and set(names) <= set(NEEDS_GRID):
        raise ConfigError(f"--mode {args.mode}: {', '.join(names)} {missing}; use --mode disentangle for MIG and DCI")
    options = resolved.mode_options
    if min(options["num_train"], options["num_eval"], options["batch_size"]) < 2:
        raise ConfigError("--mode_override: num_train, num_eval and batch_size must be >= 2")
    path, state = load_for_eval(args, model, run_dir)
    results = scores(model, data, resolved.device, names, options, args.val_batch_size)
    factors = data.factors
    report = {"checkpoint": str(path), "epoch": state["epoch"], "dataset": args.dataset,
              "factors": dict(zip(factors.factor_names, factors.factor_sizes)), "images": images_note(factors),
              "options": options, "metrics": results}
    # the FactorVAE-only mode writes its own file, so it never replaces the full set of scores
    out = run_dir / ("disentangle_fv.json" if args.mode == "dsprite_disentangle_fv" else "disentangle.json")
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in columns(results).items()))
    skipped = [name for name, r in results.items() if "skipped" in r]
    if skipped:
        print(f"skipped {', '.join(skipped)}: {missing}")
    print(f"wrote {out}")
