"""dSprites loader: tiny files in the official (6-column) and subset (5-column) formats, the shared
real subset when present, and the errors."""
import pickle
import zipfile

import numpy as np
import pytest
import torch

from conftest import SHARED_DATA
from dsprites_npz import OFFICIAL_NAMES, SUBSET_NAMES, row_bits, write_npz
from iterators import DatasetError, load_dataset
from iterators.dsprites import OFFICIAL_FILE, SUBSET_FILE, URL, flat_index

SHARED_FILE = SHARED_DATA / "dsprites" / SUBSET_FILE


def check_grid(data, classes):
    """Every grid image is the file's image of those factor classes; splits partition the grid."""
    grid = data.factors
    flat = flat_index(classes, np.array(grid.factor_sizes))
    rows = row_bits(grid.images(flat)[:, 0].numpy())
    assert np.array_equal(rows, np.arange(len(classes)))  # file row r has its classes at flat index flat[r]
    seen = np.concatenate([row_bits(s.images[:, 0].numpy()) for s in (data.train, data.valid, data.test)])
    assert sorted(seen) == list(range(len(classes)))
    for split in (data.train, data.valid, data.test):
        r = row_bits(split.images[:, 0].numpy())
        assert torch.equal(split.labels, torch.from_numpy(classes[r, grid.factor_names.index("shape")]))


@pytest.mark.parametrize("shuffle", [False, True])
def test_official_format_drops_the_constant_colour(tmp_path, shuffle):
    sizes = (1, 3, 2, 4, 2, 3)
    classes = write_npz(tmp_path / OFFICIAL_FILE, sizes, OFFICIAL_NAMES, shuffle=shuffle)
    data = load_dataset("dsprite", tmp_path, download=False)
    assert data.factors.factor_names == OFFICIAL_NAMES[1:] and data.factors.factor_sizes == sizes[1:]
    assert (len(data.train), len(data.valid), len(data.test)) == (130, 7, 7)  # 144 images: 144 // 20 valid and test
    assert data.image_size == 64 and data.n_channels == 1 and data.n_classes == 3
    assert set(data.train.images.unique().tolist()) == {0, 255}  # so to_float gives -1 and 1
    check_grid(data, classes[:, 1:])


def test_subset_format_reads_sizes_from_metadata(tmp_path):
    sizes = (3, 2, 5, 2, 2)
    folder = tmp_path / "dsprites"
    folder.mkdir()
    classes = write_npz(folder / SUBSET_FILE, sizes, SUBSET_NAMES, shuffle=True)
    data = load_dataset("dsprite", tmp_path, download=False)  # found in DATA_DIR/dsprites/
    assert data.factors.factor_sizes == sizes and len(data.factors) == 120
    check_grid(data, classes)
    direct = load_dataset("dsprite", folder / SUBSET_FILE, download=False)  # --data_dir FILE.npz
    assert torch.equal(direct.train.images, data.train.images)


def test_sizes_without_metadata_come_from_the_classes(tmp_path):
    write_npz(tmp_path / SUBSET_FILE, (3, 2, 2, 2, 2), SUBSET_NAMES, metadata=False)
    assert load_dataset("dsprite", tmp_path, download=False).factors.factor_sizes == (3, 2, 2, 2, 2)


def test_missing_file_names_the_download_command(tmp_path, monkeypatch):
    with pytest.raises(DatasetError) as e:
        load_dataset("dsprite", tmp_path, download=False)
    msg = str(e.value)
    assert "curl -L --create-dirs -o" in msg and URL in msg and "\n" not in msg

    def no_network(url, dst, progress=True):
        raise OSError("no network")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(DatasetError, match="download failed: OSError: no network"):
        load_dataset("dsprite", tmp_path, download=True)
    assert not (tmp_path / "dsprites").exists()  # nothing left behind


def test_bad_files_are_refused(tmp_path):
    incomplete = tmp_path / "a" / SUBSET_FILE
    incomplete.parent.mkdir()
    write_npz(incomplete, (3, 2, 2, 2, 2), SUBSET_NAMES)
    with np.load(incomplete) as d:
        arrays = {k: d[k] for k in ("imgs", "latents_classes")}
    np.savez(incomplete, imgs=arrays["imgs"][:-1], latents_classes=arrays["latents_classes"][:-1])
    with pytest.raises(DatasetError, match="not a complete factor grid"):
        load_dataset("dsprite", incomplete, download=False)

    class Evil:
        def __reduce__(self):
            return (print, ("PWNED",))
    evil = tmp_path / "evil.npz"
    write_npz(evil, (3, 2, 2, 2, 2), SUBSET_NAMES, metadata=False)
    with zipfile.ZipFile(evil, "a") as z:  # metadata that would run code when unpickled
        z.writestr("metadata.npy", b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little")
                   + b"{'descr': '|O', 'fortran_order': False, 'shape': (), }".ljust(117) + b"\n"
                   + pickle.dumps(Evil()))
    with pytest.raises(DatasetError, match="cannot read.*refusing to unpickle builtins.print"):
        load_dataset("dsprite", evil, download=False)


@pytest.mark.skipif(not SHARED_FILE.is_file(), reason=f"{SHARED_FILE} not found")
def test_shared_real_subset():
    data = load_dataset("dsprite", SHARED_DATA, download=False)
    grid = data.factors
    assert grid.factor_names == SUBSET_NAMES and grid.factor_sizes == (3, 6, 10, 16, 16)
    assert (len(data.train), len(data.valid), len(data.test)) == (41472, 2304, 2304)
    with np.load(SHARED_FILE) as d:
        rows = np.random.RandomState(0).choice(len(d["imgs"]), 200, replace=False)
        images, classes = d["imgs"][rows], d["latents_classes"][rows]
    assert np.array_equal(grid.images(flat_index(classes, np.array(grid.factor_sizes)))[:, 0].numpy(), images * 255)
    per_shape = sum(s.labels.bincount(minlength=3) for s in (data.train, data.valid, data.test))
    assert per_shape.tolist() == [15360] * 3  # labels are the shape factor: a third of the grid each
