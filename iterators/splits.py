"""What every dataset reader returns (Split, Dataset), the one error they raise, and the uint8 -> float
mapping, and the check that a dataset's files are there (downloading them if allowed), shared by the
readers in iterators/."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from amr_errors import DatasetError  # raised by every reader (and importable from iterators)

IMAGE_SIZE = 32


@dataclass
class Split:
    images: torch.Tensor  # uint8 [N, C, S, S], contiguous, CPU; or image_files.StreamedImages (decoded on use)
    labels: torch.Tensor  # int64 [N]; -1 where the dataset is unlabelled

    def __len__(self):
        return len(self.labels)

    @property
    def streamed(self) -> bool:
        return not isinstance(self.images, torch.Tensor)

    def take(self, idx) -> "Split":
        """The examples at indices idx (a streamed split stays streamed)."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
        images = self.images.take(idx.numpy()) if self.streamed else self.images[idx].contiguous()
        return Split(images, self.labels[idx].contiguous())


@dataclass
class Dataset:
    name: str
    train: Split
    valid: Split
    test: Split
    n_classes: int  # 0: unlabelled (labels -1)
    n_channels: int
    image_size: int = IMAGE_SIZE
    # dsprite: the factor grid (iterators.dsprites.FactorGrid), or FactorSamples for a file that is not a
    # complete grid, for the disentanglement metrics
    factors: object = None


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [-1, 1], on the images' device."""
    if images.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got {images.dtype}")
    return images.float() / 127.5 - 1


def unreadable(name, path, e) -> DatasetError:
    return DatasetError(f"{name}: cannot read {path} ({type(e).__name__}: {e}); "
                        f"delete or replace the file (it may be corrupt or truncated)")


def require_files(name: str, data_dir: Path, folder: Path, files: list[str], download: bool,
                  fetch: Callable[[Path], object]):
    """Make sure folder/files (files or folders) exist, downloading via fetch(root) if allowed; else a one-line
    DatasetError. fetch writes into a temporary folder whose files move into data_dir only once they are all
    there, so a failed or partial download leaves nothing behind."""
    missing = [f for f in files if not (folder / f).exists()]
    reason = "download=False"
    if missing and download:
        reason = _download(data_dir, folder, files, fetch)
        missing = [f for f in files if not (folder / f).exists()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DatasetError(f"{name}: {folder / missing[0]}{more} missing ({reason}); put the files there "
                           f"(--data_dir) or run once with a network")


def _download(data_dir, folder, files, fetch):
    """fetch(tmp) into a temporary folder beside the data; on success move what it wrote into data_dir.
    Returns why the files may still be missing (a short reason)."""
    data_dir = Path(data_dir)
    parent = data_dir if data_dir.is_dir() else data_dir.parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".amr-download-", dir=parent))
    except OSError as e:
        return f"cannot download into {parent}: {e.strerror}"
    try:
        fetch(tmp)
        got = tmp / folder.relative_to(data_dir)
        if not all((got / f).exists() for f in files):
            return "download did not produce them"
        for src in sorted(p for p in tmp.rglob("*") if p.is_file()):
            dst = data_dir / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        return "downloaded"
    except Exception as e:  # no network, HTTP errors, bad archives...
        text = " ".join(str(e).split())
        return f"download failed: {type(e).__name__}{': ' + text[:60] if text else ''}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
