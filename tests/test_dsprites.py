"""dSprites loader: tiny files in the official (6-column) and subset (5-column) formats, files that are
not a complete grid (factor samples) through the launcher, the shared real subset when present, and the
errors."""
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

from helpers import SHARED_DATA, rows, run
from dsprites_npz import OFFICIAL_NAMES, SUBSET_NAMES, row_bits, write_npz
from iterators import DatasetError, load_dataset
from iterators.dsprites import OFFICIAL_FILE, SUBSET_FILE, URL, FactorGrid, FactorSamples, flat_index

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


def check_samples(data, classes):
    """Sample r is the file's row of those factor classes; splits partition the rows; labels are the shape."""
    samples = data.factors
    r = row_bits(samples.images(np.arange(len(samples)))[:, 0].numpy())
    assert np.array_equal(samples.classes, classes[r])
    seen = np.concatenate([row_bits(s.images[:, 0].numpy()) for s in (data.train, data.valid, data.test)])
    assert sorted(seen) == list(range(len(classes)))
    for split in (data.train, data.valid, data.test):
        r = row_bits(split.images[:, 0].numpy())
        assert torch.equal(split.labels, torch.from_numpy(classes[r, samples.factor_names.index("shape")]))


SUBSETS = {"official_metadata": (OFFICIAL_NAMES, True), "official_bare": (OFFICIAL_NAMES, False),
           "subset_metadata": (SUBSET_NAMES, True), "subset_bare": (SUBSET_NAMES, False)}


@pytest.mark.parametrize("names,metadata", SUBSETS.values(), ids=SUBSETS.keys())
def test_random_subset_loads_as_factor_samples(tmp_path, names, metadata):
    sizes = (1, 3, 2, 4, 2, 3)[6 - len(names):]
    grid = np.stack(np.unravel_index(np.arange(144), sizes), 1)
    keep = np.flatnonzero(grid[:, -1] < 2)  # posY 2 never occurs: its size is known only from metadata
    pick = np.random.RandomState(2).choice(keep, 80, replace=False)  # without replacement, as a subset of dSprites
    classes = write_npz(tmp_path / "subset.npz", sizes, names, metadata=metadata, rows=pick)
    data = load_dataset("dsprite", tmp_path / "subset.npz", download=False)
    assert isinstance(data.factors, FactorSamples) and len(data.factors) == 80
    assert data.factors.factor_names == SUBSET_NAMES  # the 6-column file's constant colour is dropped
    assert data.factors.factor_sizes == (3, 2, 4, 2, 3 if metadata else 2)
    assert (len(data.train), len(data.valid), len(data.test)) == (72, 4, 4)
    assert data.n_classes == 3 and set(data.train.images.unique().tolist()) == {0, 255}
    check_samples(data, classes[:, len(names) - 5:])


def test_duplicates_and_one_valued_factors(tmp_path):
    """Duplicate rows are samples like any other; a factor with one value in the file is dropped, so a
    file holding every combination of the others once is their grid."""
    sizes = (3, 2, 2, 2, 2)
    doubled = write_npz(tmp_path / "doubled.npz", sizes, SUBSET_NAMES, rows=np.r_[np.arange(48), 0, 0, 7])
    data = load_dataset("dsprite", tmp_path / "doubled.npz", download=False)
    assert isinstance(data.factors, FactorSamples) and len(data.factors) == 51
    check_samples(data, doubled)
    grid = np.stack(np.unravel_index(np.arange(48), sizes), 1)
    write_npz(tmp_path / "scale0.npz", sizes, SUBSET_NAMES, rows=np.flatnonzero(grid[:, 1] == 0))
    data = load_dataset("dsprite", tmp_path / "scale0.npz", download=False)
    assert isinstance(data.factors, FactorGrid) and data.factors.factor_sizes == (3, 2, 2, 2)
    assert data.factors.factor_names == ("shape", "orientation", "posX", "posY")


def test_bad_files_are_refused(tmp_path):
    outside = tmp_path / "outside.npz"
    write_npz(outside, (3, 2, 2, 2, 2), SUBSET_NAMES)
    with np.load(outside, allow_pickle=True) as d:
        arrays = dict(d)
    arrays["latents_classes"][0, 1] = 2  # scale has 2 values by the metadata
    np.savez(outside, **arrays)
    with pytest.raises(DatasetError, match=r"latents_classes outside the metadata's sizes \[3, 2, 2, 2, 2\]"):
        load_dataset("dsprite", outside, download=False)

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


SMALL_METRICS = "--mode_override=num_train=200,num_eval=100,batch_size=8"


def test_subset_trains_and_gets_the_metrics_it_can(tmp_path, capsys, one_thread):
    """Through the launcher on a random subset: training with --disentangle_every writes the MIG columns,
    --mode disentangle scores MIG and DCI and records why the others are skipped, and the FactorVAE-only
    mode refuses."""
    pick = np.random.RandomState(3).choice(144, 120, replace=False)
    write_npz(tmp_path / "subset.npz", (1, 3, 2, 4, 2, 3), OFFICIAL_NAMES, rows=pick)
    argv = [f"--data_dir={tmp_path / 'subset.npz'}", "--dataset=dsprite", "--arch=dsprite_gd", "--model=vae",
            "--ngf=4", "--beta=4", "--recon_loss=bce_sum", "--batch_size=8", "--val_batch_size=16",
            "--cls_probe=linear", "--epochs=1", "--save_path", tmp_path / "out"]
    assert run(argv + ["--batches_per_epoch=2", "--disentangle_every=1"]) == 0
    d = tmp_path / "out" / "s0" / "dsprite_vae_mixup" / "0"
    (row,) = rows(d / "results.csv")
    assert 0 <= float(row["mig_discrete_mig"]) <= 1 and not any(k.startswith(("factor_vae", "beta_vae")) for k in row)
    capsys.readouterr()

    assert run(argv + ["--mode=disentangle", SMALL_METRICS]) == 0
    report = json.loads((d / "disentangle" / "last_epoch1" / "disentangle.json").read_text())
    metrics = report["metrics"]
    assert 0 <= metrics["mig"]["discrete_mig"] <= 1 and 0 <= metrics["dci"]["informativeness_test"] <= 1
    why = "needs the complete factor grid (it fixes one factor and varies the others); the file holds 120 samples"
    assert metrics["factor_vae"]["skipped"].startswith(why) and metrics["beta_vae"] == metrics["factor_vae"]
    assert report["images"].startswith("drawn from all 120 images of the file, which are factor samples")
    assert report["factors"] == {"shape": 3, "scale": 2, "orientation": 4, "posX": 2, "posY": 3}
    out = capsys.readouterr().out
    assert f"skipped factor_vae, beta_vae: {why}" in out and "mig_discrete_mig=" in out

    assert run(argv + ["--mode=dsprite_disentangle_fv"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"--mode dsprite_disentangle_fv: factor_vae {why}" in err and "use --mode disentangle" in err
    assert not (d / "disentangle_fv.json").exists()


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
