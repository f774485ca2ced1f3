"""Throughput of image-file datasets: how many images per second the streaming loader decodes at 64 px
with 0, 1 and 2 workers, and how many a training step consumes at 64 and 128 px.

    python -m benchmarks.image_throughput --out benchmarks/results/image_throughput.json

The loader reads a generated folder of JPEGs at CelebA's size (178x218, smooth random colour fields,
quality 90) through iterators.image_files.StreamedImages, exactly as a streamed run's training batches;
the step is runs.training.train_epoch of the default model (swapgan + mixup, the default --arch for the
size) on in-memory uint8 images of that size. Figures are medians over repeats after a warm-up.
"""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from iterators import Dataset, Split, batches
from iterators.image_files import FileOptions, ImageList, StreamedImages
from runs.build import build_model, complete
from runs.spec import spec_from_flags
from runs.stored import versions
from runs.training import train_epoch


def write_jpegs(folder: Path, n: int) -> list[str]:
    rng = np.random.RandomState(0)
    paths = []
    for i in range(n):
        field = rng.rand(7, 6, 3) * 255  # upsampled: smooth like a photo, not noise (which decodes slower)
        im = Image.fromarray(field.astype(np.uint8)).resize((178, 218), Image.BICUBIC)
        paths.append(str(folder / f"{i:06d}.jpg"))
        im.save(paths[-1], quality=90)
    return paths


def loader_rate(paths, workers, image_size, batch_size, n_batches, repeats):
    files = ImageList(tuple(paths), np.zeros(len(paths), dtype=np.int64))
    images = StreamedImages(files, FileOptions(image_size=image_size, num_workers=workers))
    order = torch.randperm(len(paths), generator=torch.Generator().manual_seed(0))
    rates = []
    for r in range(repeats + 1):  # the first pass starts the workers: warm-up
        t0, n = time.perf_counter(), 0
        for x, _ in images.batches(order, batch_size, n_batches, pin_memory=False):
            n += len(x)
        if r:
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def step_rate(image_size, batch_size, steps, repeats):
    spec = spec_from_flags({"dataset": "folder", "image_size": image_size, "batch_size": batch_size, "device": "cpu"})
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (batch_size * steps, 3, image_size, image_size), dtype=torch.uint8,
                                generator=g), torch.zeros(batch_size * steps, dtype=torch.int64))
    data = Dataset("synthetic", split, split, split, n_classes=0, n_channels=3, image_size=image_size)
    spec = complete(spec, data)
    model = build_model(spec, torch.device("cpu"))
    rates = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        train_epoch(model, batches(split, batch_size, torch.device("cpu")), spec.train.update_g_every)
        if r:
            rates.append(batch_size * steps / (time.perf_counter() - t0))
    return statistics.median(rates), spec.model.arch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1024, help="JPEGs generated for the loader")
    p.add_argument("--workers", default="0,1,2")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="training steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    a = p.parse_args(argv)
    out = {"versions": versions(), "torch_threads": torch.get_num_threads(), "batch_size": a.batch_size,
           "loader_64px_images_per_s": {}, "train_step_images_per_s": {}}
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), a.images)
        for w in (int(w) for w in a.workers.split(",")):
            rate = loader_rate(paths, w, 64, a.batch_size, a.images // a.batch_size, a.repeats)
            out["loader_64px_images_per_s"][str(w)] = round(rate, 1)
            print(f"loader, 64 px, {w} worker(s): {rate:.0f} images/s", flush=True)
    for size in (64, 128):
        rate, arch = step_rate(size, a.batch_size, a.steps, a.repeats)
        out["train_step_images_per_s"][f"{size}px ({arch})"] = round(rate, 1)
        print(f"training step, {size} px, --arch {arch}, batch {a.batch_size}: {rate:.0f} images/s", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
