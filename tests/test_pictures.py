"""Pictures: per-run curves.png, --mode save_frames GIFs, --mode tsne / pca maps. Every file is
opened with PIL and checked for size, frame count and that its frames differ."""
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from architectures import build_networks
from helpers import FAST, rows, run
from iterators import load_dataset
from models import AMR, AMRConfig
from models.interpolation import decode_mixes
from models.mixing import triangle_tour_weights
from runs.images import gif_frame_ms
from runs.plots import curve_series, save_curves

RUN = FAST + ["--batches_per_epoch=2", "--save_images_every=100"]
NAME = "digits_swapgan_mixup"
CELL = 32 + 2  # a 32 px image and its 2 px padding
pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.py


def gif_frames(path):
    with Image.open(path) as im:
        assert im.format == "GIF" and im.info["loop"] == 0
        return [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(im)], im.info["duration"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, one_thread):
    """A tiny digits run: 2 epochs, then resumed for a third. Returns (save_path, run folder, the
    curves.png bytes written after epoch 2)."""
    save_path = tmp_path_factory.mktemp("pictures")
    assert run(RUN + ["--epochs=2", "--save_path", save_path]) == 0
    d = save_path / "s0" / NAME / "0"
    before = (d / "curves.png").read_bytes()
    assert run(RUN + ["--epochs=3", "--save_path", save_path]) == 0
    return save_path, d, before


def test_curves_after_training_and_resume(trained_run):
    _, d, before = trained_run
    table = rows(d / "results.csv")
    series = curve_series(table)
    assert list(series) == ["autoencoder losses", "adversarial losses", "probe accuracy"]
    epochs, values = series["probe accuracy"]["test_probe_acc"]
    assert epochs == [1, 2, 3]  # the resumed epoch is drawn with the two read back from results.csv
    assert values == [float(r["test_probe_acc"]) for r in table]
    assert series["autoencoder losses"]["valid_recon"][1] == [float(r["valid_recon"]) for r in table]
    with Image.open(d / "curves.png") as im:
        assert im.format == "PNG" and im.size == (3 * 450, 360)  # three 4.5 x 3.6 inch panels at 100 dpi
    assert (d / "curves.png").read_bytes() != before


def test_curves_without_probe(tmp_path):
    table = [{"epoch": str(e), "train_recon": str(1 / e), "valid_recon": "", "train_d_loss": str(e)}
             for e in (1, 2)]
    series = curve_series(table)
    assert list(series) == ["autoencoder losses", "adversarial losses"]
    assert math.isnan(series["autoencoder losses"]["valid_recon"][1][0])
    save_curves(table, tmp_path / "curves.png")
    with Image.open(tmp_path / "curves.png") as im:
        assert im.size == (2 * 450, 360)


def test_save_frames_gifs(trained_run):
    save_path, d, _ = trained_run
    options = "num_interps=3,num_stops=2,num_images=4,framerate=20"
    assert run(RUN + ["--epochs=3", "--mode=save_frames", "--mode_override", options, "--save_path", save_path]) == 0
    out = d / "save_frames" / "last_epoch3"
    channels = 2  # bottleneck channels of arch_acai_kyle: Bernoulli switches one per frame
    expected = {"pairwise.gif": 2 * 3, "bernoulli.gif": 2 * channels, "triangle.gif": 6 * 3}
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    for name, n_frames in expected.items():
        frames, duration = gif_frames(out / name)
        assert len(frames) == n_frames, name
        assert frames[0].shape == (2 + 2 * CELL, 2 + 2 * CELL)  # 4 images: a 2 x 2 grid
        assert duration == gif_frame_ms(20) == 50
        for a, b in zip(frames, frames[1:] + frames[:1]):  # consecutive frames differ, also across the loop
            assert not np.array_equal(a, b), name

    assert run(RUN + ["--epochs=3", "--mode=save_frames", "--mode_override", options + ",resize_to=16",
                      "--save_path", save_path]) == 0
    frames, _ = gif_frames(out / "triangle.gif")
    assert frames[0].shape == (2 + 2 * 18, 2 + 2 * 18)


@pytest.mark.parametrize("mode,n,options", [("pca", 80, ""), ("tsne", 60, ",perplexity=10.0")])
def test_embedding_maps(trained_run, mode, n, options):
    save_path, d, _ = trained_run
    assert run(RUN + ["--epochs=3", f"--mode={mode}", "--mode_override", f"num_points={n}{options}",
                      "--save_path", save_path]) == 0
    out = d / mode / "last_epoch3"
    with Image.open(out / f"{mode}.png") as im:
        assert im.format == "PNG" and im.size == (600, 600)
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 10  # coloured dots drawn
    saved = np.load(out / f"{mode}.npz")
    assert saved["points"].shape == (n, 2) and np.isfinite(saved["points"]).all()
    valid_labels = load_dataset("digits", ".").valid.labels[:n].numpy()
    assert np.array_equal(saved["labels"], valid_labels)
    if mode == "pca":  # PCA's first axis carries at least as much variance as the second
        assert saved["points"][:, 0].var() >= saved["points"][:, 1].var()


@pytest.mark.parametrize("mode,options", [("save_frames", "num_stops=1"), ("save_frames", "framerate=100"),
                                          ("save_frames", "num_images=200"), ("tsne", "perplexity=500.0"),
                                          ("pca", "num_points=2")])
def test_bad_options_write_nothing(trained_run, mode, options, capsys):
    save_path, _, _ = trained_run
    files = {p: p.stat().st_mtime_ns for p in save_path.rglob("*")}
    assert run(RUN + ["--epochs=3", f"--mode={mode}", "--mode_override", options, "--save_path", save_path]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--mode_override" in err
    assert {p: p.stat().st_mtime_ns for p in save_path.rglob("*")} == files


def test_frames_decode_the_expected_mixes():
    """Known answers: the tour starts at corner 0's reconstruction, passes the decoded mean of
    the three codes and reaches corners 1 and 2 after 2 and 4 legs."""
    torch.manual_seed(0)
    g, d = build_networks("arch_acai_kyle", 1, 4, 4)
    model = AMR(g, d, AMRConfig(k=3)).eval()
    x = torch.rand(3, 2, 1, 32, 32) * 2 - 1  # three sources for two images
    steps = 4
    frames = decode_mixes(model, list(x), triangle_tour_weights(steps, 2))
    assert frames.shape == (2, 6 * steps, 1, 32, 32)
    with torch.no_grad():
        h = [model.generator.encode(s) for s in x]
        for frame, code in [(0, h[0]), (steps, sum(h) / 3), (2 * steps, h[1]), (4 * steps, h[2])]:
            torch.testing.assert_close(frames[:, frame], model.generator.decode(code), atol=1e-5, rtol=0)


def test_triangle_tour_weights():
    steps, channels = 5, 3
    w = triangle_tour_weights(steps, channels)
    assert w.shape == (6 * steps, 3, channels)
    assert (w >= 0).all() and torch.allclose(w.sum(1), torch.ones(6 * steps, channels))
    assert torch.equal(w[:, :, 0], w[:, :, -1])  # the same weights for every channel
    corners = {0: 0, 2 * steps: 1, 4 * steps: 2}
    for row in range(6 * steps):
        if row in corners:
            assert torch.equal(w[row, :, 0], torch.eye(3)[corners[row]])
        else:  # everywhere else all three codes take part
            assert (w[row, :, 0] > 0).all()
    assert torch.allclose(w[steps, :, 0], torch.full((3,), 1 / 3))
    assert torch.allclose(w[3 * steps, :, 0], w[steps, :, 0]) and torch.allclose(w[5 * steps, :, 0], w[steps, :, 0])
    # no stretch is retraced: apart from the centre (passed three times) every frame is a new point
    assert len({tuple(np.round(r.numpy(), 5)) for r in w[:, :, 0]}) == 6 * steps - 2
