"""Datasets of image files over iterators/image_files.py: --dataset folder (your images; see
image_files.split_folder) and the reference's, each in the layout its authors ship:

  celeba, celeba32   DATA_DIR/celeba/img_align_celeba/*.jpg and list_eval_partition.txt (the official
                     aligned images and splits, torchvision's layout); the usual face crop (a centred
                     148 px box of the 178x218 image), then 64 or 32 px; unlabelled
  celeba_hq          DATA_DIR/celeba_hq/: a folder of CelebA-HQ images (any resolution), 128 px, 90/5/5
  zappos, zappos_hq  DATA_DIR/ut-zap50k-images-square/ (or ut-zap50k-images/) as unpacked:
                     Category/Subcategory/Brand/*.jpg; labels = the 4 categories; 64 or 128 px; 90/5/5
  flowers            DATA_DIR/flowers-102/ (jpg/, imagelabels.mat, setid.mat; torchvision's layout and
                     download); the official train/valid/test ids; 102 classes; 64 px
  tiny-imagenet      DATA_DIR/tiny-imagenet-200/: train/<wnid>/images/ for training (less a fixed 5% that
                     is valid), val/ with val_annotations.txt as test; 200 classes; 64 px
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .image_files import (FileOptions, ImageList, carve, checked, folder_classes, list_split, load_image_files,
                          shuffled, split_folder)
from .splits import DatasetError, require_files

CELEBA_CROP = 148  # px of the aligned 178x218 image kept around the face before resizing


def _load(name, where, splits, classes, options):
    n_classes = checked(name, where, splits, classes)
    return (*load_image_files(name, splits, options), n_classes)


def _missing(name: str, folder: Path, what: str):
    return DatasetError(f"{name}: {folder} not found; put {what} there (--data_dir names the folder above it); "
                        f"it cannot be downloaded automatically")


def load_celeba(data_dir: Path, download: bool, options: FileOptions):
    folder = data_dir / "celeba"

    def fetch(root):
        import torchvision.datasets as tvd
        tvd.CelebA(str(root), split="all", target_type=[], download=True)

    require_files("celeba", data_dir, folder, ["img_align_celeba", "list_eval_partition.txt"], download, fetch)
    paths = {0: [], 1: [], 2: []}
    try:
        for line in (folder / "list_eval_partition.txt").read_text().split("\n"):
            if line.strip():
                file, split = line.split()
                paths[int(split)].append(str(folder / "img_align_celeba" / file))
    except (ValueError, KeyError, OSError) as e:
        raise DatasetError(f"celeba: cannot read {folder / 'list_eval_partition.txt'} ({e}); expected lines "
                           f"'<file>.jpg <0|1|2>' as in the official file") from None
    splits = tuple(shuffled(ImageList(tuple(p), np.full(len(p), -1, dtype=np.int64))) for p in paths.values())
    return _load("celeba", folder, splits, None, replace(options, pre_crop=CELEBA_CROP))


def load_celeba_hq(data_dir: Path, download: bool, options: FileOptions):
    folder = data_dir / "celeba_hq"
    if not folder.is_dir():
        raise _missing("celeba_hq", folder, "the CelebA-HQ images (a flat folder of .jpg/.png files)")
    train, held = carve(list_split("celeba_hq", folder, None), 2)
    return _load("celeba_hq", folder, (train, *held), None, options)


def load_zappos(data_dir: Path, download: bool, options: FileOptions):
    folder = next((data_dir / d for d in ("ut-zap50k-images-square", "ut-zap50k-images")
                   if (data_dir / d).is_dir()), None)
    if folder is None:
        raise _missing("zappos", data_dir / "ut-zap50k-images-square",
                       "UT Zappos50K as unpacked (ut-zap50k-images-square.zip or ut-zap50k-images.zip: "
                       "Category/Subcategory/Brand/*.jpg)")
    classes = folder_classes("zappos", folder)
    train, held = carve(list_split("zappos", folder, classes), 2)
    return _load("zappos", folder, (train, *held), classes, options)


def load_flowers(data_dir: Path, download: bool, options: FileOptions):
    folder = data_dir / "flowers-102"

    def fetch(root):
        import torchvision.datasets as tvd
        tvd.Flowers102(str(root), download=True)

    require_files("flowers", data_dir, folder, ["jpg", "imagelabels.mat", "setid.mat"], download, fetch)
    try:
        import scipy.io
        labels = scipy.io.loadmat(str(folder / "imagelabels.mat"), squeeze_me=True)["labels"].astype(np.int64) - 1
        ids = scipy.io.loadmat(str(folder / "setid.mat"), squeeze_me=True)
        sets = [np.asarray(ids[k], dtype=np.int64) for k in ("trnid", "valid", "tstid")]
    except Exception as e:
        raise DatasetError(f"flowers: cannot read {folder}/imagelabels.mat or setid.mat ({type(e).__name__}: {e}); "
                           f"replace them with the official files") from None
    if labels.min() < 0 or max(s.max() for s in sets) > len(labels):
        raise DatasetError(f"flowers: {folder}/setid.mat names images that imagelabels.mat does not label")
    splits = tuple(shuffled(ImageList(tuple(str(folder / "jpg" / f"image_{i:05d}.jpg") for i in ids),
                                      labels[ids - 1])) for ids in sets)
    return _load("flowers", folder, splits, [str(c) for c in range(int(labels.max()) + 1)], options)


def load_tiny_imagenet(data_dir: Path, download: bool, options: FileOptions):
    folder = data_dir / "tiny-imagenet-200"
    if not (folder / "train").is_dir() or not (folder / "val" / "val_annotations.txt").is_file():
        raise _missing("tiny-imagenet", folder, "tiny-imagenet-200.zip unpacked (train/<wnid>/images/, "
                                                "val/images/ and val/val_annotations.txt)")
    classes = folder_classes("tiny-imagenet", folder / "train")
    train, (valid,) = carve(list_split("tiny-imagenet", folder / "train", classes), 1)
    label_of = {c: i for i, c in enumerate(classes)}
    paths, labels = [], []
    for line in (folder / "val" / "val_annotations.txt").read_text().split("\n"):
        fields = line.split("\t")
        if len(fields) >= 2 and fields[1] in label_of:
            paths.append(str(folder / "val" / "images" / fields[0]))
            labels.append(label_of[fields[1]])
    test = shuffled(ImageList(tuple(paths), np.asarray(labels, dtype=np.int64)))
    return _load("tiny-imagenet", folder, (train, valid, test), classes, options)


def load_folder(data_dir: Path, download: bool, options: FileOptions):
    splits, classes = split_folder("folder", data_dir)
    return _load("folder", data_dir, splits, classes, options)
