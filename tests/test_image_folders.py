"""Datasets of image files: --dataset folder (class subfolders, flat, own splits), decoding of odd files,
streaming with workers (bitwise like in memory, and after SIGKILL and resume), the named layouts
(CelebA, Zappos, Flowers-102, Tiny ImageNet), and one-line refusals."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from helpers import ROOT, run
from iterators import DatasetError, FileOptions, load_dataset
from iterators.image_files import ImageList, StreamedImages, decode_image
from runs.checkpoint import load_checkpoint

TINY = ["--batch_size=8", "--ngf=4", "--ndf=4", "--val_batch_size=8", "--num_workers=0"]


def colour(i):
    return (i * 37 % 256, i * 91 % 256, i * 53 % 256)


def write_image(path, i, size=(40, 30)):
    """A constant-colour image (survives resizing exactly), as JPEG (quality 100) or PNG by extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour(i)).save(path, quality=100)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """3 class folders x 20 images, JPEG and PNG, plus one truncated JPEG in 'c'."""
    root = tmp_path_factory.mktemp("labelled")
    for c, name in enumerate("abc"):
        for j in range(20):
            write_image(root / name / f"{j:02d}.{'jpg' if j % 2 else 'png'}", 20 * c + j)
    good = root / "a" / "01.jpg"
    (root / "c" / "zz_truncated.jpg").write_bytes(good.read_bytes()[:200])
    return root


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    root = tmp_path_factory.mktemp("flat")
    for i in range(60):
        write_image(root / f"img{i:02d}.png", i)
    return root


def test_class_folders_give_labels_and_a_fixed_90_5_5_split(labelled, capsys):
    opts = FileOptions(image_size=32)
    data = load_dataset("folder", labelled, files=opts)
    assert data.n_classes == 3 and data.n_channels == 3 and data.image_size == 32
    # 61 files, 3 + 3 held out by the fixed split; the truncated one fell in valid and was skipped
    assert (len(data.train), len(data.valid), len(data.test)) == (55, 2, 3)
    assert "zz_truncated.jpg" in capsys.readouterr().err
    again = load_dataset("folder", labelled, files=opts)
    assert all(torch.equal(getattr(data, s).images, getattr(again, s).images) for s in ("train", "valid", "test"))
    # every image is (up to JPEG's rounding) the constant colour of its file, its label that file's folder
    palette = torch.tensor([colour(i) for i in range(60)])
    for split in (data.train, data.valid, data.test):
        for x, y in zip(split.images, split.labels):
            distance = (palette - x[:, 0, 0].int()).abs().sum(1)
            assert distance.min() < 8 and distance.argmin() // 20 == y
            assert (x.int() - x[:, :1, :1].int()).abs().max() <= 2


def test_flat_folder_is_unlabelled_and_label_modes_refuse(flat, tmp_path, capsys):
    data = load_dataset("folder", flat, files=FileOptions(image_size=32))
    assert data.n_classes == 0 and (data.train.labels == -1).all()
    args = ["--dataset=folder", f"--data_dir={flat}", "--image_size=32", *TINY, f"--save_path={tmp_path}"]
    assert run([*args, "--cls_probe=linear"]) == 2
    assert "needs labels" in capsys.readouterr().err
    assert not tmp_path.joinpath("s0").exists()
    assert run([*args, "--epochs=1"]) == 0
    assert run([*args, "--mode=probe"]) == 2
    assert "needs labels" in capsys.readouterr().err
    assert run([*args, "--mode=pca", "--mode_override=num_points=3"]) == 0


def test_own_train_valid_test_subfolders_are_used(tmp_path):
    for split, n in (("train", 12), ("val", 4), ("test", 5)):
        for c in "xy":
            for j in range(n):
                write_image(tmp_path / split / c / f"{j}.png", j)
    data = load_dataset("folder", tmp_path, files=FileOptions(image_size=32))
    assert (len(data.train), len(data.valid), len(data.test)) == (24, 8, 10) and data.n_classes == 2
    assert set(data.valid.labels.tolist()) == {0, 1}
    (tmp_path / "test").rename(tmp_path / "held")  # no test/: a twentieth of train is carved as test
    data = load_dataset("folder", tmp_path, files=FileOptions(image_size=32))
    assert (len(data.train), len(data.valid), len(data.test)) == (23, 8, 1)


def test_odd_image_modes_decode_to_rgb_or_gray(tmp_path):
    files = {
        "palette.png": Image.new("RGB", (20, 20), (200, 10, 10)).convert("P"),
        "rgba.png": Image.new("RGBA", (20, 20), (0, 0, 0, 0)),  # fully transparent: white
        "cmyk.jpg": Image.new("CMYK", (20, 20), (0, 255, 255, 0)),
        "gray16.png": Image.fromarray(np.full((20, 20), 65535, dtype=np.uint16)),
        "la.png": Image.new("LA", (20, 20), (100, 255)),
        "bilevel.bmp": Image.new("1", (20, 20), 1),
        "small.webp": Image.new("RGB", (5, 8), (0, 0, 255)),  # smaller than the image size: upscaled
    }
    for name, im in files.items():
        im.save(tmp_path / name, **({"quality": 100} if name.endswith(".jpg") else {}))
    got = {name: decode_image(tmp_path / name, 32, 3) for name in files}
    assert all(x.shape == (3, 32, 32) and x.dtype == np.uint8 for x in got.values())
    assert np.abs(got["palette.png"][:, 5, 5].astype(int) - (200, 10, 10)).max() <= 12  # the web palette's nearest
    assert (got["rgba.png"] == 255).all() and (got["gray16.png"] == 255).all() and (got["bilevel.bmp"] == 255).all()
    assert abs(int(got["cmyk.jpg"][0, 5, 5]) - 255) < 3 and got["cmyk.jpg"][1:, 5, 5].max() < 3
    assert (got["la.png"] == 100).all() and tuple(got["small.webp"][:, 16, 16]) == (0, 0, 255)
    assert decode_image(tmp_path / "palette.png", 32, 1).shape == (1, 32, 32)
    wide = Image.new("RGB", (90, 30), (0, 0, 0))
    wide.paste((255, 255, 255), (26, 0, 64, 30))  # a white centre third: the centre crop keeps only it
    wide.save(tmp_path / "wide.png")
    assert (decode_image(tmp_path / "wide.png", 16, 3) == 255).all()
    with pytest.raises(ValueError, match="mode F"):
        Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "float.tif")
        decode_image(tmp_path / "float.tif", 16, 3)


@pytest.mark.parametrize("case", ["missing", "empty", "too_few", "loose_and_classes", "n_channels", "image_size"])
def test_bad_folders_are_refused_in_one_line_and_write_nothing(tmp_path, case, capsys):
    data_dir = tmp_path / "images"
    extra = []
    if case != "missing":
        data_dir.mkdir()
    if case == "too_few":
        for i in range(5):
            write_image(data_dir / f"{i}.png", i)
    if case == "loose_and_classes":
        for i in range(30):
            write_image(data_dir / "cls" / f"{i}.png", i)
        write_image(data_dir / "loose.png", 0)
    if case in ("n_channels", "image_size"):
        for i in range(30):
            write_image(data_dir / f"{i}.png", i)
        extra = ["--n_channels=2"] if case == "n_channels" else ["--dataset=mnist", "--image_size=64"]
    out = tmp_path / "out"
    assert run(["--dataset=folder", f"--data_dir={data_dir}", *TINY, f"--save_path={out}", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err and "Traceback" not in err
    assert not out.exists()


def test_single_class_folder_trains_unlabelled(tmp_path, capsys):
    for i in range(30):
        write_image(tmp_path / "imgs" / "only" / f"{i}.png", i)
    data = load_dataset("folder", tmp_path / "imgs", files=FileOptions(image_size=32))
    assert data.n_classes == 0 and (data.train.labels == -1).all()
    assert "single class" in capsys.readouterr().err


def train_args(data_dir, save_path, *extra):
    return ["--dataset=folder", f"--data_dir={data_dir}", "--image_size=32", "--batch_size=8", "--ngf=4",
            "--ndf=4", "--val_batch_size=8", "--save_every=1", f"--save_path={save_path}", *extra]


def weights(path):
    return load_checkpoint(path)["training"]


def assert_same(a, b):
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert torch.equal(a["mix_rng"], b["mix_rng"])


def test_streamed_with_workers_trains_exactly_as_in_memory(labelled, tmp_path, capsys):
    assert run(train_args(labelled, tmp_path, "--epochs=2", "--num_workers=0", "--name=mem")) == 0
    assert run(train_args(labelled, tmp_path, "--epochs=2", "--num_workers=2", "--max_in_memory_gb=0",
                          "--name=stream")) == 0
    out = capsys.readouterr()
    # the truncated file, in valid: skipped by the validation pass and by the epoch's pictures of valid
    assert "streaming train, valid, test" in out.err and "skipped_images=2" in out.out
    assert_same(weights(tmp_path / "s0/mem/0/last.pt"), weights(tmp_path / "s0/stream/0/last.pt"))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_streamed_batch_keeps_its_size_when_a_file_is_unreadable(tmp_path, workers, capsys):
    """The unreadable file's place goes to the next readable file of the list, image and label (the last
    one's to the first): every batch keeps its size, so every rank of a distributed run takes the same
    steps; the failures are still counted and shown once."""
    paths = []
    for i in range(6):
        write_image(tmp_path / f"{i}.png", i)
        paths.append(str(tmp_path / f"{i}.png"))
    for bad in (2, 5):
        (tmp_path / f"{bad}.png").write_bytes(b"not an image")
    images = StreamedImages(ImageList(tuple(paths), np.arange(6) * 10),
                            FileOptions(image_size=8, n_channels=3, num_workers=workers))
    got = list(images.batches(torch.tensor([0, 1, 2, 3, 4, 5]), 3, 0, False))
    assert [len(x) for x, _ in got] == [3, 3]
    assert [y.tolist() for _, y in got] == [[0, 10, 30], [30, 40, 0]]
    assert torch.equal(got[0][0][2], got[1][0][0]) and torch.equal(got[1][0][2], got[0][0][0])
    assert images.skips.count == 2
    assert capsys.readouterr().err.count("warning: skipped unreadable image") == 1


@pytest.mark.parametrize("size", [32, 128])
def test_modes_write_pictures_of_a_streamed_dataset(flat, tmp_path, size):
    stream = [*train_args(flat, tmp_path, "--num_workers=2", "--max_in_memory_gb=0", "--epochs=1"),
              f"--image_size={size}"]
    assert run(stream) == 0
    for mode, override, written in (("interp_valid", "num_interps=2", "grid.png"),
                                    ("save_frames", "num_images=1,num_stops=3", "pairwise.gif"),
                                    ("tsne", "num_points=3,perplexity=1.0", "tsne.png")):
        assert run([*stream, f"--mode={mode}", f"--mode_override={override}"]) == 0
        assert list((tmp_path / "s0/folder_swapgan_mixup/0" / mode).glob(f"*/{written}")), mode


def test_streamed_run_killed_and_resumed_ends_bitwise_equal(labelled, tmp_path):
    flags = ["--epochs=4", "--num_workers=2", "--max_in_memory_gb=0", "--image_size=64", "--save_images_every=2"]

    def launch(name, stdout=subprocess.DEVNULL):
        return subprocess.Popen([sys.executable, "task_launcher.py", *train_args(labelled, tmp_path, *flags,
                                                                                 f"--name={name}")],
                                cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    assert launch("whole").wait() == 0
    p = launch("killed", subprocess.PIPE)
    for line in p.stdout:
        if line.startswith("epoch 2/"):
            p.send_signal(signal.SIGKILL)  # workers and all, mid-way into epoch 3
            break
    p.wait()
    assert load_checkpoint(tmp_path / "s0/killed/0/last.pt")["epoch"] == 2
    assert launch("killed").wait() == 0
    assert_same(weights(tmp_path / "s0/whole/0/last.pt"), weights(tmp_path / "s0/killed/0/last.pt"))
    for mode in ("probe", "pca"):  # the offline probe and the map on the 64 px codes (4x4x32)
        assert run(train_args(labelled, tmp_path, *flags, "--name=whole", f"--mode={mode}",
                              "--mode_override=" + ("num_points=3" if mode == "pca" else "train_examples=0"))) == 0
    assert list((tmp_path / "s0/whole/0/probe").glob("*/probe.json"))
    assert list((tmp_path / "s0/whole/0/pca").glob("*/pca.png"))


# ---------------------------------------------------------------- named layouts

def test_celeba_layout_official_splits_face_crop_and_one_epoch(tmp_path):
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    lines = []
    for i in range(30):
        im = Image.new("RGB", (178, 218), (0, 0, 0))
        im.paste(colour(i), (15, 35, 163, 183))  # the centred 148 px face box
        im.save(folder / f"{i + 1:06d}.jpg", quality=100)
        lines.append(f"{i + 1:06d}.jpg {0 if i < 20 else 1 if i < 25 else 2}")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    data = load_dataset("celeba", tmp_path, download=False, files=FileOptions(image_size=64))
    assert (len(data.train), len(data.valid), len(data.test)) == (20, 5, 5) and data.n_classes == 0
    inner = data.train.images[:, :, 2:-2, 2:-2].float()  # the black border is cropped away (JPEG blurs the edge)
    assert data.image_size == 64 and inner.std(dim=(2, 3)).max() < 3
    out = tmp_path / "out"
    assert run(["--dataset=celeba", f"--data_dir={tmp_path}", *TINY, "--epochs=1", f"--save_path={out}"]) == 0
    cfg = (out / "s0/celeba_swapgan_mixup/0/cfg.yaml").read_text()
    assert "arch: acai64_512" in cfg  # the preset for 64 px, chosen without --arch
    with pytest.raises(DatasetError, match="img_align_celeba and 1 more missing"):
        load_dataset("celeba", tmp_path / "nowhere", download=False, files=FileOptions())


def test_zappos_flowers_and_tiny_imagenet_layouts(tmp_path):
    for c, cat in enumerate(["Boots", "Sandals", "Shoes", "Slippers"]):
        for j in range(10):
            write_image(tmp_path / "ut-zap50k-images-square" / cat / "Sub" / "Brand" / f"{j}.jpg", c * 10 + j)
    data = load_dataset("zappos", tmp_path, files=FileOptions(image_size=64))
    assert data.n_classes == 4 and (len(data.train), len(data.valid), len(data.test)) == (36, 2, 2)

    jpg = tmp_path / "flowers-102" / "jpg"
    for i in range(1, 13):
        write_image(jpg / f"image_{i:05d}.jpg", i)
    scipy.io.savemat(str(tmp_path / "flowers-102" / "imagelabels.mat"), {"labels": np.arange(12) % 3 + 1})
    scipy.io.savemat(str(tmp_path / "flowers-102" / "setid.mat"),
                     {"trnid": np.arange(1, 7), "valid": np.arange(7, 10), "tstid": np.arange(10, 13)})
    data = load_dataset("flowers", tmp_path, download=False, files=FileOptions(image_size=64))
    assert data.n_classes == 3 and (len(data.train), len(data.valid), len(data.test)) == (6, 3, 3)

    tiny = tmp_path / "tiny-imagenet-200"
    for w in ("n01", "n02"):
        for j in range(20):
            write_image(tiny / "train" / w / "images" / f"{w}_{j}.JPEG", j, size=(64, 64))
    for j in range(6):
        write_image(tiny / "val" / "images" / f"val_{j}.JPEG", j, size=(64, 64))
    (tiny / "val" / "val_annotations.txt").write_text(
        "".join(f"val_{j}.JPEG\t{'n01' if j % 2 else 'n02'}\t0\t0\t63\t63\n" for j in range(6)))
    data = load_dataset("tiny-imagenet", tmp_path, files=FileOptions(image_size=64))
    assert data.n_classes == 2 and (len(data.train), len(data.valid), len(data.test)) == (38, 2, 6)
    assert sorted(data.test.labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_named_datasets_that_cannot_download_name_their_folder(tmp_path):
    for name, folder in (("zappos", "ut-zap50k-images-square"), ("celeba_hq", "celeba_hq"),
                         ("tiny-imagenet", "tiny-imagenet-200")):
        with pytest.raises(DatasetError, match=folder):
            load_dataset(name, tmp_path, download=False, files=FileOptions())


def test_streamed_split_subset_stays_streamed(labelled):
    data = load_dataset("folder", labelled, subset_train=10, files=FileOptions(image_size=32, max_in_memory_bytes=0))
    assert data.train.streamed and len(data.train) == 10 and data.train.images[:2].shape == (2, 3, 32, 32)
