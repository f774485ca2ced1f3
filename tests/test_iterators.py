"""Tests for iterators: tiny files in each official format, plus real MNIST when available."""
import os
from pathlib import Path
import pickle
import time

import numpy as np
import pytest
import torch

from iterators import DATASETS, DatasetError, load_dataset, to_float

from helpers import SHARED_DATA
from dataset_files import N_TEST, N_TRAIN, write_cifar, write_mnist_like


def _ids(split):
    """Recover source indices from the constant images; check they match the labels."""
    v = split.images[:, 0, 0, 0].long()
    assert (split.images == split.images[:, :1, :1, :1]).all()  # still constant after resizing
    assert torch.equal(split.labels, v % 10)
    return v


@pytest.mark.parametrize("name,channels,n_train,n_valid", [
    ("mnist", 1, 100, 20), ("kmnist", 1, 100, 20), ("svhn", 3, 45, 5), ("cifar10", 3, 40, 10)])
def test_tiny_files(data_dir, name, channels, n_train, n_valid):
    ds = load_dataset(name, data_dir, download=False)
    assert (ds.name, ds.n_classes, ds.n_channels, ds.image_size) == (name, 10, channels, 32)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (n_train, n_valid, N_TEST)
    for s in (ds.train, ds.valid, ds.test):
        assert s.images.shape == (len(s), channels, 32, 32)
        assert s.images.dtype == torch.uint8 and s.labels.dtype == torch.int64
        assert s.images.is_contiguous() and s.images.device.type == "cpu"
    tr, va = set(_ids(ds.train).tolist()), set(_ids(ds.valid).tolist())
    assert not tr & va and tr | va == set(range(n_train + n_valid))  # disjoint, covers train file
    assert set(_ids(ds.test).tolist()) == set(range(200, 200 + N_TEST))
    again = load_dataset(name, data_dir, download=False)  # splits are deterministic
    assert torch.equal(again.train.images, ds.train.images) and torch.equal(again.valid.labels, ds.valid.labels)


def test_svhn_label_10_is_digit_0(data_dir):
    ds = load_dataset("svhn", data_dir, download=False)
    labels = torch.cat([ds.train.labels, ds.valid.labels, ds.test.labels])
    assert labels.min() == 0 and labels.max() == 9 and (labels == 0).any()


def test_split_matches_reference_permutation(data_dir):
    # Reference: perm = RandomState(0).permutation(N); train = perm[:N - N//6], valid = the rest.
    perm = np.random.RandomState(0).permutation(N_TRAIN)
    ds = load_dataset("mnist", data_dir, download=False)
    assert _ids(ds.train).tolist() == perm[:100].tolist() and _ids(ds.valid).tolist() == perm[100:].tolist()


def test_to_float_range(data_dir):
    x = torch.tensor([0, 127, 255], dtype=torch.uint8)
    assert torch.allclose(to_float(x), torch.tensor([-1, 127 / 127.5 - 1, 1]))
    f = to_float(load_dataset("cifar10", data_dir, download=False).train.images)
    assert f.dtype == torch.float32 and f.min() >= -1 and f.max() <= 1


def test_digits():
    ds = load_dataset("digits", "/nonexistent", download=False)  # embedded: needs no files
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (1197, 300, 300)
    assert (ds.n_classes, ds.n_channels) == (10, 1) and ds.train.images.shape == (1197, 1, 32, 32)
    assert ds.train.images.max() > 200 and set(ds.test.labels.tolist()) == set(range(10))


def test_subset_train(data_dir):
    a = load_dataset("mnist", data_dir, subset_train=30, download=False)
    b = load_dataset("mnist", data_dir, subset_train=30, download=False)
    full = load_dataset("mnist", data_dir, download=False)
    keep = np.random.RandomState(0).permutation(100)[:30]
    assert len(a.train) == 30 and torch.equal(a.train.images, b.train.images)
    assert torch.equal(a.train.labels, full.train.labels[keep])
    assert len(a.valid) == len(full.valid) and len(a.test) == len(full.test)  # only train shrinks
    for bad in (0, 101):
        with pytest.raises(DatasetError, match="1..100"):
            load_dataset("mnist", data_dir, subset_train=bad, download=False)


def test_registry_and_unknown_name(tmp_path):
    assert set(DATASETS) == {"digits", "lines", "mnist", "kmnist", "svhn", "cifar10", "dsprite", "folder", "celeba",
                             "celeba32", "celeba_hq", "zappos", "zappos_hq", "flowers", "tiny-imagenet"}
    assert all(info.description and "\n" not in info.description for info in DATASETS.values())
    with pytest.raises(DatasetError, match="cifar10"):
        load_dataset("imagenet", tmp_path)


@pytest.mark.parametrize("name,folder,expected", [
    ("mnist", "MNIST/raw", "train-images-idx3-ubyte"), ("kmnist", "KMNIST/raw", "train-images-idx3-ubyte"),
    ("svhn", "", "train_32x32.mat"), ("cifar10", "cifar-10-batches-py", "data_batch_1")])
def test_missing_files(tmp_path, name, folder, expected):
    with pytest.raises(DatasetError) as e:
        load_dataset(name, tmp_path, download=False)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / folder) in msg and expected in msg and "--data_dir" in msg
    assert len(msg) < 200 + len(str(tmp_path))


def test_failed_download_is_one_short_line_and_leaves_no_files(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(root, *args, **kwargs):  # as torchvision fails: part of the files written, then no network
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        (raw / "train-images-idx3-ubyte.gz").write_bytes(b"partial")
        raise RuntimeError("no network\nsecond line")
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DatasetError, match="download failed: RuntimeError: no network second line") as e:
        load_dataset("mnist", tmp_path, download=True)
    text = str(e.value)
    assert "\n" not in text and len(text) < 200 + len(str(tmp_path)), text
    assert text.count("ubyte") == 1  # the first missing file and how many more, not the list twice
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_a_download_moves_its_files_in_only_when_complete(tmp_path, monkeypatch):
    import torchvision.datasets

    def online(root, *args, **kwargs):
        write_mnist_like(Path(root), "MNIST")
    monkeypatch.setattr(torchvision.datasets, "MNIST", online)
    data = load_dataset("mnist", tmp_path / "data", download=True)
    assert len(data.test) > 0 and [p.name for p in (tmp_path / "data").iterdir()] == ["MNIST"]


def test_corrupt_file_is_named(tmp_path):
    write_mnist_like(tmp_path, "MNIST")
    bad = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-5])  # truncated
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte"):
        load_dataset("mnist", tmp_path, download=False)
    (tmp_path / "test_32x32.mat").write_bytes(b"not a mat file")
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match="train_32x32.mat"):
        load_dataset("svhn", tmp_path, download=False)


def test_cifar_protocol2_pickles(tmp_path):
    write_cifar(tmp_path, protocol=2)  # uses numpy _reconstruct and _codecs.encode, like old pickles
    assert len(load_dataset("cifar10", tmp_path, download=False).train) == 40


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_cifar_pickle_refused(tmp_path):
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": _Evil(marker), b"labels": [0]}, fh)
    with pytest.raises(DatasetError, match="data_batch_3.*refusing"):
        load_dataset("cifar10", tmp_path, download=False)
    assert not marker.exists()


@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(),
                    reason=f"real MNIST not found under {SHARED_DATA}")
def test_real_mnist():
    start = time.perf_counter()
    ds = load_dataset("mnist", SHARED_DATA, download=False)
    elapsed = time.perf_counter() - start
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (50000, 10000, 10000)
    assert ds.train.images.shape == (50000, 1, 32, 32) and ds.train.images.dtype == torch.uint8
    assert set(ds.train.labels.unique().tolist()) == set(range(10))
    assert 20 < ds.test.images.float().mean() < 50  # mostly black, as MNIST (mean ~33)
    assert elapsed < 15, f"loading real MNIST took {elapsed:.1f}s"
