"""Tiny dSprites files in the official npz format, for tests."""
import itertools

import numpy as np

OFFICIAL_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
SUBSET_NAMES = ("shape", "scale", "orientation", "posX", "posY")


def row_bits(images):
    """The file row a test image was written from: its first 16 pixels in binary (see write_npz)."""
    bits = np.asarray(images).reshape(len(images), -1)[:, :16] > 0
    return bits @ (1 << np.arange(16))


def write_npz(path, sizes, names, shuffle=False, metadata=True, rows=None):
    """Every combination of factor classes once, rows in row-major order (or shuffled); or, with `rows`
    (flat indices into that grid, repeats allowed), those combinations in that order: a file that is not
    a complete grid, as a random subset of dSprites. Image r is binary with r written in its first 16
    pixels, so a loaded image tells which row it came from. Returns the file's latents_classes."""
    classes = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=np.int64)
    if shuffle:
        classes = classes[np.random.RandomState(1).permutation(len(classes))]
    if rows is not None:
        classes = classes[np.asarray(rows)]
    images = np.zeros((len(classes), 64, 64), dtype=np.uint8)
    images.reshape(len(classes), -1)[:, :16] = (np.arange(len(classes))[:, None] >> np.arange(16)) & 1
    arrays = {"imgs": images, "latents_classes": classes, "latents_values": classes.astype(np.float64)}
    if metadata:
        meta = {"latents_sizes": np.array(sizes), "latents_names": tuple(names), "title": "test grid"}
        arrays["metadata"] = np.array(meta, dtype=object)
    np.savez(path, **arrays)
    return classes
