"""Batches from in-memory splits: gathered on the GPU when the dataset fits there, else copied
to the compute device one batch at a time."""
import dataclasses

import torch

from .splits import to_float


def batches(split, batch_size, device, order=None, limit=0):
    """Yields (x in [-1, 1], y) on `device` for the examples in `order` (indices into the split,
    e.g. a permutation or one process's share of it), or the whole split in order."""
    order = torch.arange(len(split)) if order is None else order
    if split.streamed:  # decoded by --num_workers DataLoader workers; an unreadable file's place goes to the next
        for x, y in split.images.batches(order.cpu(), batch_size, limit, pin_memory=device.type == "cuda"):
            yield to_float(x.to(device, non_blocking=True)), y.to(device)
        return
    order = order.to(split.images.device)  # one copy per epoch; indexing then stays where the data is
    for i, start in enumerate(range(0, len(order), batch_size)):
        if limit and i >= limit:
            return
        idx = order[start:start + batch_size]
        yield to_float(split.images[idx].to(device, non_blocking=True)), split.labels[idx].to(device)


def batches_per_epoch(n, batch_size, limit=0):
    """How many batches `batches` yields for n examples (at most `limit` when limit > 0)."""
    n_batches = -(-n // batch_size)
    return min(n_batches, limit) if limit else n_batches


def epoch_order(seed, epoch, n):
    """Data order depends only on (seed, epoch), so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def vis_batch(split, n, vis_seed, device):
    """The same n examples for a given --vis_seed, for every image a run writes."""
    idx = torch.randperm(len(split), generator=torch.Generator().manual_seed(vis_seed))[:n]
    x, y = split.images.examples(idx) if split.streamed else (split.images[idx], split.labels[idx])
    return to_float(x.to(device)), y.to(device)


def vis_rng(vis_seed, device):
    return torch.Generator(device).manual_seed(vis_seed)


def on_device(data, device, max_fraction=0.5):
    """The dataset's in-memory splits moved to a CUDA `device` when they fit in `max_fraction` of its free
    memory, so batches are gathered and shuffled there with no host-to-device copy per step. Unchanged on
    CPU or when too large (then each batch is copied as it is used); streamed splits stay streamed."""
    if device.type != "cuda":
        return data
    splits = {name: getattr(data, name) for name in ("train", "valid", "test") if not getattr(data, name).streamed}
    size = sum(s.images.nbytes + s.labels.nbytes for s in splits.values())
    if size > max_fraction * torch.cuda.mem_get_info(device)[0]:
        return data
    return dataclasses.replace(data, **{name: dataclasses.replace(s, images=s.images.to(device),
                                                                  labels=s.labels.to(device))
                                        for name, s in splits.items()})
