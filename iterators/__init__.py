"""Datasets as uint8 [N, C, 32, 32] tensors with fixed, seed-independent train/valid/test splits."""
from .datasets import DATASETS, Dataset, DatasetError, DatasetInfo, Split, load_dataset, to_float

__all__ = ["DATASETS", "Dataset", "DatasetError", "DatasetInfo", "Split", "load_dataset", "to_float"]
