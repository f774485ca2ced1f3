"""What every dataset reader returns (Split, Dataset), the one error they raise, and the uint8 -> float
mapping, shared by iterators/datasets.py, dsprites.py and lines.py."""
from __future__ import annotations

from dataclasses import dataclass

import torch

IMAGE_SIZE = 32


class DatasetError(Exception):
    """A dataset cannot be provided; the message is a single line saying what to do."""

    def __init__(self, message):
        # Collapse whitespace so wrapped library errors cannot make the message multi-line.
        super().__init__(" ".join(str(message).split()))


@dataclass
class Split:
    images: torch.Tensor  # uint8 [N, C, 32, 32] (64 px for dsprite), contiguous, CPU
    labels: torch.Tensor  # int64 [N]

    def __len__(self):
        return len(self.labels)


@dataclass
class Dataset:
    name: str
    train: Split
    valid: Split
    test: Split
    n_classes: int
    n_channels: int
    image_size: int = IMAGE_SIZE
    factors: object = None  # dsprite: the full factor grid (iterators.dsprites.FactorGrid) for the metrics


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [-1, 1], on the images' device."""
    if images.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got {images.dtype}")
    return images.float() / 127.5 - 1


def unreadable(name, path, e) -> DatasetError:
    return DatasetError(f"{name}: cannot read {path} ({type(e).__name__}: {e}); "
                        f"delete or replace the file (it may be corrupt or truncated)")
