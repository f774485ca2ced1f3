"""Datasets as uint8 [N, C, H, W] tensors (or image files streamed from disk) with fixed, seed-independent
train/valid/test splits."""
from .batching import batches, batches_per_epoch, epoch_order, on_device, vis_batch, vis_rng
from .datasets import DATASETS, DatasetInfo, load_dataset
from .image_files import FileOptions
from .splits import Dataset, DatasetError, Split, to_float

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetInfo", "FileOptions", "Split", "batches",
           "batches_per_epoch", "epoch_order", "load_dataset", "on_device", "to_float", "vis_batch", "vis_rng"]
