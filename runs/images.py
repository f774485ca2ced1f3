"""Image grids written as PNG (atomically)."""
import torch
from torchvision.utils import save_image

from .files import atomic_write


def save_grid(images, path, nrow, padding=2):
    """images: [N, C, H, W] in [-1, 1]; rows of `nrow` images."""
    grid = (images.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1)
    atomic_write(path, lambda f: save_image(grid, f, nrow=nrow, padding=padding, format="png"))


def save_rows(rows, path, padding=2):
    """rows: list of equally long [N, C, H, W] tensors, one grid row each."""
    save_grid(torch.cat(rows), path, nrow=rows[0].shape[0], padding=padding)
