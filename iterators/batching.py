"""Batches from in-memory splits, moved to the compute device one batch at a time."""
import torch

from .datasets import to_float


def batches(split, batch_size, device, order=None, limit=0):
    """Yields (x in [-1, 1], y) on `device`, in `order` (a permutation) or in split order."""
    n = len(split)
    order = torch.arange(n) if order is None else order
    for i, start in enumerate(range(0, n, batch_size)):
        if limit and i >= limit:
            return
        idx = order[start:start + batch_size]
        yield to_float(split.images[idx].to(device, non_blocking=True)), split.labels[idx].to(device)


def epoch_order(seed, epoch, n):
    """Data order depends only on (seed, epoch), so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def vis_batch(split, n, vis_seed, device):
    """The same n examples for a given --vis_seed, for every image a run writes."""
    idx = torch.randperm(len(split), generator=torch.Generator().manual_seed(vis_seed))[:n]
    return to_float(split.images[idx].to(device)), split.labels[idx].to(device)


def vis_rng(vis_seed, device):
    return torch.Generator(device).manual_seed(vis_seed)
