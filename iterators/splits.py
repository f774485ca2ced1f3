"""What every dataset reader returns (Split, Dataset), the one error they raise, and the uint8 -> float
mapping, and the check that a dataset's files are there (downloading them if allowed), shared by the
readers in iterators/."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

IMAGE_SIZE = 32


class DatasetError(Exception):
    """A dataset cannot be provided; the message is a single line saying what to do."""

    def __init__(self, message):
        # Collapse whitespace so wrapped library errors cannot make the message multi-line.
        super().__init__(" ".join(str(message).split()))


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
                  fetch: Callable[[], object]):
    """Make sure folder/files (files or folders) exist, downloading via `fetch` if allowed; else a one-line
    DatasetError."""
    missing = [f for f in files if not (folder / f).exists()]
    reason = "download=False"
    if missing and download:
        try:
            fetch()
            reason = "download did not produce them"
        except Exception as e:  # no network, HTTP errors, bad archives...
            reason = f"download failed: {type(e).__name__}: {e}"
        missing = [f for f in files if not (folder / f).exists()]
    if missing:
        rel = [str((folder / f).relative_to(data_dir)) for f in files]
        raise DatasetError(
            f"{name}: missing {', '.join(missing)} in {folder} ({reason}); pass --data_dir DIR "
            f"holding {', '.join(rel)}, or run once with network access to download")
