"""Training-step throughput: the reference's style of step against ours, in one process.

    python -m benchmarks.step_time                       # CPU (or the GPU when present), batch 64 and 256
    python -m benchmarks.step_time --device cuda --batch_sizes 64,1024,4096,16384 \\
        --variants reference,ours,ours+amp,ours+amp+compile --out bench.json

Both steps train the paper's 32 px MNIST model (--arch, default arch_acai_kyle: the reference's
networks; swapgan + mixup, lamb 10, Adam 1e-4 (0.5, 0.99), weight decay 1e-5, linear probe, G
updated every 5th step) on random
uint8 images of MNIST's shape, so no dataset is needed. The reference style
(benchmarks/reference_step.py) reads batches from a DataLoader, calls the discriminator once per
term, reads every loss with .item() each step and uses the reference's layers (NCHW,
nn.InstanceNorm2d, out-of-place LeakyReLU); ours is runs.training.train_epoch over
iterators.batches, exactly as a run trains. Variants alternate within each repeat so that load
from other processes hits both alike; the figure is the median over repeats after warm-up.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from benchmarks.reference_step import reference_epoch, reference_layers, reference_loader
from iterators import Dataset, Split, batches, epoch_order, on_device
from runs.build import build_model, complete
from runs.runtime import set_determinism
from runs.spec import spec_from_flags
from runs.stored import versions
from runs.training import train_epoch

PAPER_FLAGS = {"dataset": "mnist", "model": "swapgan", "mixer": "mixup", "lamb": 10.0, "beta": 0.0, "lr": 1e-4,
               "beta1": 0.5, "beta2": 0.99, "weight_decay": 1e-5, "cls_probe": "linear_legacy", "update_g_every": 5}
UPDATE_G_EVERY = 5  # as in PAPER_FLAGS: the generator's step on every 5th batch
VARIANTS = ("reference", "ours", "ours+amp", "ours+fp16", "ours+compile", "ours+amp+compile", "ours+fp16+compile")


def paper_spec(data, batch_size, device="cpu", amp=None, compile=None, seed=0, arch="arch_acai_kyle", **flags):
    """The run spec of the paper's MNIST flags (as task_launcher.py makes it), completed against `data`;
    amp: None, "bf16" (True means bf16) or "fp16"; compile: None, a mode (True means "default")."""
    amp = "bf16" if amp is True else amp or None
    compile = "default" if compile is True else compile or None
    spec = spec_from_flags({**PAPER_FLAGS, "arch": arch, "batch_size": batch_size, "device": device, "seed": seed,
                            "amp": amp, "compile": compile, **flags})
    return complete(spec, data)


def build(device, data, batch_size, amp=False, compile=False, seed=0, arch="arch_acai_kyle"):
    """The model task_launcher.py builds for the paper's MNIST flags (runs.build.build_model), with the
    runtime's speed settings (cuDNN autotuning, TF32 on GPUs) as a run sets them."""
    device = torch.device(device)
    set_determinism(False)
    return build_model(paper_spec(data, batch_size, device.type, amp, compile, seed, arch), device)


def synthetic_mnist(n):
    """Random uint8 images and labels of MNIST's shape (the cost of a step does not depend on content)."""
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (n,), generator=g))
    held_out = Split(split.images[:256], split.labels[:256])  # unused by the timed steps; kept small
    return Dataset("synthetic", split, held_out, held_out, n_classes=10, n_channels=1)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def variant_precision(variant):
    """The --amp of a variant: "+amp" is bf16, "+fp16" float16 with gradient scaling, else None."""
    return "fp16" if "fp16" in variant else "bf16" if "amp" in variant else None


def make_runner(variant, device, batch_size, steps, data, split_dev, arch):
    """A function running `steps` training steps of `variant`."""
    model = build(device.type, data, batch_size, amp=variant_precision(variant), compile="compile" in variant,
                  arch=arch)
    if variant == "reference":
        reference_layers(model)
        loader = reference_loader(data.train, batch_size, seed=0)
        return lambda: reference_epoch(model, loader, device, steps, UPDATE_G_EVERY)
    epoch = [0]

    def ours():
        epoch[0] += 1
        order = epoch_order(0, epoch[0], len(split_dev))
        train_epoch(model, batches(split_dev, batch_size, device, order, limit=steps), UPDATE_G_EVERY)
    return ours


def bench_batch(batch_size, variants, device, steps, repeats, warmup, arch="arch_acai_kyle", reference_steps=None):
    """{variant: ms/step and images/s}; the reference variant runs `reference_steps` steps per block when
    given (its one-by-one DataLoader collation is slow at large batches), the others `steps`."""
    data = synthetic_mnist(max(batch_size * steps, 4096))
    split_dev = on_device(data, device).train  # ours: on the GPU, as in a run
    n_steps = {v: reference_steps if v == "reference" and reference_steps else steps for v in variants}
    runners = {v: make_runner(v, device, batch_size, n_steps[v], data, split_dev, arch) for v in variants}
    times = {v: [] for v in variants}
    for r in range(warmup + repeats):
        for v, run in runners.items():
            sync(device)
            t0 = time.perf_counter()
            run()
            sync(device)
            if r >= warmup:
                times[v].append(time.perf_counter() - t0)
    out = {}
    for v in variants:
        step = statistics.median(times[v]) / n_steps[v]
        out[v] = {"ms_per_step": round(step * 1000, 3), "images_per_s": round(batch_size / step, 1)}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch_sizes", default=None, help="comma-separated; default 64,256 on CPU, "
                                                       "64,1024,4096,16384 on CUDA")
    p.add_argument("--variants", default=None,
                   help="comma-separated from reference, ours, ours+amp (bf16), ours+fp16, ours+compile, "
                        "ours+amp+compile; default reference,ours on CPU and reference,ours,ours+amp,ours+amp+compile "
                        "on CUDA")
    p.add_argument("--steps", type=int, default=20, help="training steps per timed block (a multiple of 5)")
    p.add_argument("--reference_steps", type=int, default=None,
                   help="steps per timed block of the reference variant (default: --steps); a cap for large batches")
    p.add_argument("--repeats", type=int, default=5, help="timed blocks per variant (the median is reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed blocks per variant first")
    p.add_argument("--out", default=None, help="also write the results as JSON to this file")
    p.add_argument("--arch", default="arch_acai_kyle",
                   help="network preset (default: the paper's, the reference's port)")
    a = p.parse_args(argv)
    cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    batch_sizes = [int(b) for b in (a.batch_sizes or ("64,1024,4096,16384" if cuda else "64,256")).split(",")]
    variants = (a.variants or ("reference,ours,ours+amp,ours+amp+compile" if cuda else "reference,ours")).split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    report = {"device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
              "versions": versions(), "arch": a.arch, "steps": a.steps, "repeats": a.repeats, "results": {}}
    if a.reference_steps:
        report["reference_steps"] = a.reference_steps
    print(f"device: {report['device']}; torch {torch.__version__}; --arch {a.arch}; "
          f"{a.steps} steps x {a.repeats} repeats")
    for bs in batch_sizes:
        try:
            res = bench_batch(bs, variants, device, a.steps, a.repeats, a.warmup, a.arch, a.reference_steps)
        except torch.OutOfMemoryError:
            print(f"batch {bs}: out of memory")
            report["results"][bs] = "out of memory"
            torch.cuda.empty_cache()
            continue
        report["results"][bs] = res
        ref = res.get("reference")
        for v, r in res.items():
            ratio = f"  {ref['ms_per_step'] / r['ms_per_step']:.2f}x reference" if ref and v != "reference" else ""
            print(f"batch {bs:6d} {v:18s} {r['ms_per_step']:9.2f} ms/step {r['images_per_s']:10.1f} images/s{ratio}",
                  flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
