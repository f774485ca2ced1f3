"""Data-parallel training across processes started by torchrun (gloo on CPU, NCCL on CUDA).

Every rank holds the whole model and trains on its own shard of each epoch's batches. After each
backward pass the gradients are averaged across ranks before the optimiser steps (one flat
all-reduce per optimiser, as DistributedDataParallel does per bucket), so the ranks' weights stay
identical; a checksum comparison every epoch proves it. The DDP wrapper itself does not fit
this model: a step calls the encoder, decoder and discriminator several times per backward pass
and freezes the discriminator in the generator phase, while DDP's hooks expect one forward per
backward over a fixed set of trainable parameters.

A single process (no torchrun) takes none of these paths, so its results are unchanged.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from amr_errors import CheckpointError, ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self):
        return self.size > 1

    @property
    def main(self):
        return self.rank == 0


SINGLE = World()


def init_world(use_cuda):
    """Join the process group torchrun describes in the environment, or run alone."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return SINGLE
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if use_cuda:
            if world.local_rank >= torch.cuda.device_count():
                raise ConfigError(f"torchrun started process {world.local_rank} on a machine with "
                                  f"{torch.cuda.device_count()} GPU(s); use --nproc_per_node at most that, or "
                                  f"--device cpu")
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return world


def shard(order, world):
    """This rank's share of an epoch's permutation; equal lengths on every rank (the last
    len(order) % size examples of the permutation are left out, a different few each epoch)."""
    if not world.distributed:
        return order
    per_rank = len(order) // world.size
    return order[world.rank * per_rank:(world.rank + 1) * per_rank]


def average_gradients_before_each_step(model, world):
    """Have the model replace every gradient by its mean over ranks before each optimiser step (and,
    under fp16, before its gradient scaler looks for infinities, so that every rank steps or skips alike)."""
    if not world.distributed:
        return

    def average(optimizer):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= world.size
        for g, mean in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(mean.view_as(g))
    model.sync_gradients = average


def agree_on_start(epoch, steps, world):
    """Stop with one line unless every rank resumes from the same epoch and step (a rank that read another
    checkpoint, or another run folder, would silently train something else)."""
    if not world.distributed:
        return
    mine = torch.tensor([float(epoch), float(steps or 0)], dtype=torch.float64, device=_flag_device())
    lo, hi = mine.clone(), mine.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise CheckpointError(f"ranks resume from different points (epochs {lo[0]:.0f}-{hi[0]:.0f}, steps "
                           f"{lo[1]:.0f}-{hi[1]:.0f}); give every rank the same run folder and --resume")


def _flag_device():
    return "cuda" if dist.get_backend() == "nccl" else "cpu"


def broadcast_weights(model, world):
    """Start every rank from rank 0's weights and buffers."""
    if world.distributed:
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, src=0)


def sum_over_ranks(values, world):
    """Element-wise sum of a 1-D tensor over ranks (returned unchanged for one process)."""
    if world.distributed:
        values = values.clone()
        dist.all_reduce(values)
    return values


def all_ok(ok, world):
    """True when every rank says ok (so all ranks stop together when one cannot go on)."""
    if not world.distributed:
        return ok
    flag = torch.tensor([0.0 if ok else 1.0], device=_flag_device())
    dist.all_reduce(flag)
    return flag.item() == 0


def check_in_sync(model, world):
    """Raise if any rank's weights or buffers (spectral norm's power-iteration vectors among them) differ
    from the others' (compared through per-tensor sums)."""
    if not world.distributed:
        return
    tensors = [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]
    sums = torch.stack([t.detach().double().sum() for t in tensors])
    lo, hi = sums.clone(), sums.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise RuntimeError("data-parallel ranks hold different weights; stopping (please report this)")


def gather_rng_states(state, world):
    """Every rank's mixing-RNG state, in rank order (a list of one for a single process)."""
    if not world.distributed:
        return [state]
    states = [None] * world.size
    dist.all_gather_object(states, state)
    return states


def finish(world):
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
