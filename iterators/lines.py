"""The synthetic lines dataset of ACAI (Berthelot et al., ICLR 2019, section 3): 32 x 32 images of a
line from the centre at an angle, for which the ideal interpolation is known (turn the angle).

A line is a band 2 px wide from the image centre to 1 px short of the border, with a flat end,
drawn anti-aliased: a pixel's value is 2 * (the fraction of it the band covers) - 1, so the
background is -1 and a fully covered pixel 1 (ACAI's range and geometry; the coverage here is a
box-filter estimate, not ACAI's scan-line code, so pixel values differ slightly from ACAI's).
Angles are in radians, counter-clockwise as the image is shown (row 0 at the top), 0 pointing right.
Labels are the angle's tenth of the circle (10 classes, as ACAI), so the linear probe has something
to predict.

The angles of every split come from np.random.RandomState(0) (uniform in [0, 2 pi)), so the data is
the same on every machine and for every run seed; nothing is downloaded or read from disk.
"""
from functools import lru_cache

import numpy as np
import torch

from .splits import Split

SIZE = 32
WIDTH = 2.0
SPLIT_SIZES = {"train": 20000, "valid": 2000, "test": 2000}
N_CLASSES = 10


def _pixel_centres(size):
    """x, y [size * size] of the pixel centres, the image's centre at the origin (pixel (i, j) spans
    x in [j, j + 1], y in [i, i + 1] before centring, so a 32 px image's centre is a pixel corner)."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return cols.reshape(-1) + 0.5 - size / 2, rows.reshape(-1) + 0.5 - size / 2


def draw_lines(angles, size=SIZE, width=WIDTH, chunk=4096) -> torch.Tensor:
    """float32 images [N, size, size] in [-1, 1] of lines at `angles` (radians, any shape flattened).

    A pixel's coverage is the product of three ramps of its centre's distance to the band's edges
    (across the band, past its start at the centre, past its end), each clipped to [0, 1]: the area
    of a 1 px box filter for bands along the axes (exact there: a band 2 px wide fills 2 pixels of
    every row it crosses) and a close approximation at other angles."""
    angles = torch.as_tensor(np.asarray(angles, dtype=np.float32)).reshape(-1)
    x, y = (c.float() for c in _pixel_centres(size))
    length = size / 2 - 1
    out = torch.empty((len(angles), size * size), dtype=torch.float32)
    for i in range(0, len(angles), chunk):
        a = angles[i:i + chunk, None]
        along = x * torch.cos(a) - y * torch.sin(a)  # the direction (cos a, -sin a): counter-clockwise on screen
        across = (x * torch.sin(a) + y * torch.cos(a)).abs()
        cover = ((width / 2 + 0.5 - across).clamp(0, 1) * (along + 0.5).clamp(0, 1)
                 * (length + 0.5 - along).clamp(0, 1))
        out[i:i + chunk] = 2 * cover - 1
    return out.view(len(angles), size, size)


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
