"""Datasets of image files (--dataset folder and the named ones built on it): listing, decoding and
the choice between holding the decoded images in memory and streaming them from disk.

Listing follows torchvision's ImageFolder: class subfolders give the labels (sorted names -> 0, 1, ...);
a folder with images but no class subfolders is unlabelled (labels -1, n_classes 0). Splits are the
folder's own train/ valid/ (or val/) test/ subfolders when it has train/, else a fixed 90/5/5 split;
either way every split is stored in a RandomState(0) order, independent of the run's seed.

Decoding (decode_image): any file Pillow opens, EXIF-rotated, transparency composited over white,
16-bit scaled to 8 bits, converted to RGB (or grayscale for one channel), the shorter side resized to
the image size (antialiased; smaller images are upscaled) and centre-cropped. A file that cannot be
decoded is skipped, never fatal: its path and reason are printed once and the skips are counted
(at load for in-memory splits, in the epoch line for streamed ones). In a streamed training batch it is
replaced by the next readable file of the split's list (its image and label), so every batch keeps its
size and every process of a distributed run takes the same number of steps, whatever it failed to read.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageOps

from .splits import DatasetError, Split

IMAGE_EXTENSIONS = tuple(sorted({ext.lower() for ext in Image.registered_extensions()}))


@dataclass(frozen=True)
class FileOptions:
    """How image files become tensors: the flags --image_size, --n_channels, --max_in_memory_gb, --num_workers."""
    image_size: int = 64
    n_channels: int = 3
    max_in_memory_bytes: int | None = None  # decoded datasets larger are streamed; None: a quarter of the RAM
    # (the machine's budget: divided among the processes torchrun starts on it)
    num_workers: int = 0
    pre_crop: int = 0  # > 0: first a centred pre_crop x pre_crop box (CelebA's face crop), then resize


@dataclass(frozen=True)
class ImageList:
    """Files of one split and their labels (-1: unlabelled)."""
    paths: tuple
    labels: np.ndarray

    def take(self, idx) -> ImageList:
        idx = np.asarray(idx, dtype=np.int64)
        return ImageList(tuple(self.paths[i] for i in idx), self.labels[idx])


# ---------------------------------------------------------------- decoding

def decode_image(path, image_size: int, n_channels: int, pre_crop: int = 0) -> np.ndarray:
    """One file -> uint8 [C, S, S]; raises on anything Pillow cannot read (see the module docstring)."""
    with Image.open(path) as im:
        full_width = im.size[0]
        if im.format == "JPEG":  # decode at a reduced scale when the file is much larger: same result, faster
            im.draft("L" if n_channels == 1 else "RGB", (image_size, image_size))
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):  # 16-bit grayscale: keep the top 8 bits
            im = Image.fromarray((np.asarray(im, dtype=np.float64) * (255 / 65535)).round().clip(0, 255)
                                 .astype(np.uint8))
        elif im.mode == "F":
            raise ValueError("float (mode F) images have no fixed value range; convert them to 8 or 16 bit")
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        im = im.convert("L" if n_channels == 1 else "RGB")
        if pre_crop:  # in the file's pixels: scaled when draft decoded at a reduced size
            im = TF.center_crop(im, min(round(pre_crop * im.size[0] / full_width), *im.size))
        im = TF.center_crop(TF.resize(im, image_size, antialias=True), image_size)
        x = np.asarray(im, dtype=np.uint8)
    return x[None] if x.ndim == 2 else np.ascontiguousarray(x.transpose(2, 0, 1))


SUBSTITUTE_TRIES = 64  # files after an unreadable one tried in its place (streamed training batches)


class Decoded(torch.utils.data.Dataset):
    """Item i of an ImageList: (image uint8 [C, S, S] or None, label, None or 'path (reason)'). With
    substitute, an unreadable file's place goes to the next readable one (its image and label; the failure
    is still reported): the same replacement in every process, since it depends on the list alone."""

    def __init__(self, files: ImageList, options: FileOptions, substitute: bool = False):
        self.files, self.options, self.substitute = files, options, substitute

    def __len__(self):
        return len(self.files.paths)

    def _decode(self, i):
        path = self.files.paths[i]
        try:
            o = self.options
            return torch.from_numpy(decode_image(path, o.image_size, o.n_channels, o.pre_crop)), None
        except Exception as e:  # caught in the worker: a bad file is reported, never a worker traceback
            return None, f"{path} ({type(e).__name__}: {' '.join(str(e).split())})"

    def __getitem__(self, i):
        x, failure = self._decode(i)
        if x is None and self.substitute:
            for j in range(i + 1, i + 1 + min(SUBSTITUTE_TRIES, len(self) - 1)):
                x, _ = self._decode(j % len(self))
                if x is not None:
                    return x, int(self.files.labels[j % len(self)]), failure
        return x, int(self.files.labels[i]), failure


def collate(items):
    """Drops the files that failed; -> (uint8 [n, C, S, S], int64 [n], [failure messages])."""
    good = [(x, y) for x, y, _ in items if x is not None]
    failures = [f for _, _, f in items if f is not None]
    if not good:
        return None, None, failures
    return torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good], dtype=torch.int64), failures


class SkipLog:
    """Counts skipped files and prints the first one's path and reason, once per log (one log for what is
    decoded at load, one per streamed split)."""

    def __init__(self):
        self.count, self.shown = 0, False

    def add(self, failures):
        self.count += len(failures)
        if failures and not self.shown:
            print(f"warning: skipped unreadable image {failures[0]}; later ones are counted, not shown",
                  file=sys.stderr, flush=True)
            self.shown = True


def loader(files: ImageList, options: FileOptions, batch_sampler, pin_memory=False, persistent=True,
           substitute=False):
    workers = options.num_workers
    return torch.utils.data.DataLoader(Decoded(files, options, substitute), batch_sampler=batch_sampler,
                                       num_workers=workers,
                                       collate_fn=collate, pin_memory=pin_memory,
                                       persistent_workers=persistent and workers > 0)


def decode_all(files: ImageList, options: FileOptions, name: str, skips: SkipLog) -> Split:
    """Every file of a split decoded into memory (with the run's workers, for this pass only); the
    files that fail are left out and counted in `skips`."""
    from tqdm import tqdm
    chunks = [list(range(i, min(i + 256, len(files.paths)))) for i in range(0, len(files.paths), 256)]
    images, labels = [], []
    for x, y, failures in tqdm(loader(files, options, chunks, persistent=False), desc=f"decoding {name}",
                               total=len(chunks), leave=False, mininterval=2.0,
                               disable=None if len(files.paths) > 5000 else True):
        skips.add(failures)
        if x is not None:
            images.append(x)
            labels.append(y)
    if not images:
        raise DatasetError(f"{name}: none of the {len(files.paths)} images could be decoded "
                           f"(e.g. {files.paths[0]}); check the files")
    return Split(torch.cat(images), torch.cat(labels))


class StreamedImages:
    """The images of a split too large for memory: indexing decodes (in this process, for the
    evaluation modes' few examples); training batches come from `batches`, through a DataLoader
    with --num_workers workers that persist from epoch to epoch. Quacks like the uint8 tensor
    [N, C, S, S] of an in-memory Split where the evaluation code needs it (len, shape, [])."""

    def __init__(self, files: ImageList, options: FileOptions):
        self.files, self.options = files, options
        self.shape = torch.Size((len(files.paths), options.n_channels, options.image_size, options.image_size))
        self.skips = SkipLog()
        self._order = []  # the epoch's batches, set before each pass over the persistent loader
        self._loader = None

    def __len__(self):
        return self.shape[0]

    def take(self, idx) -> StreamedImages:
        return StreamedImages(self.files.take(idx), self.options)

    def indices(self, idx) -> np.ndarray:
        return np.arange(len(self))[idx] if isinstance(idx, slice) else np.atleast_1d(np.asarray(idx))

    def examples(self, idx):
        """(uint8 images, labels) of the files at idx, decoded in this process, less those that fail."""
        idx = self.indices(idx)
        x, y, failures = collate([Decoded(self.files, self.options)[int(i)] for i in idx])
        self.skips.add(failures)
        if x is None:
            raise DatasetError(f"none of {len(idx)} images could be decoded, e.g. {failures[0]}; check the files")
        return x, y

    def __getitem__(self, idx):
        """Images at idx, for code written for in-memory splits: a file that fails stops the run (its
        labels would no longer line up), where `examples` and `batches` skip it."""
        x, _ = self.examples(idx)
        if len(x) != len(self.indices(idx)):
            raise DatasetError("an image file could not be decoded (named above); delete or replace it")
        return x

    def batches(self, order: torch.Tensor, batch_size: int, limit: int, pin_memory: bool):
        """(uint8 images, labels) of `order` in batches of batch_size; an unreadable file's place goes to the
        next readable file of the split (Decoded's substitute), so no batch is short or missing."""
        starts = range(0, len(order), batch_size)
        if limit:
            starts = starts[:limit]
        self._order = [order[s:s + batch_size].tolist() for s in starts]
        if self._loader is None:
            self._loader = loader(self.files, self.options, BatchList(self), pin_memory, substitute=True)
        for x, y, failures in self._loader:
            self.skips.add(failures)
            if x is not None:
                yield x, y


@dataclass
class BatchList:
    """The batch sampler of a persistent loader: whatever batches its StreamedImages set last."""
    images: StreamedImages = field(repr=False)

    def __iter__(self):
        return iter(self.images._order)

    def __len__(self):
        return len(self.images._order)


# ---------------------------------------------------------------- listing and splits

def list_images(folder: Path) -> list[str]:
    """Image files below `folder` (any depth, hidden names skipped), sorted."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in files
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found)


def has_images(folder: Path) -> bool:
    """Whether list_images(folder) would find anything, stopping at the first image."""
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if any(not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS) for f in files):
            return True
    return False


def class_folders(folder: Path) -> list[str]:
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def list_split(name: str, folder: Path, classes: list[str] | None) -> ImageList:
    """ImageFolder semantics under `folder`: images of class subfolders (classes given: these names),
    or, with classes None, every image below it, unlabelled."""
    if classes is None:
        paths = list_images(folder)
        return ImageList(tuple(paths), np.full(len(paths), -1, dtype=np.int64))
    paths, labels = [], []
    unknown = sorted(set(class_folders(folder)) - set(classes))
    if unknown:
        raise DatasetError(f"{name}: {folder} has class folders {unknown[:5]} that train/ does not have; "
                           f"every class must be in train/")
    for label, c in enumerate(classes):
        if (folder / c).is_dir():
            found = list_images(folder / c)
            paths += found
            labels += [label] * len(found)
    return ImageList(tuple(paths), np.asarray(labels, dtype=np.int64))


def folder_classes(name: str, folder: Path) -> list[str] | None:
    """Class names when `folder` has two or more subfolders holding images, else None: a flat folder, or a
    single class folder, is unlabelled."""
    classes = [c for c in class_folders(folder) if has_images(folder / c)]
    if not classes:
        return None
    loose = [f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS) and (folder / f).is_file()]
    if loose:
        raise DatasetError(f"{name}: {folder} has both class subfolders ({', '.join(classes[:3])}...) and "
                           f"{len(loose)} images beside them (e.g. {loose[0]}); move those into a class folder "
                           f"or the class folders' images up, so the labels are unambiguous")
    if len(classes) == 1:
        print(f"note: {name}: {folder} has a single class folder ({classes[0]}); the data is unlabelled",
              file=sys.stderr)
        return None
    return classes


def shuffled(files: ImageList) -> ImageList:
    return files.take(np.random.RandomState(0).permutation(len(files.paths)))


def carve(files: ImageList, n_held: int) -> tuple[ImageList, list[ImageList]]:
    """n_held held-out parts of 5% each from the front of a RandomState(0) permutation; the rest trains."""
    files = shuffled(files)
    n, idx = len(files.paths) // 20, np.arange(len(files.paths))
    return files.take(idx[n_held * n:]), [files.take(idx[i * n:(i + 1) * n]) for i in range(n_held)]


def split_folder(name: str, root: Path) -> tuple[tuple[ImageList, ImageList, ImageList], list[str] | None]:
    """-> ((train, valid, test), class names or None): the folder's train/ valid/ (or val/) test/ when it
    has train/ (a missing valid/ or test/ is carved from train/), else 90/5/5 of all its images."""
    if not root.is_dir():
        raise DatasetError(f"{name}: --data_dir {root} is not a folder; pass the folder holding your images "
                           f"(class subfolders give labels)")
    if not (root / "train").is_dir():
        classes = folder_classes(name, root)
        train, (valid, test) = carve(list_split(name, root, classes), 2)
        return (train, valid, test), classes
    classes = folder_classes(name, root / "train")
    held_dirs = {"valid": next((root / d for d in ("valid", "val") if (root / d).is_dir()), None),
                 "test": root / "test" if (root / "test").is_dir() else None}
    held = {s: shuffled(list_split(name, d, classes)) for s, d in held_dirs.items() if d is not None}
    missing = [s for s in ("valid", "test") if s not in held]
    train, parts = carve(list_split(name, root / "train", classes), len(missing))
    held.update(zip(missing, parts))
    return (train, held["valid"], held["test"]), classes


def checked(name: str, where: Path, splits, classes):
    """One-line refusals of what cannot train; -> n_classes (0: unlabelled)."""
    train, valid, test = splits
    if not train.paths:
        raise DatasetError(f"{name}: no image files found in {where} (any file Pillow reads: .jpg, .png, "
                           f".webp, .bmp, .tif, ...); put images there, in class subfolders for labels")
    if not valid.paths or not test.paths:
        raise DatasetError(f"{name}: {where} has {len(train.paths) + len(valid.paths) + len(test.paths)} images, "
                           f"too few for train/valid/test splits; use at least 20 images")
    return 0 if classes is None else len(classes)


def load_image_files(name: str, splits, options: FileOptions):
    """(train, valid, test) ImageLists -> Splits, in memory when the decoded images fit in
    options.max_in_memory_bytes, else streamed (train first; valid and test too if still too large)."""
    budget = options.max_in_memory_bytes
    if budget is None:
        budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    budget //= int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # the machine's, shared by its torchrun processes
    size = lambda files: len(files.paths) * options.n_channels * options.image_size ** 2
    total = sum(size(s) for s in splits)
    held_out = size(splits[1]) + size(splits[2])
    out, skips = [], SkipLog()
    for split_name, files in zip(("train", "valid", "test"), splits):
        if total > budget and (split_name == "train" or held_out > budget):
            out.append(Split(StreamedImages(files, options), torch.from_numpy(files.labels)))
        else:
            out.append(decode_all(files, options, f"{name} {split_name}", skips))
    if skips.count:
        print(f"note: {name}: skipped {skips.count} unreadable image file(s)", file=sys.stderr)
    streamed = [n for n, s in zip(("train", "valid", "test"), out) if s.streamed]
    if streamed:
        print(f"note: {name}: {total / 2 ** 30:.2f} GiB decoded exceeds --max_in_memory_gb "
              f"({budget / 2 ** 30:.2f}); streaming {', '.join(streamed)} from disk with "
              f"{options.num_workers} worker(s)", file=sys.stderr)
    return tuple(out)
