#!/usr/bin/env python
"""amr: adversarial mixup resynthesis (Beckham et al., NeurIPS 2019).

    python task_launcher.py [run] [flags]          train (or --mode=...) with these flags
    python task_launcher.py load --config RUN/cfg.yaml [flags]
                                                   re-run a saved config; later flags override

Everything a run writes goes to <save_path>/s<seed>/<name>/<trial_id>/.
Read top to bottom: flags, validation, data, model, the training loop, the other modes.
"""
import argparse
import ast
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import yaml
from tqdm import tqdm

from architectures import ARCHITECTURES, RegistryError, build_networks, resolve_arch
from architectures.cls_probes import PROBE_ARGS, PROBES, build_probe, resolve_probe
from evaluation import interpolation
from iterators import DATASETS, DatasetError, batches, epoch_order, load_dataset, vis_batch, vis_rng
from models import AMR, MIXERS, MODELS, AMRConfig
from runs.checkpoint import LAST, CheckpointError, epoch_path, find_resume_checkpoint, save_checkpoint
from runs.errors import ConfigError
from runs.images import save_rows
from runs.results import ResultsTable
from runs.run_dir import make_run_dir, restore, run_dir_path, versions, write_config

DATASET_ARGS = {"download": True}  # --dataset_args keys and defaults


@dataclass(frozen=True)
class Mode:
    run: Callable          # run(args, opts, data, model, run_dir)
    help: str
    options: dict = field(default_factory=dict)  # --mode_override keys and their defaults


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    p = OneLineParser(prog="task_launcher.py", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add = p.add_argument
    g = p.add_argument_group("model")
    g.add_argument("--model", default="swapgan", choices=MODELS,
                   help="; ".join(f"{n}: {d[2]}" for n, d in MODELS.items()))
    g.add_argument("--k", type=int, default=None, help="number of codes mixed (required by kgan, >= 2)")
    g.add_argument("--mixer", default="mixup", choices=MIXERS,
                   help="; ".join(f"{n}: {d}" for n, d in MIXERS.items()))
    g.add_argument("--arch", default="arch_acai_kyle",
                   help="network preset (a path spelling such as architectures/arch_acai_kyle.py maps to the "
                        "name): " + "; ".join(f"{n}: {a.description}" for n, a in ARCHITECTURES.items()))
    g.add_argument("--n_channels", type=int, default=None, help="image channels; default: the dataset's")
    g.add_argument("--ngf", type=int, default=0, help="generator base width; 0 keeps the preset's")
    g.add_argument("--ndf", type=int, default=0, help="discriminator base width; 0 keeps the preset's")
    g.add_argument("--lamb", type=float, default=1.0, help="weight of the reconstruction loss")
    g.add_argument("--beta", type=float, default=1.0,
                   help="weight of the consistency loss |enc(dec(h_mix)) - h_mix| (the paper uses 0)")
    g.add_argument("--cls", type=float, default=0.0,
                   help="weight of supervised class-conditioned mixing; must be 0 (not implemented yet)")
    g.add_argument("--cls_loss", default="bce", choices=["bce", "mse"],
                   help="loss of the auxiliary classifier (with --cls > 0)")
    g.add_argument("--gan_loss", default="bce", choices=["bce", "mse"],
                   help="adversarial loss on the discriminator's sigmoid output (acai uses its own squared error)")
    g.add_argument("--recon_loss", default="l1", choices=["l1", "l2", "bce", "bce_sum"],
                   help="reconstruction loss (bce_sum: summed over pixels, averaged over the batch)")
    g.add_argument("--disable_mix", action="store_true",
                   help="no mixing: the adversarially regularised autoencoder baseline")
    g.add_argument("--disable_g_recon", action="store_true",
                   help="no adversarial loss on reconstructions (generator and discriminator)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch_size", type=int, default=32, help="training batch size")
    g.add_argument("--epochs", type=int, default=200, help="train until this many epochs are done")
    g.add_argument("--bpc", type=int, default=0,
                   help="batches per epoch cap: stop each training epoch after this many batches (0: all)")
    g.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (all optimisers)")
    g.add_argument("--beta1", type=float, default=0.0, help="Adam beta1")
    g.add_argument("--beta2", type=float, default=0.999, help="Adam beta2")
    g.add_argument("--weight_decay", type=float, default=0.0, help="Adam L2 weight decay (all optimisers)")
    g.add_argument("--update_g_every", type=int, default=5,
                   help="update the generator every N steps (the discriminator every step)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and mixing")
    g = p.add_argument_group("online linear probe")
    g.add_argument("--cls_probe", default=None,
                   help="classifier on the detached bottleneck, trained alongside: " + ", ".join(PROBES)
                        + " (path spellings such as architectures/cls_probes/linear.py map to the name)")
    g.add_argument("--cls_probe_args", default=None,
                   help="probe arguments as a literal dict, e.g. \"{'n_in': 32, 'n_classes': 10}\" "
                        "(checked against the bottleneck and the dataset)")
    g.add_argument("--cls_probe_weight_decay", type=float, default=None,
                   help="probe weight decay; default: --weight_decay")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", choices=DATASETS,
                   help="; ".join(f"{n}: {d.description}" for n, d in DATASETS.items()))
    g.add_argument("--dataset_args", default=None,
                   help="literal dict of dataset options: " + ", ".join(f"{k} (default {v})"
                                                                        for k, v in DATASET_ARGS.items()))
    g.add_argument("--data_dir", default=os.environ.get("DATA_DIR", "./data"),
                   help="folder holding the datasets (default: $DATA_DIR, else ./data)")
    g.add_argument("--subset_train", type=int, default=None,
                   help="train on a fixed subset of N training examples (the same for every seed)")
    g.add_argument("--num_workers", type=int, default=4,
                   help="accepted for the reference's scripts; data is held in memory, so unused")
    g = p.add_argument_group("run and outputs")
    g.add_argument("--save_path", default=os.environ.get("RESULTS_DIR", "./results"),
                   help="results root (default: $RESULTS_DIR, else ./results)")
    g.add_argument("--name", default=None, help="experiment name; default: <dataset>_<model>_<mixer or baseline>")
    g.add_argument("--trial_id", default=os.environ.get("SLURM_JOB_ID", "0"),
                   help="trial folder inside the experiment (default: $SLURM_JOB_ID, else 0)")
    g.add_argument("--save_every", type=int, default=5, help="keep a checkpoint ckpt_<epoch>.pt every N epochs")
    g.add_argument("--save_images_every", type=int, default=1, help="write image grids every N epochs")
    g.add_argument("--val_batch_size", type=int, default=64,
                   help="evaluation batch size; also the number of examples in interpolation grids")
    g.add_argument("--resume", default="auto",
                   help="auto: continue from the run's newest checkpoint (fresh start if none); "
                        "<epoch>: from ckpt_<epoch>.pt; <path>: from that file; none: fresh start")
    g.add_argument("--mode", default="train", help="; ".join(f"{m}: {d.help}" for m, d in MODES.items()))
    g.add_argument("--mode_override", default=None,
                   help="options of the mode as key=value,key=value; " + "; ".join(
                       f"{m}: " + ", ".join(f"{k} (default {v})" for k, v in d.options.items())
                       for m, d in MODES.items() if d.options))
    g.add_argument("--vis_seed", type=int, default=0, help="seed choosing the examples and mixes shown in images")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to compute")
    return p


def parse_args(argv):
    """`run` is the default subcommand; `load --config F` takes F's flags as defaults."""
    parser = build_parser()
    if argv and argv[0] == "run":
        argv = argv[1:]
    elif argv and argv[0] == "load":
        pre = OneLineParser(prog="task_launcher.py load", add_help=False)
        pre.add_argument("--config", required=True)
        known, argv = pre.parse_known_args(argv[1:])
        parser.set_defaults(**read_saved_args(known.config, parser))
    return parser.parse_args(argv)


def read_saved_args(path, parser):
    try:
        saved = yaml.safe_load(Path(path).read_text())["args"]
        assert isinstance(saved, dict)
    except Exception:
        raise ConfigError(f"--config {path}: not a readable cfg.yaml with an 'args' section "
                          f"(use the cfg.yaml a run wrote)") from None
    known = {a.dest for a in parser._actions}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ConfigError(f"--config {path}: unknown keys {unknown}")
    return saved


# ---- validation: every check that needs no data --------------------------------------------
def literal_dict(text, flag, allowed):
    """Parse a Python literal dict safely (never eval) and check its keys."""
    if text is None:
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: '{text}' is not a literal dict such as \"{{'key': value}}\"")
    bad = sorted(str(k) for k in value if k not in allowed)
    if bad:
        raise ConfigError(f"{flag}: unknown keys {bad}; allowed: {sorted(allowed)}")
    return value


def key_values(text, flag, defaults):
    """--mode_override 'a=1,b=2' (the reference's syntax) or a literal dict, with literal values."""
    if text is None:
        return dict(defaults)
    if text.strip().startswith("{"):
        given = literal_dict(text, flag, defaults)
    else:
        given = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, sep, raw = item.partition("=")
            if not sep or key.strip() not in defaults:
                raise ConfigError(f"{flag}: '{item}' is not key=value with a key in {sorted(defaults)}")
            try:
                given[key.strip()] = ast.literal_eval(raw.strip())
            except (ValueError, SyntaxError):
                raise ConfigError(f"{flag}: value of '{key.strip()}' must be a literal, got '{raw}'") from None
    for key, value in given.items():
        if type(value) is not type(defaults[key]):
            raise ConfigError(f"{flag}: {key} must be {type(defaults[key]).__name__}, got {value!r}")
    return {**defaults, **given}


def validate(args):
    """Resolve defaults and check flags; returns the options derived from them."""
    objective, k = MODELS[args.model][:2]
    if k is None:
        if args.k is None:
            raise ConfigError("--model kgan needs --k (the number of codes mixed, >= 2)")
        k = args.k
    elif args.k is not None and args.k != k:
        raise ConfigError(f"--k {args.k} conflicts with --model {args.model} (k = {k}); use --model kgan --k {args.k}")
    if k < 2:
        raise ConfigError(f"--k must be >= 2, got {k}")
    if objective != "amr" and (args.mixer != "mixup" or args.disable_mix):
        raise ConfigError(f"--model {args.model} mixes with --mixer mixup and cannot --disable_mix; "
                          f"use --model swapgan for other mixers or the baseline")
    if args.cls != 0:
        raise ConfigError("--cls > 0 (supervised class-conditioned mixing) is not supported yet; use --cls 0")
    if args.mode not in MODES:
        raise ConfigError(f"--mode: unknown '{args.mode}'; choose one of: {', '.join(MODES)}")
    for flag in ("batch_size", "epochs", "update_g_every", "save_every", "save_images_every", "val_batch_size"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    for flag in ("lr", "lamb"):
        if not getattr(args, flag) > 0:
            raise ConfigError(f"--{flag} must be > 0, got {getattr(args, flag)}")
    if args.bpc < 0 or args.beta < 0:
        raise ConfigError("--bpc and --beta must be >= 0")
    try:
        arch = resolve_arch(args.arch)
        probe = resolve_probe(args.cls_probe) if args.cls_probe else None
    except RegistryError as e:
        raise ConfigError(str(e)) from None
    probe_args = literal_dict(args.cls_probe_args, "--cls_probe_args", PROBE_ARGS)
    if probe_args and not probe:
        raise ConfigError("--cls_probe_args given without --cls_probe")
    code_size = ARCHITECTURES[arch].code_size
    if probe_args.get("n_in", code_size) != code_size:
        raise ConfigError(f"--cls_probe_args: n_in {probe_args['n_in']} does not match the bottleneck of "
                          f"--arch {arch} ({code_size}); use n_in {code_size}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu")
    if args.name is None:
        args.name = f"{args.dataset}_{args.model}_{'baseline' if args.disable_mix else args.mixer}"
    return dict(objective=objective, k=k, arch=arch, probe=probe, probe_args=probe_args, code_size=code_size,
                dataset_args={**DATASET_ARGS, **literal_dict(args.dataset_args, "--dataset_args", DATASET_ARGS)},
                mode_options=key_values(args.mode_override, "--mode_override", MODES[args.mode].options),
                device=torch.device("cuda" if args.device == "cuda" or
                                    (args.device == "auto" and torch.cuda.is_available()) else "cpu"))


def check_against_data(args, opts, data):
    if args.n_channels is None:
        args.n_channels = data.n_channels
    elif args.n_channels != data.n_channels:
        raise ConfigError(f"--n_channels {args.n_channels} disagrees with --dataset {args.dataset} "
                          f"({data.n_channels} channels); drop the flag or use {data.n_channels}")
    if args.batch_size > len(data.train):
        raise ConfigError(f"--batch_size {args.batch_size} is larger than the training split "
                          f"({len(data.train)} examples)")
    n_classes = opts["probe_args"].get("n_classes", data.n_classes)
    if n_classes != data.n_classes:
        raise ConfigError(f"--cls_probe_args: n_classes {n_classes} but --dataset {args.dataset} has "
                          f"{data.n_classes} classes")


# ---- model ---------------------------------------------------------------------------------
def build_model(args, opts):
    torch.manual_seed(args.seed)
    gen, disc = build_networks(opts["arch"], args.n_channels, args.ngf, args.ndf)
    probe = None
    if opts["probe"]:
        probe = build_probe(opts["probe"], opts["code_size"], opts["probe_args"].get("n_classes", 10))
    cfg = AMRConfig(k=opts["k"], mixer=args.mixer, objective=opts["objective"], lamb=args.lamb, beta=args.beta,
                    recon_loss=args.recon_loss, gan_loss=args.gan_loss, disable_mix=args.disable_mix,
                    disable_g_recon=args.disable_g_recon, update_g_every=args.update_g_every)
    model = AMR(gen, disc, cfg, probe=probe, seed=args.seed).to(opts["device"])
    model.configure_optimizers(args.lr, (args.beta1, args.beta2), args.weight_decay, args.cls_probe_weight_decay)
    return model


# ---- training ------------------------------------------------------------------------------
def mean_logs(sums, counts):
    return {k: (sums[k] / counts[k]).item() for k in sums}


@torch.no_grad()
def evaluate(model, split, batch_size, vis_seed, device):
    """Mean of every loss over a split (fixed mixing draws, so epochs are comparable)."""
    rng, sums, counts = vis_rng(vis_seed, device), {}, {}
    for x, y in batches(split, batch_size, device):
        for k, v in model.eval_step(x, y, rng).items():
            sums[k] = sums.get(k, 0) + v * x.shape[0]
            counts[k] = counts.get(k, 0) + x.shape[0]
    return mean_logs(sums, counts)


@torch.no_grad()
def probe_accuracy(model, split, batch_size, device):
    correct = sum((model.probe(model.encode(x)).argmax(1) == y).sum() for x, y in batches(split, batch_size, device))
    return (correct / len(split)).item()


@torch.no_grad()
def save_epoch_images(model, data, run_dir, epoch, args, device):
    """Rows: inputs, reconstructions, first mixing partners, mixes (train and valid)."""
    for split_name in ("train", "valid"):
        x, _ = vis_batch(getattr(data, split_name), min(16, args.val_batch_size), args.vis_seed, device)
        model.eval()
        fwd = model.forward_pass(x, vis_rng(args.vis_seed, device))
        rows = [x, fwd.recon] + ([x[fwd.perms[1]], fwd.mix] if fwd.mix is not None else [])
        save_rows(rows, run_dir / "images" / f"epoch{epoch:05d}_{split_name}.png")


def resolved_config(opts):
    """What the flags resolved to, saved in cfg.yaml beside the flags themselves."""
    return {"objective": opts["objective"], "k": opts["k"], "arch": opts["arch"], "code_size": opts["code_size"],
            "device": str(opts["device"])}


def train(args, opts, data, model, run_dir):
    device = opts["device"]
    path, state = find_resume_checkpoint(run_dir, args.resume)
    start_epoch = 0
    if state is not None:
        restore(model, args, path, state)
        start_epoch = state["epoch"]
        print(f"resumed from {path} (epoch {start_epoch})")
    make_run_dir(args, run_dir)
    write_config(run_dir, args, resolved_config(opts))
    (run_dir / "images").mkdir(exist_ok=True)
    results = ResultsTable(run_dir / "results.csv", keep_until_epoch=start_epoch)
    if start_epoch >= args.epochs:
        print(f"{run_dir}: already trained {start_epoch} epochs (--epochs {args.epochs}); nothing to do")
        return
    n_batches = -(-len(data.train) // args.batch_size)
    if args.bpc:
        n_batches = min(n_batches, args.bpc)
    for epoch in range(start_epoch + 1, args.epochs + 1):
        t0 = time.time()
        sums, counts = {}, {}
        order = epoch_order(args.seed, epoch, len(data.train))
        bar = tqdm(batches(data.train, args.batch_size, device, order, args.bpc), total=n_batches,
                   desc=f"epoch {epoch}/{args.epochs}", leave=False, mininterval=1.0, disable=None)
        for it, (x, y) in enumerate(bar):
            for k, v in model.train_step(x, y, update_g=it % args.update_g_every == 0).items():
                sums[k] = sums.get(k, 0) + v
                counts[k] = counts.get(k, 0) + 1
            if it % 50 == 49:  # one host sync every 50 steps, not one per loss per step
                bar.set_postfix({k: f"{v:.3f}" for k, v in mean_logs(sums, counts).items()
                                 if k in ("recon", "g_mix", "d_loss", "probe_acc")})
        train_logs = mean_logs(sums, counts)
        bad = [k for k, v in train_logs.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(f"epoch {epoch}: non-finite training loss {bad[0]} = {train_logs[bad[0]]}; "
                                     f"stopped, the last good checkpoint is kept")
        train_time = time.time() - t0
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train_logs.items()}}
        row.update({f"valid_{k}": v for k, v in evaluate(model, data.valid, args.val_batch_size,
                                                          args.vis_seed, device).items()})
        if model.probe is not None:
            row["test_probe_acc"] = probe_accuracy(model, data.test, args.val_batch_size, device)
        row.update(train_time_s=round(train_time, 3), epoch_time_s=round(time.time() - t0, 3))
        results.append(row)
        if epoch % args.save_images_every == 0:
            save_epoch_images(model, data, run_dir, epoch, args, device)
        ckpt = {"epoch": epoch, "config": vars(args), "training": model.training_state(), "versions": versions()}
        save_checkpoint(run_dir / LAST, ckpt)
        if epoch % args.save_every == 0:
            save_checkpoint(epoch_path(run_dir, epoch), ckpt)
        shown = {k: row[k] for k in ("train_recon", "train_d_loss", "valid_recon", "valid_probe_acc",
                                     "test_probe_acc") if k in row}
        print(f"epoch {epoch}/{args.epochs} " + " ".join(f"{k}={v:.4f}" for k, v in shown.items())
              + f" ({row['epoch_time_s']:.1f}s)", flush=True)
    print(f"done: {run_dir}")


MODES = {
    "train": Mode(train, "train the model (default)"),
    "interp_train": Mode(interpolation.interpolate, "interpolation grids between pairs of training examples",
                         interpolation.OPTIONS),
    "interp_valid": Mode(interpolation.interpolate, "interpolation grids between pairs of validation examples",
                         interpolation.OPTIONS),
}


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        opts = validate(args)
        data = load_dataset(args.dataset, args.data_dir, args.subset_train, download=opts["dataset_args"]["download"])
        check_against_data(args, opts, data)
        run_dir = run_dir_path(args)
        model = build_model(args, opts)
        MODES[args.mode].run(args, opts, data, model, run_dir)
    except (ConfigError, DatasetError, CheckpointError) as e:
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
