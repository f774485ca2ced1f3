"""Image classification datasets as uint8 tensors [N, C, 32, 32] with fixed train/valid/test splits.

All splits come from np.random.RandomState(0), independent of any run seed, so every method
and seed sees exactly the same examples. Files are read directly (idx, .mat, pickle) rather
than through torchvision's classes: that is vectorised, skips md5 checks (small test files
fail them) and lets every failure become a one-line DatasetError. torchvision is used only to
download missing files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .dsprites import load_dsprites
from .image_datasets import (load_celeba, load_celeba_hq, load_flowers, load_folder, load_tiny_imagenet,
                             load_zappos)
from .image_files import FileOptions
from .lines import load_lines
from .safe_unpickle import SafeUnpickler
from .splits import IMAGE_SIZE, Dataset, DatasetError, Split, require_files, unreadable


# ---------------------------------------------------------------- helpers

def _resize(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, C, H, W] -> uint8 [N, C, 32, 32], bilinear, once at load time."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    n, c, h, w = x.shape
    if (h, w) == (IMAGE_SIZE, IMAGE_SIZE):
        return x
    out = torch.empty((n, c, IMAGE_SIZE, IMAGE_SIZE), dtype=torch.uint8)
    for i in range(0, n, 10000):  # chunks bound the float temporary (~40 MB)
        y = F.interpolate(x[i:i + 10000].float(), size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                          align_corners=False, antialias=min(h, w) > IMAGE_SIZE)  # only matters when shrinking
        out[i:i + 10000] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _make_split(images: torch.Tensor, labels: np.ndarray, idx=None) -> Split:
    labels = torch.from_numpy(np.asarray(labels).astype(np.int64))
    if idx is not None:
        idx = torch.from_numpy(idx)
        images, labels = images[idx], labels[idx]
    return Split(images.contiguous(), labels.contiguous())


def _train_valid(images: np.ndarray, labels: np.ndarray, valid_fraction: int):
    """Last len/valid_fraction of the RandomState(0) permutation is valid, the rest train."""
    n = len(labels)
    perm = np.random.RandomState(0).permutation(n)
    n_train = n - n // valid_fraction
    x = _resize(images)
    return _make_split(x, labels, perm[:n_train]), _make_split(x, labels, perm[n_train:])


def _check(name, path, images, labels, n_classes=10):
    """Catch files that parse but hold the wrong thing (mismatched counts, bad labels)."""
    if len(images) != len(labels) or len(labels) == 0:
        raise DatasetError(f"{name}: {path} holds {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise DatasetError(f"{name}: {path} has labels outside 0..{n_classes - 1}")


# ---------------------------------------------------------------- MNIST / KMNIST (idx files)

_IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _read_idx(name: str, path: Path) -> np.ndarray:
    try:
        raw = bytearray(path.read_bytes())  # writable, so torch.from_numpy does not warn
        if len(raw) < 4 or raw[0] or raw[1] or raw[2] != 0x08:
            raise ValueError("not a uint8 idx file (bad magic number)")
        ndim = raw[3]
        shape = np.frombuffer(raw, ">i4", ndim, 4).astype(np.int64)
        data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
        if data.size != int(np.prod(shape)):
            raise ValueError(f"header says shape {tuple(shape)} but file has {data.size} values")
        return data.reshape(shape)
    except Exception as e:
        raise unreadable(name, path, e) from None


def _load_idx_dataset(name: str, cls_name: str, data_dir: Path, download: bool):
    folder = data_dir / cls_name / "raw"  # torchvision's layout: <root>/<ClassName>/raw

    def fetch(root):
        import torchvision.datasets as tvd
        getattr(tvd, cls_name)(str(root), train=True, download=True)

    require_files(name, data_dir, folder, _IDX_FILES, download, fetch)
    arrays = [_read_idx(name, folder / f) for f in _IDX_FILES]
    for i in (0, 2):
        if arrays[i].ndim != 3:
            raise unreadable(name, folder / _IDX_FILES[i], ValueError(f"images of shape {arrays[i].shape}"))
        _check(name, folder / _IDX_FILES[i + 1], arrays[i], arrays[i + 1])
    (xtr, ytr), (xte, yte) = (arrays[0][:, None], arrays[1]), (arrays[2][:, None], arrays[3])
    train, valid = _train_valid(xtr, ytr, 6)  # 1/6 valid: 50k/10k on the real 60k
    return train, valid, _make_split(_resize(xte), yte)


def _load_mnist(data_dir, download):
    return _load_idx_dataset("mnist", "MNIST", data_dir, download)


def _load_kmnist(data_dir, download):
    return _load_idx_dataset("kmnist", "KMNIST", data_dir, download)


# ---------------------------------------------------------------- SVHN (.mat)

def _load_svhn(data_dir: Path, download: bool):
    files = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

    def fetch(root):
        import torchvision.datasets as tvd
        for split, f in files.items():
            if not (data_dir / f).is_file():  # never re-fetch a file we have
                tvd.SVHN(str(root), split=split, download=True)

    require_files("svhn", data_dir, data_dir, list(files.values()), download, fetch)
    out = {}
    for split, f in files.items():
        path = data_dir / f
        try:
            import scipy.io
            mat = scipy.io.loadmat(str(path))
            x, y = mat["X"], mat["y"].reshape(-1).astype(np.int64)
            if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
                raise ValueError(f"X has shape {x.shape}, expected [32, 32, 3, N]")
        except Exception as e:
            raise unreadable("svhn", path, e) from None
        x = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)), dtype=np.uint8)  # [H,W,C,N] -> [N,C,H,W]
        y = np.where(y == 10, 0, y)  # SVHN stores digit 0 as label 10
        _check("svhn", path, x, y)
        out[split] = (x, y)
    train, valid = _train_valid(*out["train"], 10)  # 10% valid: the official 90/10
    return train, valid, _make_split(_resize(out["test"][0]), out["test"][1])


# ---------------------------------------------------------------- CIFAR-10 (pickles)

def _read_cifar_batch(path: Path):
    try:
        with open(path, "rb") as fh:
            d = SafeUnpickler(fh, encoding="latin1").load()  # latin1: py2 pickles, as torchvision
        get = lambda k: d[k.encode()] if k.encode() in d else d[k]  # bytes keys (py3) or str (py2)
        x = np.asarray(get("data"), dtype=np.uint8)
        y = np.asarray(get("labels"), dtype=np.int64)
        if x.ndim != 2 or x.shape[1] != 3 * 32 * 32:
            raise ValueError(f"data has shape {x.shape}, expected [N, 3072]")
    except Exception as e:
        raise unreadable("cifar10", path, e) from None
    _check("cifar10", path, x, y)
    return x.reshape(-1, 3, 32, 32), y


def _load_cifar10(data_dir: Path, download: bool):
    folder = data_dir / "cifar-10-batches-py"
    train_files = [f"data_batch_{i}" for i in range(1, 6)]

    def fetch(root):
        import torchvision.datasets as tvd
        tvd.CIFAR10(str(root), train=True, download=True)

    require_files("cifar10", data_dir, folder, train_files + ["test_batch"], download, fetch)
    batches = [_read_cifar_batch(folder / f) for f in train_files]
    x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    train, valid = _train_valid(x, y, 5)  # 1/5 valid: 40k/10k on the real 50k
    xte, yte = _read_cifar_batch(folder / "test_batch")
    return train, valid, _make_split(_resize(xte), yte)


# ---------------------------------------------------------------- dSprites (npz; iterators/dsprites.py)

def _load_dsprite(data_dir: Path, download: bool):
    return load_dsprites(data_dir, download)


# ---------------------------------------------------------------- digits (embedded)

def _load_digits(data_dir: Path, download: bool):
    from sklearn.datasets import load_digits  # ships with sklearn: no files, no network
    d = load_digits()
    x = np.round(d.images * (255 / 16)).astype(np.uint8)[:, None]  # 0..16 -> 0..255
    x, y = _resize(x), d.target.astype(np.int64)
    perm = np.random.RandomState(0).permutation(len(y))  # 1197 / 300 / 300
    return (_make_split(x, y, perm[:1197]), _make_split(x, y, perm[1197:1497]),
            _make_split(x, y, perm[1497:]))


# ---------------------------------------------------------------- lines (generated; iterators/lines.py)

def _load_lines(data_dir: Path, download: bool):
    return load_lines()


# ---------------------------------------------------------------- registry

@dataclass(frozen=True)
class DatasetInfo:
    loader: Callable[..., tuple]  # (data_dir, download) -> (train, valid, test) Splits; from_files: see below
    description: str  # one line, for --help
    n_classes: int = 10
    image_size: int | None = IMAGE_SIZE  # None: image files, decoded at --image_size
    from_files: bool = False  # loader(data_dir, download, FileOptions) -> (train, valid, test, n_classes);
    # n_classes is then the loader's (0: unlabelled)


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(_load_digits, "sklearn 8x8 digits upsampled to 32px, 1197/300/300; built in, no files"),
    "lines": DatasetInfo(_load_lines, "ACAI's synthetic lines: a 2 px line from the centre at a random angle, "
                                      "32px, labels = tenth of the circle, 20k/2k/2k; generated, no files "
                                      "(--mode lines_eval)"),
    "mnist": DatasetInfo(_load_mnist, "MNIST 28->32px, 50k/10k/10k; DATA_DIR/MNIST/raw/*-ubyte"),
    "kmnist": DatasetInfo(_load_kmnist, "Kuzushiji-MNIST 28->32px, 50k/10k/10k; DATA_DIR/KMNIST/raw/*-ubyte"),
    "svhn": DatasetInfo(_load_svhn, "SVHN 32px RGB, 90/10 train/valid + test; DATA_DIR/{train,test}_32x32.mat"),
    "cifar10": DatasetInfo(_load_cifar10, "CIFAR-10 32px RGB, 40k/10k/10k; DATA_DIR/cifar-10-batches-py/"),
    "dsprite": DatasetInfo(_load_dsprite, "dSprites 64px binary, 90/5/5 of the file's rows, labels = shape; "
                                          "DATA_DIR[/dsprites]/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz or "
                                          "dsprites_downsampled.npz, or --data_dir FILE.npz", n_classes=3,
                              image_size=64),
    "folder": DatasetInfo(load_folder, "your images: --data_dir DIR of image files (class subfolders give labels, else "
                          "unlabelled; its train/ valid/ test/ when present, else 90/5/5), RGB or --n_channels 1, "
                          "resized and centre-cropped to --image_size", n_classes=0, image_size=None,
                          from_files=True),
    "celeba": DatasetInfo(load_celeba, "CelebA aligned, official splits, face crop, 64px RGB, unlabelled; "
                                       "DATA_DIR/celeba/{img_align_celeba/,list_eval_partition.txt}",
                          n_classes=0, image_size=64, from_files=True),
    "celeba32": DatasetInfo(load_celeba, "as celeba at 32px", n_classes=0, image_size=32, from_files=True),
    "celeba_hq": DatasetInfo(load_celeba_hq, "CelebA-HQ 128px RGB, 90/5/5, unlabelled; DATA_DIR/celeba_hq/*.jpg",
                             n_classes=0, image_size=128, from_files=True),
    "zappos": DatasetInfo(load_zappos, "UT Zappos50K shoes 64px RGB, 90/5/5, labels = 4 categories; "
                                       "DATA_DIR/ut-zap50k-images-square/ (or ut-zap50k-images/)",
                          n_classes=0, image_size=64, from_files=True),
    "zappos_hq": DatasetInfo(load_zappos, "as zappos at 128px", n_classes=0, image_size=128, from_files=True),
    "flowers": DatasetInfo(load_flowers, "Oxford Flowers-102 64px RGB, official splits, 102 classes; "
                                         "DATA_DIR/flowers-102/ (torchvision's layout and download)",
                           n_classes=0, image_size=64, from_files=True),
    "tiny-imagenet": DatasetInfo(load_tiny_imagenet, "Tiny ImageNet 64px RGB, train less a fixed twentieth "
                                                     "(valid), val as test, 200 classes; DATA_DIR/tiny-imagenet-200/",
                                 n_classes=0, image_size=64, from_files=True),
}


def load_dataset(name: str, data_dir, subset_train: int | None = None, download: bool = True,
                 files: FileOptions | None = None) -> Dataset:
    """Load `name` from data_dir; subset_train keeps a fixed (seed-independent) subset of train;
    `files`: how datasets of image files are decoded (default FileOptions())."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    info = DATASETS[name]
    data_dir, factors, n_classes = Path(data_dir).expanduser(), None, info.n_classes
    if info.from_files:
        train, valid, test, n_classes = info.loader(data_dir, download, files or FileOptions())
    else:
        train, valid, test, *grid = info.loader(data_dir, download)  # dsprite adds its factor grid
        factors = grid[0] if grid else None
    if subset_train is not None:
        if not 1 <= subset_train <= len(train):
            raise DatasetError(f"{name}: subset_train={subset_train} is out of range; "
                               f"use 1..{len(train)} (the training split size) or leave it unset")
        train = train.take(np.random.RandomState(0).permutation(len(train))[:subset_train])
    return Dataset(name, train, valid, test, n_classes=n_classes,
                   n_channels=train.images.shape[1], image_size=train.images.shape[-1], factors=factors)
