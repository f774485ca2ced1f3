"""Image grids written as PNG, and animations of grids written as GIF (atomically)."""
import math

import torch
from torchvision.transforms.functional import to_pil_image
from torchvision.utils import make_grid, save_image

from .files import atomic_write


def _unit(images):
    """[-1, 1] model outputs -> [0, 1] pixels on the CPU."""
    return (images.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1)


def save_grid(images, path, nrow, padding=2):
    """images: [N, C, H, W] in [-1, 1]; rows of `nrow` images."""
    grid = _unit(images)
    atomic_write(path, lambda f: save_image(grid, f, nrow=nrow, padding=padding, format="png"))


def save_rows(rows, path, padding=2):
    """rows: list of equally long [N, C, H, W] tensors, one grid row each."""
    save_grid(torch.cat(rows), path, nrow=rows[0].shape[0], padding=padding)


def gif_frame_ms(framerate):
    """GIF stores frame delays in hundredths of a second."""
    return 10 * round(100 / framerate)


def save_gif(frames, path, framerate, padding=2):
    """frames: [N, F, C, H, W] in [-1, 1]; frame f of the GIF is a near-square grid of the N
    images frames[:, f]. Loops forever. Grey images stay 8-bit grey (GIF is lossless for them);
    Pillow merges a frame identical to the one before it into a longer one."""
    n, channels = frames.shape[0], frames.shape[2]
    nrow = math.ceil(math.sqrt(n))
    pictures = []
    for f in range(frames.shape[1]):
        grid = make_grid(_unit(frames[:, f]), nrow=nrow, padding=padding)  # always 3 channels
        picture = to_pil_image(grid.mul(255).add(0.5).clamp(0, 255).to(torch.uint8))  # rounding as save_image
        pictures.append(picture.convert("L") if channels == 1 else picture)
    atomic_write(path, lambda f: pictures[0].save(f, format="GIF", save_all=True, append_images=pictures[1:],
                                                   duration=gif_frame_ms(framerate), loop=0))
