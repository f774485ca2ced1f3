"""dSprites (Matthey et al. 2017): 64 px binary sprites rendered from a complete grid of factors.

Files in the official npz format are read:
  - the official dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz: 737280 images, 6 latent columns
    (colour, constant, then shape, scale, orientation, posX, posY);
  - subsets such as ../shared/data/dsprites/dsprites_downsampled.npz: the colour column dropped and
    other factor sizes;
  - any other set of rows in that format (5 or 6 columns), e.g. a random 20000-image subset.
Factor sizes and names come from the file's metadata (a pickle, read with the same restricted
unpickler as CIFAR-10, so it can only rebuild builtins and numpy arrays), never from the image count;
without metadata, sizes are the largest class + 1 and names the official ones. Factors with one value
(the official file's colour) are dropped.

Images are stored as uint8 0/255 (the file's {0, 1} times 255), so batches are in [-1, 1] like
the reference's (x - 0.5) / 0.5. Splits come from RandomState(0) over the file's rows: 1/20 valid,
1/20 test, the rest train; labels are the shape factor (3 classes). All images stay available as
`Dataset.factors` for the disentanglement metrics: a FactorGrid when the file holds every combination
of factor classes exactly once (the metrics then draw images by factor values), else FactorSamples
(each row, duplicates included, is one sample with its factor classes; only the metrics that need
(code, factor) pairs alone can use it).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.lib import format as npy_format

from .safe_unpickle import SafeUnpickler
from .splits import DatasetError, Split, unreadable

OFFICIAL_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SUBSET_FILE = "dsprites_downsampled.npz"
URL = f"https://github.com/deepmind/dsprites-dataset/raw/master/{OFFICIAL_FILE}"
DEFAULT_NAMES = {6: ("color", "shape", "scale", "orientation", "posX", "posY"),
                 5: ("shape", "scale", "orientation", "posX", "posY")}


@dataclass
class FactorGrid:
    """Every image of a complete factor grid, addressable by its factor classes.

    Only factors with more than one value count (the official file's constant colour does not).
    `images(flat)` takes flat indices: factor classes in row-major order over `factor_sizes`."""
    factor_names: tuple
    factor_sizes: tuple
    all_images: torch.Tensor     # uint8 [N, C, H, W]; the splits are slices of it
    row_of_flat: np.ndarray      # flat grid index -> row of all_images

    def __len__(self):
        return len(self.row_of_flat)

    def images(self, flat):
        return self.all_images[torch.from_numpy(self.row_of_flat[np.asarray(flat)])]


@dataclass
class FactorSamples:
    """Images with their factor classes, from a file that is not a complete grid: enough for the metrics
    that need only (code, factor) pairs. `images(rows)` takes rows of `classes`."""
    factor_names: tuple
    factor_sizes: tuple
    classes: np.ndarray          # int64 [N, F], row r the factor classes of all_images[r]
    all_images: torch.Tensor     # uint8 [N, C, H, W]; the splits are slices of it

    def __len__(self):
        return len(self.classes)

    def images(self, rows):
        return self.all_images[torch.from_numpy(np.asarray(rows))]


def flat_index(classes, sizes):
    """Row-major index of factor classes [N, F] in a grid of `sizes`."""
    bases = np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)
    return np.asarray(classes, dtype=np.int64) @ bases


def _read_metadata(path: Path) -> dict:
    """The npz's pickled metadata dict, or {} when the file has none."""
    with zipfile.ZipFile(path) as z:
        if "metadata.npy" not in z.namelist():
            return {}
        with z.open("metadata.npy") as f:
            version = npy_format.read_magic(f)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            read_header(f)
            meta = SafeUnpickler(f, encoding="latin1").load()  # latin1: the official file is a py2 pickle
    meta = meta.item() if isinstance(meta, np.ndarray) else meta
    if not isinstance(meta, dict):
        raise ValueError(f"metadata is a {type(meta).__name__}, expected a dict")
    return meta


def _read(path: Path):
    try:
        meta = _read_metadata(path)
        with np.load(path, allow_pickle=False) as d:
            images, classes = d["imgs"], d["latents_classes"]
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"imgs is {images.dtype} {images.shape}, expected uint8 [N, H, W]")
        if classes.ndim != 2 or len(classes) != len(images) or len(images) == 0:
            raise ValueError(f"latents_classes has shape {classes.shape} for {len(images)} images")
    except Exception as e:  # truncated zip, missing key, a pickle that wants more than data
        raise unreadable("dsprite", path, e) from None
    sizes = np.asarray(meta.get("latents_sizes", classes.max(0) + 1), dtype=np.int64)
    names = tuple(str(n) for n in meta.get("latents_names", DEFAULT_NAMES.get(classes.shape[1], ())))
    if len(sizes) != classes.shape[1] or len(names) != classes.shape[1]:
        raise DatasetError(f"dsprite: {path} has {classes.shape[1]} latent columns but metadata gives sizes "
                           f"{sizes.tolist()} and names {list(names)}")
    return images, classes, sizes, names


def _find(data_dir: Path, download: bool) -> Path:
    """data_dir may be the .npz itself, or a folder holding it directly or in dsprites/."""
    if data_dir.is_file():
        return data_dir
    for name in (OFFICIAL_FILE, SUBSET_FILE):  # the official file first, wherever it is
        for folder in (data_dir, data_dir / "dsprites"):
            if (folder / name).is_file():
                return folder / name
    target = data_dir / "dsprites" / OFFICIAL_FILE
    reason = "download=False"
    if download:
        created = not target.parent.exists()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(URL, str(target), progress=False)  # temporary file, then renamed
            return target
        except Exception as e:  # no network, HTTP error, read-only folder
            reason = f"download failed: {type(e).__name__}: {e}"
            if created and target.parent.is_dir() and not any(target.parent.iterdir()):
                target.parent.rmdir()
    raise DatasetError(f"dsprite: no {OFFICIAL_FILE} or {SUBSET_FILE} in {data_dir} or {data_dir / 'dsprites'} "
                       f"({reason}); download it with: curl -L --create-dirs -o {target} {URL} "
                       f"(or pass --data_dir FILE.npz)")


def load_dsprites(data_dir: Path, download: bool):
    """-> (train, valid, test, FactorGrid or FactorSamples); see the module docstring."""
    path = _find(Path(data_dir), download)
    images, classes, sizes, names = _read(path)
    if (classes < 0).any() or (classes >= sizes).any():
        raise DatasetError(f"dsprite: {path} has latents_classes outside the metadata's sizes {sizes.tolist()}")
    varying = (sizes > 1) & (classes.min(0) < classes.max(0))  # a subset may hold one value of a factor
    sizes, classes, names = sizes[varying], classes[:, varying], tuple(n for n, v in zip(names, varying) if v)
    if "shape" not in names:
        raise DatasetError(f"dsprite: {path} has no varying 'shape' factor (factors: {list(names)}) to use as labels")
    if images.max() > 1:
        raise DatasetError(f"dsprite: {path} has pixel values above 1; expected binary {{0, 1}} images")

    perm = np.random.RandomState(0).permutation(len(classes))
    x = torch.from_numpy(images).unsqueeze(1)[torch.from_numpy(perm)]  # one permuted copy; splits are views
    x.mul_(255)
    labels = torch.from_numpy(classes[perm, names.index("shape")].astype(np.int64))
    n = len(classes) // 20
    cut = lambda a, b: Split(x[a:b], labels[a:b])  # contiguous slices of the permuted tensor
    flat = flat_index(classes, sizes)
    if len(flat) == int(np.prod(sizes)) and len(np.unique(flat)) == len(flat):  # every combination once
        row_of_flat = np.empty(len(flat), dtype=np.int64)
        row_of_flat[flat[perm]] = np.arange(len(flat))
        factors = FactorGrid(names, tuple(int(s) for s in sizes), x, row_of_flat)
    else:
        factors = FactorSamples(names, tuple(int(s) for s in sizes), classes[perm].astype(np.int64, copy=False), x)
    return cut(2 * n, len(classes)), cut(0, n), cut(n, 2 * n), factors
