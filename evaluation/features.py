"""Bottleneck features of a frozen encoder, as numpy arrays for scikit-learn."""
import torch

from iterators import batches

SPLITS = ("train", "valid", "test")


@torch.no_grad()
def encode_split(model, split, batch_size, device):
    """Flattened codes [N, code_size] (float32) and labels [N] of one split, in split order (a streamed
    split without the files it could not decode)."""
    codes, labels = zip(*[(model.encode(x).flatten(1).float().cpu(), y.cpu())
                          for x, y in batches(split, batch_size, device)])
    return torch.cat(codes).numpy(), torch.cat(labels).numpy()


def encode_dataset(model, data, batch_size, device):
    """{split name: (features, labels)} for train, valid and test."""
    return {name: encode_split(model, getattr(data, name), batch_size, device) for name in SPLITS}
