"""The training loop: epochs of train steps, the per-epoch evaluation (valid losses, online probe, and
the columns of the hooks the caller passes: class-mixing, disentanglement, lines, realism), results.csv,
pictures and checkpoints, and resuming a run bitwise where it stopped.

    train(spec, runtime, data, model, run_dir, resume="auto", hooks=[EpochHook(...)])

The command line (task_launcher.py) builds the spec, runtime, data, model and hooks; so can a notebook.
"""
import contextlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
from tqdm import tqdm

from amr_errors import CheckpointError, ConfigError
from iterators import batches, batches_per_epoch, epoch_order, on_device, vis_batch, vis_rng
from models.interpolation import interpolate_pairs
from models.trainable import eval_mode, stream_seed

from .checkpoint import LAST, checkpoints_newest_first, epoch_path, find_resume_checkpoint, save_checkpoint
from .distributed import (SINGLE, agree_on_start, all_ok, broadcast_weights, check_in_sync, gather_rng_states,
                          shard, sum_over_ranks)
from .images import save_rows
from .paths import make_run_dir, move_aside
from .plots import save_curves
from .restore import restore
from .results import ResultsTable
from .spec import spec_to_dict
from .stored import versions, write_config
from .tensorboard import TensorBoard


@dataclass(frozen=True)
class EpochHook:
    """An evaluation run after every `every` epochs whose columns(model, data, device) -> {column: value}
    are added to that epoch's results.csv row (on process 0)."""
    every: int
    columns: Callable


def mean_logs(sums, counts, world=SINGLE):
    """Means of on-device sums; under torchrun over every rank's examples, so that all ranks
    report (and stop on) the same values."""
    if not world.distributed:
        return {k: (sums[k] / counts[k]).item() for k in sums}
    keys = list(sums)
    both = torch.stack([torch.as_tensor(sums[k]).double() for k in keys] +
                       [torch.tensor(float(counts[k]), dtype=torch.float64, device=sums[keys[0]].device)
                        for k in keys])
    both = sum_over_ranks(both, world)
    return dict(zip(keys, (both[:len(keys)] / both[len(keys):]).tolist()))


def eval_order(split, world):
    """The whole split in order for one process; under torchrun this rank's equal share."""
    return shard(torch.arange(len(split)), world) if world.distributed else None


@torch.no_grad()
def evaluate(model, split, batch_size, vis_seed, device, world=SINGLE):
    """Mean of every loss over a split (fixed mixing draws, so epochs are comparable); under
    torchrun each rank takes an equal share of the split."""
    rng, sums, counts = vis_rng(vis_seed, device), {}, {}
    order = eval_order(split, world)
    for x, y in batches(split, batch_size, device, order):
        for k, v in model.eval_step(x, y, rng).items():
            sums[k] = sums.get(k, 0) + v * x.shape[0]
            counts[k] = counts.get(k, 0) + x.shape[0]
    return mean_logs(sums, counts, world)


@torch.no_grad()
def probe_accuracy(model, split, batch_size, device, world=SINGLE):
    order = eval_order(split, world)
    correct = sum((model.probe(model.encode(x)).argmax(1) == y).sum()
                  for x, y in batches(split, batch_size, device, order))
    return mean_logs({"acc": correct}, {"acc": len(split) if order is None else len(order)}, world)["acc"]


@torch.no_grad()
def save_epoch_images(model, data, run_dir, epoch, spec, device, tb=None, step=0):
    """Rows: inputs, reconstructions, first mixing partners, mixes (train and valid); with
    TensorBoard also those rows and an interpolation grid between validation pairs."""
    o = spec.output
    for split_name in ("train", "valid"):
        x, _ = vis_batch(getattr(data, split_name), min(16, o.val_batch_size), o.vis_seed, device)
        with eval_mode(model):
            fwd = model.forward_pass(x, vis_rng(o.vis_seed, device))
        rows = [x, fwd.recon] + ([x[fwd.perms[1]], fwd.mix] if fwd.mix is not None else [])
        save_rows(rows, run_dir / "images" / f"epoch{epoch:05d}_{split_name}.png")
        if tb is not None:
            tb.images(step, f"images/{split_name}", torch.cat(rows), nrow=x.shape[0])
            if split_name == "valid" and x.shape[0] >= 2:
                grid = interpolate_pairs(model, x[0:8:2], x[1:8:2], spec.model.mixer, steps=8)
                tb.images(step, "interpolation", grid.flatten(0, 1), nrow=grid.shape[1])


def train_epoch(model, batch_iter, update_g_every, epoch=0, world=SINGLE, log=None):
    """Train on every batch; returns the mean losses. The generator is updated every
    `update_g_every` steps. Losses stay on the device (one host sync every 50 steps for the
    progress bar, the finiteness check and `log(steps done this epoch, running means)`, not one
    per loss per step)."""
    sums, counts, history = {}, {}, []
    for it, (x, y) in enumerate(batch_iter):
        logs = model.train_step(x, y, update_g=it % update_g_every == 0)
        history.append(logs)
        for k, v in logs.items():
            sums[k] = sums.get(k, 0) + v
            counts[k] = counts.get(k, 0) + 1
        if it % 50 == 49:
            means = mean_logs(sums, counts, world)
            check_finite(means, history, epoch)
            if log is not None:
                log(it + 1, means)
            if isinstance(batch_iter, tqdm):
                batch_iter.set_postfix({k: f"{v:.3f}" for k, v in means.items()
                                        if k in ("recon", "g_mix", "d_loss", "probe_acc")})
    means = mean_logs(sums, counts, world)
    check_finite(means, history, epoch)
    return means


def check_finite(means, history, epoch):
    """A non-finite mean means some step's loss was: name the first (epoch, step, loss)."""
    if all(math.isfinite(v) for v in means.values()):
        return
    for step, logs in enumerate(history, 1):
        for k, v in logs.items():
            if not math.isfinite(v.item()):
                raise FloatingPointError(f"epoch {epoch}, step {step}: non-finite training loss {k} = {v.item()}; "
                                         f"stopped, the last good checkpoint is kept")
    bad = next(k for k, v in means.items() if not math.isfinite(v))
    raise FloatingPointError(f"epoch {epoch}: non-finite mean training loss {bad} (on another process); "
                             f"stopped, the last good checkpoint is kept")


def resume_training(spec, model, run_dir, world, resume="auto", overwrite=False):
    """Restore --resume's checkpoint, if any, on every rank; returns the epoch it ends and the
    optimisation steps taken by then (None for a checkpoint that did not record them). A fresh start
    (--resume none) over a folder that holds checkpoints is refused unless `overwrite`, which first
    moves the old run aside (process 0)."""
    if resume in (None, "", "none"):
        if checkpoints_newest_first(run_dir) and world.main:
            if not overwrite:
                raise ConfigError(f"--resume none: {run_dir} holds a run's checkpoints; to start anew there pass "
                                  f"--overwrite (the old files move to a dated folder beside it), or choose a free "
                                  f"--trial_id or --name")
            print(f"--overwrite: moved the previous run to {move_aside(run_dir)}")
        return 0, 0
    path, state = find_resume_checkpoint(run_dir, resume)
    if state is None:
        return 0, 0
    note = restore(model, spec, path, state)  # with the random stream of the checkpoint's "training"
    streams = state.get("mix_rng_ranks", [state["training"]["mix_rng"]])
    if len(streams) != world.size:
        model.rng().manual_seed(stream_seed(model.seed, state["epoch"]))
    elif world.distributed:  # each rank continues its own stream (one process: restore has just set it)
        note = model.restore_random_stream(streams[world.rank], state.get("steps") or 0) or note
    if world.main:
        print(f"resumed from {path} (epoch {state['epoch']})")
        if note:
            print(note, file=sys.stderr)
        if len(streams) != world.size:
            print(f"note: the checkpoint was written by {len(streams)} process(es) and {world.size} continue; "
                  f"data shards and mixing draws differ from an uninterrupted run")
    return state["epoch"], state.get("steps")


def train(spec, runtime, data, model, run_dir, resume="auto", overwrite=False, hooks=(), flags=None):
    """Train `model` for spec.train.epochs epochs (continuing the checkpoint `resume` names: auto, an
    epoch, a file or none), writing into run_dir; `hooks`: EpochHooks whose columns join results.csv;
    `flags`: the command-line flags recorded in cfg.yaml (default: the spec's own)."""
    device, world, o, t = runtime.device, runtime.world, spec.output, spec.train
    failure = None
    try:
        start_epoch, steps = resume_training(spec, model, run_dir, world, resume, overwrite)
    except (ConfigError, CheckpointError) as e:
        failure, start_epoch, steps = e, 0, 0
    if not all_ok(failure is None, world):
        raise failure or ConfigError("process 0 could not resume the run (its message says why)")
    agree_on_start(start_epoch, steps, world)
    broadcast_weights(model, world)
    batch_size = runtime.rank_batch_size or t.batch_size
    if steps is None:  # a checkpoint from before steps were recorded: as many steps every epoch as now
        steps = start_epoch * batches_per_epoch(len(shard(torch.arange(len(data.train)), world)), batch_size,
                                                t.batches_per_epoch)
    results, tb = None, None
    if world.main:  # only rank 0 writes: config, results, plots, images, checkpoints, progress
        try:
            make_run_dir(run_dir, f"--save_path {o.save_path}")
            for debris in run_dir.glob(".*.tmp"):  # half-written files of a killed run (runs.files.atomic_write)
                debris.unlink()
            write_config(run_dir, spec, flags, device)
            (run_dir / "images").mkdir(exist_ok=True)
            results = ResultsTable(run_dir / "results.csv", keep_until_epoch=start_epoch)
            tb = TensorBoard(run_dir, steps) if o.tensorboard else None
        except ConfigError as e:
            failure = e
    if not all_ok(failure is None, world):
        raise failure or ConfigError("process 0 could not set up the run folder (its message says why)")
    if start_epoch >= t.epochs:
        if world.main:
            print(f"{run_dir}: already trained {start_epoch} epochs (--epochs {t.epochs}); nothing to do")
        return
    data = on_device(data, device)
    skipped = lambda: sum(s.images.skips.count for s in (data.train, data.valid) if s.streamed)  # unreadable files
    # set_stance takes effect when called (its `with` only restores the stance on exit): made at each use
    eager = (lambda: torch.compiler.set_stance("force_eager")) if t.compile else contextlib.nullcontext
    for epoch in range(start_epoch + 1, t.epochs + 1):
        t0, skipped_before = time.time(), skipped()
        order = shard(epoch_order(t.seed, epoch, len(data.train)), world)
        n_batches = batches_per_epoch(len(order), batch_size, t.batches_per_epoch)
        bar = tqdm(batches(data.train, batch_size, device, order, t.batches_per_epoch), total=n_batches,
                   desc=f"epoch {epoch}/{t.epochs}", leave=False, mininterval=1.0,
                   disable=True if o.no_verbose or not world.main else None)
        log = None if tb is None else (lambda done, means, before=steps: tb.running_losses(before + done, means))
        train_logs = train_epoch(model, bar, t.update_g_every, epoch, world, log)
        train_time = time.time() - t0
        steps += n_batches
        check_in_sync(model, world)
        with eager():  # evaluation, pictures and hooks stay out of the compiled path (their shapes vary)
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_logs.items()}}
            row.update({f"valid_{k}": v for k, v in evaluate(model, data.valid, o.val_batch_size, o.vis_seed,
                                                              device, world).items()})
            if model.probe is not None:
                row["test_probe_acc"] = probe_accuracy(model, data.test, o.val_batch_size, device, world)
            mix_streams = gather_rng_states(model.rng().get_state(), world)
            if not world.main:
                continue
            for hook in hooks:
                if epoch % hook.every == 0:
                    row.update(hook.columns(model, data, device))
            row.update(train_time_s=round(train_time, 3), epoch_time_s=round(time.time() - t0, 3))
            results.append(row)
            save_curves(results.rows, run_dir / "curves.png")
            if tb is not None:
                tb.epoch(steps, row)
            if epoch % o.save_images_every == 0:
                save_epoch_images(model, data, run_dir, epoch, spec, device, tb, steps)
        ckpt = {"epoch": epoch, "steps": steps, "spec": spec_to_dict(spec), "training": model.training_state(),
                "versions": versions()}
        if world.distributed:
            ckpt["mix_rng_ranks"] = mix_streams
        save_checkpoint(run_dir / LAST, ckpt)
        if epoch % o.save_every == 0:
            save_checkpoint(epoch_path(run_dir, epoch), ckpt)
        shown = {k: row[k] for k in ("train_recon", "train_d_loss", "valid_recon", "valid_probe_acc",
                                     "test_probe_acc") if k in row}
        n_skipped = skipped() - skipped_before
        print(f"epoch {epoch}/{t.epochs} " + " ".join(f"{k}={v:.4f}" for k, v in shown.items())
              + (f" skipped_images={n_skipped}" if n_skipped else "") + f" ({row['epoch_time_s']:.1f}s)", flush=True)
    if world.main:
        if tb is not None:
            tb.close()
        if world.distributed:
            print(f"all {world.size} processes hold identical weights and buffers (compared after every epoch)")
        print(f"done: {run_dir}")


__all__ = ["EpochHook", "evaluate", "probe_accuracy", "train", "train_epoch"]
