"""--mode lines_eval and --lines_eval_every: ACAI's interpolation benchmark on --dataset lines.

The ideal interpolation between two lines turns the angle at an even pace, and every frame of it is
a true line. ACAI (Berthelot et al., ICLR 2019, section 3.1) scores an interpolation by
- mean distance: the cosine distance of each decoded frame to the nearest of 10,000 true lines
  (angles evenly spaced over the circle), averaged over every frame of every interpolation;
- smoothness: with the nearest true line's angle of each frame, unwrapped along the interpolation,
  the largest step between consecutive frames divided by the total change of angle, minus the
  ideal 1 / (n_steps - 1). An interpolation whose ends have the same angle (total change < 1e-4)
  has no score (NaN); as in ACAI, the mean divides the sum of the scores that exist by the number
  of interpolations (a NaN counts as 0), and is NaN only if no interpolation has a score.
Both are 0 for the ideal interpolation (up to the 2 pi / 10,000 spacing of the true lines).

Protocol (ACAI's eval_custom_lines32): the first 2 x 256 validation images make 256 pairs (image i
with image 256 + i), each interpolated in 16 frames, every frame decoded (the ends are the two
reconstructions). Codes are mixed with the run's mixer's deterministic weights, as the
interpolation grids do (models.interpolation; Bernoulli mixers swap channels in a fixed order).
Decodes are clipped to [-1, 1], the data's range, before scoring (so the saved interpolations
rescore to the same numbers). Beside the model: `pixel`, the same pairs blended in pixel space, and
`ideal`, the angle interpolated along the shorter arc and drawn as true lines.
"""
import json
from functools import lru_cache

import numpy as np
import torch

from iterators import to_float
from iterators.lines import SIZE, draw_lines, split_angles
from models.interpolation import decode_mixes
from models.mixing import interpolation_weights
from amr_errors import ConfigError
from runs.files import atomic_write, atomic_write_text
from runs.images import save_grid

N_TRUE_LINES = 10000
OPTIONS = {"n_interpolations": 256, "n_steps": 16, "grid_rows": 16}  # --mode_override keys
NO_CHANGE = 1e-4  # total angle change below which smoothness is undefined (ACAI's threshold)


REFINE = 8  # neighbours on each side of the float32 best match rescored in float64


@lru_cache(maxsize=2)
def true_lines(size=SIZE):
    """(angles [N_TRUE_LINES] float64, unit-norm flattened images [N_TRUE_LINES, size * size] in float32
    and in float64)."""
    angles = np.linspace(0, 2 * np.pi, N_TRUE_LINES, endpoint=False)
    images = draw_lines(angles, size).flatten(1).double()
    unit = images / images.norm(dim=1, keepdim=True)
    return angles, unit.float(), unit


def closest_line(images, chunk=512):
    """images [M, H, W] (float, any range) -> (cosine distance to the nearest true line [M] float64,
    that line's angle [M] float64). An all-zero image has no direction: distance 1 (cosine 0).

    Neighbouring true lines differ in cosine by about 1e-6, as much as float32 rounding over 1024
    pixels, so the float32 search over all lines is followed by a float64 one over the REFINE
    neighbours on either side of its best match."""
    angles, lines32, lines64 = true_lines(images.shape[-1])
    flat = images.reshape(len(images), -1).double()
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    window = torch.arange(-REFINE, REFINE + 1)
    best, index = [], []
    for i in range(0, len(flat), chunk):
        q = flat[i:i + chunk]
        rough = (q.float() @ lines32.T).argmax(1)
        near = (rough[:, None] + window) % len(angles)  # [m, 2 * REFINE + 1]
        cos = torch.einsum("md,mkd->mk", q, lines64[near])
        c, k = cos.max(1)
        best.append(c)
        index.append(near.gather(1, k[:, None])[:, 0])
    best, index = torch.cat(best).numpy(), torch.cat(index).numpy()
    return np.maximum(1 - best, 0), angles[index]  # rounding can put an exact match a hair below 0


def smoothness(angles):
    """angles [n_interpolations, n_steps] (radians) -> scores [n_interpolations], NaN where the two
    ends have the same angle."""
    angles = np.unwrap(np.atleast_2d(np.asarray(angles, dtype=np.float64)), axis=-1)
    total = np.abs(angles[:, -1] - angles[:, 0])
    steps = np.abs(np.diff(angles, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        score = steps.max(-1) / total - 1 / (angles.shape[1] - 1)
    score[total < NO_CHANGE] = np.nan
    return score


def mean_smoothness(scores):
    """ACAI's mean: sum of the defined scores over the number of interpolations; NaN if none is."""
    scores = np.asarray(scores, dtype=np.float64)
    defined = ~np.isnan(scores)
    return float(scores[defined].sum() / len(scores)) if defined.any() else float("nan")


def line_scores(interpolations):
    """interpolations [n_interpolations, n_steps, H, W] -> {mean_distance, smoothness, n_undefined}."""
    n, steps = interpolations.shape[:2]
    distance, angles = closest_line(interpolations.reshape(n * steps, *interpolations.shape[2:]))
    scores = smoothness(angles.reshape(n, steps))
    return {"mean_distance": float(distance.mean()), "smoothness": mean_smoothness(scores),
            "n_undefined_smoothness": int(np.isnan(scores).sum())}


def pixel_interpolations(x_a, x_b, n_steps):
    """[P, n_steps, H, W]: x_a blended into x_b in pixel space (weights 1 - t, t; t = 0 .. 1)."""
    t = torch.linspace(0, 1, n_steps).view(1, -1, 1, 1)
    return (1 - t) * x_a[:, None] + t * x_b[:, None]


def ideal_interpolations(angle_a, angle_b, n_steps, size=SIZE):
    """[P, n_steps, size, size]: true lines whose angle goes from angle_a to angle_b along the
    shorter arc at an even pace."""
    a, b = np.asarray(angle_a, dtype=np.float64), np.asarray(angle_b, dtype=np.float64)
    turn = (b - a + np.pi) % (2 * np.pi) - np.pi  # in [-pi, pi)
    t = np.linspace(0, 1, n_steps)
    return draw_lines(a[:, None] + t * turn[:, None], size).view(len(a), n_steps, size, size)


@torch.no_grad()
def model_interpolations(model, x_a, x_b, mixer, n_steps, batch_pairs=256):
    """[P, n_steps, H, W]: decodes of the codes of x_a mixed into those of x_b, clipped to [-1, 1]."""
    channels = model.encode(x_a[:1]).shape[1]
    weights = interpolation_weights(mixer, n_steps, channels)
    out = [decode_mixes(model, [x_a[i:i + batch_pairs], x_b[i:i + batch_pairs]], weights)
           for i in range(0, len(x_a), batch_pairs)]
    return torch.cat(out)[:, :, 0].float().clamp(-1, 1).cpu()


def require_lines(data, what):
    if data.name != "lines":
        raise ConfigError(f"{what} needs --dataset lines (the benchmark knows its ideal interpolations only "
                          f"there); this run is on --dataset {data.name}")


def _pairs(data, options, device):
    n = options["n_interpolations"]
    if n < 1 or options["n_steps"] < 2:
        raise ConfigError("--mode_override: n_interpolations must be >= 1 and n_steps >= 2")
    if 2 * n > len(data.valid):
        raise ConfigError(f"--mode_override: n_interpolations {n} needs {2 * n} validation images, the split has "
                          f"{len(data.valid)}; use at most {len(data.valid) // 2}")
    x = to_float(data.valid.images[:2 * n]).to(device)
    return x[:n], x[n:]


def interpolations(model, data, mixer, options, device, references=True):
    """{"model": the model's interpolations [n, n_steps, H, W] (on the CPU), and with `references`
    "pixel" and "ideal" of the same pairs}. The references do not depend on the model."""
    x_a, x_b = _pairs(data, options, device)
    n, steps = len(x_a), options["n_steps"]
    was_training = model.training
    model.eval()
    try:
        out = {"model": model_interpolations(model, x_a, x_b, mixer, steps)}
    finally:
        model.train(was_training)
    if references:
        angles = split_angles("valid")
        out["pixel"] = pixel_interpolations(x_a[:, 0].cpu(), x_b[:, 0].cpu(), steps)
        out["ideal"] = ideal_interpolations(angles[:n], angles[n:2 * n], steps)
    return out


def epoch_columns(model, data, device, mixer="mixup"):
    """The model's two numbers with the default protocol, for the epoch's results.csv row (the
    references, the same every epoch, are left to --mode lines_eval)."""
    scores = line_scores(interpolations(model, data, mixer, OPTIONS, device, references=False)["model"])
    return {"lines_mean_distance": scores["mean_distance"], "lines_smoothness": scores["smoothness"]}


def _json_number(value):
    return None if isinstance(value, float) and np.isnan(value) else value  # JSON has no NaN


def lines_eval(run, options):
    require_lines(run.data, f"--mode {run.mode}")
    loaded, mixer = run.load(), run.spec.model.mixer
    frames = interpolations(run.model, run.data, mixer, options, run.device)
    scores = {name: line_scores(x) for name, x in frames.items()}
    decoded = frames["model"]
    n, steps = decoded.shape[:2]
    report = {name: {k: _json_number(v) for k, v in s.items()} for name, s in scores.items()}
    report.update(n_interpolations=n, n_steps=steps, checkpoint=str(loaded.path), epoch=loaded.epoch,
                  steps=loaded.steps, mixer=mixer,
                  protocol=f"validation images i and {n} + i, {steps} decoded frames each; cosine distance to the "
                           f"nearest of {N_TRUE_LINES} true lines; smoothness as ACAI (evaluation/lines_benchmark.py)")
    out = run.folder(loaded)
    rows = min(options["grid_rows"], n)
    grid = torch.stack([frames[name][:rows] for name in ("pixel", "model", "ideal")], 1)  # [rows, 3, steps, H, W]
    save_grid(grid.flatten(0, 2)[:, None], out / "grid.png", nrow=steps)
    atomic_write(out / "interpolations.npz", lambda f: np.savez_compressed(f, interpolations=decoded.numpy()))
    text = json.dumps(report, indent=2) + "\n"
    atomic_write_text(out / "lines_eval.json", text)
    m = scores["model"]
    print(f"lines_eval: mean_distance={m['mean_distance']:.4f} smoothness={m['smoothness']:.4f} "
          f"(pixel {scores['pixel']['mean_distance']:.4f} / {scores['pixel']['smoothness']:.4f}, "
          f"ideal {scores['ideal']['mean_distance']:.4f} / {scores['ideal']['smoothness']:.4f})")
    print(f"wrote {out}/lines_eval.json, interpolations.npz, grid.png (rows of three: pixel, model, ideal)")
