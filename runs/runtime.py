"""Where and how a run computes: the device, determinism or speed (cuDNN autotuning, TF32), and under
torchrun the process group, this rank's GPU and its share of the batch."""
import os
from dataclasses import dataclass

import torch

from amr_errors import ConfigError

from .distributed import SINGLE, World, init_world


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    world: World = SINGLE
    rank_batch_size: int = 0  # this process's batch (--batch_size, or its share under --global_batch)


def choose_device(name):
    """--device auto|cpu|cuda -> torch.device (auto: CUDA when available)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def set_determinism(deterministic):
    """--deterministic: deterministic algorithms everywhere, cuDNN without autotuning, no TF32 (set before
    CUDA starts, as cuBLAS reads CUBLAS_WORKSPACE_CONFIG once). Otherwise, for speed on GPUs: cuDNN picks
    the fastest kernels per shape and float32 matmuls and convolutions use TF32. The CPU is bitwise
    repeatable either way."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cuda.matmul.allow_tf32 = not deterministic
    torch.backends.cudnn.allow_tf32 = not deterministic


def start(spec, distributed=True):
    """The Runtime of a spec: its device, determinism, and (distributed=True, under torchrun) the
    process group with this rank's device and batch."""
    t = spec.train
    device = choose_device(t.device)
    set_determinism(t.deterministic)
    world = init_world(device.type == "cuda") if distributed else SINGLE
    if not world.distributed:
        return Runtime(device, world, t.batch_size)
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
    rank_batch_size = t.batch_size
    if t.global_batch:
        if t.batch_size % world.size:
            raise ConfigError(f"--global_batch: --batch_size {t.batch_size} does not divide over {world.size} "
                              f"processes; use a multiple of {world.size}")
        rank_batch_size = t.batch_size // world.size
    return Runtime(device, world, rank_batch_size)


__all__ = ["Runtime", "choose_device", "set_determinism", "start"]
