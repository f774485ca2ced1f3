"""The synthetic lines dataset of ACAI (Berthelot et al., ICLR 2019, section 3): 32 x 32 images of a
line from the centre at an angle, for which the ideal interpolation is known (turn the angle).

The lines are ACAI's (`draw_line` in brain-research/acai `lib/data.py`, which draws both its data and
the 10,000 true lines of its benchmark), re-implemented here vectorised and equal to it to float32
precision at every angle (tests/test_lines.py checks it against a plain loop that follows ACAI's
steps). The drawing, in ACAI's coordinates (x the column, y the row, both in pixels, pixel (i, j)
spanning rows [i, i + 1] and columns [j, j + 1], so a 32 px image's centre is a pixel corner):
- the line runs from the centre (16, 16) to (16 + 15 cos a, 16 - 15 sin a): 1 px short of the
  border, counter-clockwise as the image is shown (row 0 at the top), angle 0 pointing right;
- its major axis is the one along which it extends further (rows if the extents tie). It is drawn
  one major index (row or column) at a time, in increasing order from its lower end to its higher
  one: each holds a run 2 px (the width) long along the minor axis (not 2 px across the line), anti-aliased at
  its two ends by the fraction of each end pixel the run covers;
- the run of major index q starts at p0 - 1 + (q - q0 - 1/2) * slope along the minor axis, (p0, q0)
  the lower end: centred on where the line is at major coordinate q - 1/2, one pixel before the
  index's middle q + 1/2 (ACAI's formula; it shifts off-axis lines by up to a pixel along the minor
  axis);
- major indices covered: floor(q0) .. ceil(q1) - 1; the first, if q0 is not whole, is weighted by
  the fraction ceil(q0) - q0 it covers, every other one by 1, including the last one even where the
  line ends part-way into it (ACAI's branch for a partial last index is never reached);
- a pixel's value is 2 * (its weight x its covered fraction) - 1: background -1, fully covered 1.
So along the axes a line is a 2 x 15 px bar; off them it is 2 px thick along its minor axis, and
its area (the sum of (value + 1) / 2, 2 per covered index x its weight) is 2 L where the line's far
end is its lower one and 2 ceil(L) where it is its higher one, L = 15 max(|cos a|, |sin a|) its
major extent (about 21.2 on the diagonals to 30 on the axes).
Labels are the angle's tenth of the circle (10 classes, as ACAI), so the linear probe has something
to predict.

The angles of every split come from np.random.RandomState(0) (uniform in [0, 2 pi)), so the data is
the same on every machine and for every run seed; nothing is downloaded or read from disk.
"""
import math
from functools import lru_cache

import numpy as np
import torch

from .splits import Split

SIZE = 32
WIDTH = 2.0
SPLIT_SIZES = {"train": 20000, "valid": 2000, "test": 2000}
N_CLASSES = 10


def _endpoints(angles, size):
    """ACAI's ends of each line in (minor, major) pixel coordinates, the lower major end first:
    (p0, q0, p1, q1) float64 [N] each, and `transposed` [N] bool (True: the major axis is the columns).
    The cosine and sine are Python's (libm's, as ACAI's `math.cos`), not numpy's vectorised ones, which
    may differ in the last bit on some CPUs."""
    c = size * 0.5
    col_end = c + (c - 1) * np.array([math.cos(-a) for a in angles.tolist()], dtype=np.float64)
    row_end = c + (c - 1) * np.array([math.sin(-a) for a in angles.tolist()], dtype=np.float64)
    transposed = np.abs(c - row_end) < np.abs(c - col_end)  # extends further along the columns
    minor_end = np.where(transposed, row_end, col_end)
    major_end = np.where(transposed, col_end, row_end)
    ends_first = major_end < c  # the end has the lower major coordinate: it comes first
    p0, p1 = np.where(ends_first, minor_end, c), np.where(ends_first, c, minor_end)
    q0, q1 = np.where(ends_first, major_end, c), np.where(ends_first, c, major_end)
    return p0, q0, p1, q1, transposed


def draw_lines(angles, size=SIZE, width=WIDTH, chunk=4096) -> torch.Tensor:
    """float32 images [N, size, size] in [-1, 1] of lines at `angles` (radians, any shape flattened),
    equal to ACAI's `draw_line(angle, size, size, width)` rounded to float32 (module docstring).

    Vectorised over lines, major indices and minor indices: every major index q gets a weight (0
    outside floor(q0) .. ceil(q1) - 1; ceil(q0) - q0 for a partial first one; else 1) and a run
    [s, s + width) along the minor axis; a pixel's value is 2 * weight * (the length of
    [k, k + 1) within the run) - 1, in float64 as ACAI, then rounded to float32. ACAI's procedure
    stays inside the image for size >= 10 and is reproduced for width >= 1."""
    if size < 10:
        raise ValueError(f"size {size}: ACAI's lines leave the image below 10 px")
    if width < 1:
        raise ValueError(f"width {width}: only widths >= 1 px are drawn as ACAI")
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    index = np.arange(size, dtype=np.float64)
    out = torch.empty((len(angles), size, size), dtype=torch.float32)
    for i in range(0, len(angles), chunk):
        p0, q0, p1, q1, transposed = _endpoints(angles[i:i + chunk], size)
        p0, p1 = p0 - width / 2, p1 - width / 2  # ACAI shifts both ends before taking the slope
        dp, dq = p1 - p0, q1 - q0
        slope = np.divide(dp, dq, out=np.zeros_like(dp), where=dq != 0)
        q = index[None, :]  # major index [1, size]
        first_full = np.ceil(q0)[:, None]
        weight = np.where(q < first_full, first_full - q0[:, None], 1.0)
        weight = np.where((q >= np.floor(q0)[:, None]) & (q < np.ceil(q1)[:, None]), weight, 0.0)
        start = p0[:, None] + (q - q0[:, None] - 0.5) * slope[:, None]  # [n, size]
        end = start + width
        k = index[None, None, :]  # minor index
        covered = np.minimum(k + 1, end[..., None]) - np.maximum(k, start[..., None])  # [n, q, k]
        value = np.clip(2 * (weight[..., None] * np.clip(covered, 0, 1)) - 1, -1, 1)
        value[transposed] = value[transposed].transpose(0, 2, 1)  # [major, minor] -> [row, column]
        out[i:i + chunk] = torch.from_numpy(value)
    return out


def angle_labels(angles) -> np.ndarray:
    """The angle's tenth of the circle, 0..9 (ACAI's int(10 * angle / (2 pi - 1e-6)))."""
    return np.minimum((N_CLASSES * np.asarray(angles) / (2 * np.pi - 1e-6)).astype(np.int64), N_CLASSES - 1)


def split_angles(split: str) -> np.ndarray:
    """The fixed angles of `split` (train, valid, test): consecutive draws of RandomState(0)."""
    draws = np.random.RandomState(0).uniform(0, 2 * np.pi, sum(SPLIT_SIZES.values()))
    start = 0
    for name, n in SPLIT_SIZES.items():
        if name == split:
            return draws[start:start + n]
        start += n
    raise KeyError(f"unknown split {split!r}; one of {', '.join(SPLIT_SIZES)}")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 (how datasets are held; iterators.to_float maps back)."""
    return ((images + 1) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


@lru_cache(maxsize=1)
def _split_arrays():
    """{split: (uint8 images [N, 1, 32, 32], labels)} as numpy, drawn once per process."""
    out = {}
    for split in SPLIT_SIZES:
        angles = split_angles(split)
        out[split] = (to_uint8(draw_lines(angles)).unsqueeze(1).numpy(), angle_labels(angles))
    return out


def load_lines(data_dir=None, download=False):
    """(train, valid, test) Splits; data_dir and download are unused (the data is generated)."""
    return tuple(Split(torch.from_numpy(x.copy()), torch.from_numpy(y.copy()))
                 for x, y in _split_arrays().values())
