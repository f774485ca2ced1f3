#!/usr/bin/env python
"""amr: adversarial mixup resynthesis (Beckham et al., NeurIPS 2019).

    python task_launcher.py [run] [flags]          train (or --mode=...) with these flags
    python task_launcher.py load --config RUN/cfg.yaml [flags]
                                                   re-run a saved config; later flags override

Everything a run writes goes to <save_path>/s<seed>/<name>/<trial_id>/.
Read top to bottom: flags, validation, data, model, the modes (the training loop: runs/training.py).
"""
import argparse
import ast
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
import yaml

from architectures import ARCHITECTURES, RegistryError, build_networks, resolve_arch
from architectures.cls_probes import PROBE_ARGS, PROBES, build_probe, resolve_probe
from evaluation import disentangle, interp_grids, lines_benchmark, probe as offline_probe
from evaluation import embedding_map, frames
from evaluation import class_mix_checks, realism
from iterators import DATASETS, DatasetError, FileOptions, load_dataset
from models import AMR, MIXERS, MODELS, AMRConfig
from models.class_mixing import ClassMixer
from models.vae import VAE, VAEConfig
from runs.distributed import SINGLE, World, average_gradients_before_each_step, finish, init_world
from runs.checkpoint import CheckpointError
from runs.errors import ConfigError
from runs.run_dir import run_dir_path, upgrade_saved_args
from runs.training import train

DATASET_ARGS = {"download": True}  # --dataset_args keys and defaults
IMAGE_SIZES = (32, 64, 128)  # --image_size choices, each with an ACAI preset (DEFAULT_ARCH)
DEFAULT_ARCH = {32: "acai32", 64: "acai64_512", 128: "acai128_1024"}  # --arch when not given, by image size
LABEL_MODES = ("probe", "logreg", "interp_sup_train", "interp_sup_valid", "label_consistency", "realism")  # need labels


@dataclass(frozen=True)
class Resolved:
    """What the flags resolve to (validate), then the process group (join_world) and the data
    (check_against_data) add to it; each step returns a new one (dataclasses.replace)."""
    objective: str           # "amr", "acai", "ae" or "vae" (models.MODELS)
    k: int                   # codes mixed
    arch: str                # registered preset name
    probe: str | None        # online probe name
    probe_args: dict         # --cls_probe_args
    code_size: int           # bottleneck size of the preset (with --latent_dim)
    dataset_args: dict       # --dataset_args with defaults
    mode_options: dict       # --mode_override with the mode's defaults
    device: torch.device
    files: FileOptions       # how image-file datasets are decoded
    world: World = SINGLE
    rank_batch_size: int = 0  # this process's batch (--batch_size, or its share under --global_batch)
    n_classes: int = 0       # the dataset's (0: unlabelled)


@dataclass(frozen=True)
class Mode:
    run: Callable          # run(args, resolved, data, model, run_dir)
    help: str
    options: dict = field(default_factory=dict)  # --mode_override keys and their defaults


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser():
    p = OneLineParser(prog="task_launcher.py", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("model")
    g.add_argument("--model", default="swapgan", choices=MODELS,
                   help="; ".join(f"{n}: {d.description}" for n, d in MODELS.items()))
    g.add_argument("--k", type=int, default=None, help="number of codes mixed (required by kgan, >= 2)")
    g.add_argument("--mixer", default="mixup", choices=MIXERS,
                   help="; ".join(f"{n}: {d}" for n, d in MIXERS.items()))
    g.add_argument("--arch", default=None,
                   help="network preset (a path spelling such as architectures/arch_acai_kyle.py maps to the "
                        "name; the reference's spellings build the reference's networks, the paper's exps/ pass "
                        "them); default: " + ", ".join(f"{a} for {n} px" for n, a in DEFAULT_ARCH.items()) + ": "
                        + "; ".join(f"{n}: {a.description}" for n, a in ARCHITECTURES.items()))
    g.add_argument("--n_channels", type=int, default=None, help="image channels; default: the dataset's")
    g.add_argument("--ngf", "--gen_width", type=int, default=0, help="generator base width; 0 keeps the preset's")
    g.add_argument("--ndf", "--disc_width", type=int, default=0, help="discriminator base width; 0 keeps the preset's")
    g.add_argument("--latent_dim", type=int, default=0,
                   help="bottleneck channels (the whole code size for dsprite_gd and --model vae); "
                        "0 keeps the preset's")
    g.add_argument("--lamb", "--recon_weight", type=float, default=1.0, help="weight of the reconstruction loss")
    g.add_argument("--beta", type=float, default=1.0,
                   help="AMR models: weight of the consistency loss |enc(dec(h_mix)) - h_mix| (the paper uses 0); "
                        "--model vae: beta-VAE's beta, the weight of the KL term summed over latent dimensions "
                        "(the reference averaged it over dimensions: its beta B is B / latent_dim here)")
    g.add_argument("--cls", "--class_mix_weight", type=float, default=0.0,
                   help="> 0: supervised class-conditioned mixing; a class mixer mixes two codes for a target "
                        "label vector and this weighs the discriminator's auxiliary classifier loss on the decode")
    g.add_argument("--cls_loss", default="bce", choices=["bce", "mse"],
                   help="loss of the auxiliary classifier on its sigmoid outputs (with --cls > 0)")
    g.add_argument("--eps", "--mask_prior_weight", type=float, default=0.01,
                   help="weight of the class mixer's mask prior (sum of the mask - channels / 2)^2 (with --cls > 0)")
    g.add_argument("--cls_label_only", action="store_true",
                   help="the class mixer sees only the target labels, not the two codes (the reference's form)")
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
    g.add_argument("--batches_per_epoch", type=int, default=0,
                   help="stop each training epoch after this many batches (0: all); fixed step budgets, smoke runs "
                        "(not --bpc, which is the reference's probe switch)")
    g.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (all optimisers)")
    g.add_argument("--beta1", type=float, default=0.0, help="Adam beta1")
    g.add_argument("--beta2", type=float, default=0.999, help="Adam beta2")
    g.add_argument("--weight_decay", type=float, default=0.0, help="Adam L2 weight decay (all optimisers)")
    g.add_argument("--update_g_every", type=int, default=5,
                   help="update the generator every N steps (the discriminator every step); "
                        "--model vae has no discriminator and updates every step")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and mixing")
    g.add_argument("--global_batch", action="store_true",
                   help="under torchrun: --batch_size is the global batch, split evenly over the processes "
                        "(default: each process takes --batch_size examples per step)")
    g = p.add_argument_group("online linear probe")
    g.add_argument("--cls_probe", default=None,
                   help="classifier on the bottleneck (detached unless --bpc), trained alongside: " + ", ".join(PROBES)
                        + " (path spellings such as architectures/cls_probes/linear.py map to the name)")
    g.add_argument("--cls_probe_args", default=None,
                   help="probe arguments as a literal dict, e.g. \"{'n_in': 32, 'n_classes': 10}\" "
                        "(checked against the bottleneck and the dataset)")
    g.add_argument("--cls_probe_weight_decay", type=float, default=None,
                   help="probe weight decay; default: --weight_decay")
    g.add_argument("--bpc", "--cls_probe_backprop_grads", action="store_true",
                   help="the probe's loss also trains the encoder (back-propagates into the code), weighted by "
                        "--cls_probe_weight (the reference's switch; default: the probe sees detached codes)")
    g.add_argument("--cls_probe_weight", type=float, default=1.0,
                   help="weight of the probe's loss in the generator's loss under --bpc")
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
    g.add_argument("--image_size", type=int, default=None, choices=IMAGE_SIZES,
                   help="datasets of image files (folder, ...): the size images are resized and centre-cropped "
                        "to (default: the dataset's, 64 for folder); other datasets have their own fixed size")
    g.add_argument("--max_in_memory_gb", type=float, default=None,
                   help="image-file datasets whose decoded images take more than this are streamed from disk "
                        "(decoded on the fly by --num_workers workers); default: a quarter of this machine's RAM")
    g.add_argument("--num_workers", type=int, default=4,
                   help="DataLoader worker processes decoding image files (loading, and streamed training "
                        "batches); 0 decodes in the main process; datasets held as arrays do not use them")
    g = p.add_argument_group("run and outputs")
    g.add_argument("--save_path", default=os.environ.get("RESULTS_DIR", "./results"),
                   help="results root (default: $RESULTS_DIR, else ./results)")
    g.add_argument("--name", default=None, help="experiment name; default: <dataset>_<model>_<mixer or baseline>")
    g.add_argument("--trial_id", default=os.environ.get("SLURM_JOB_ID", "0"),
                   help="trial folder inside the experiment (default: $SLURM_JOB_ID, else 0)")
    g.add_argument("--save_every", type=int, default=5, help="keep a checkpoint ckpt_<epoch>.pt every N epochs")
    g.add_argument("--save_images_every", type=int, default=1, help="write image grids every N epochs")
    g.add_argument("--no_verbose", action="store_true", help="no progress bar during training epochs (the reference's "
                                                               "flag; epoch lines are still printed)")
    g.add_argument("--sigma", type=float, default=0.0,
                   help="the reference's unfinished code dropout; not implemented: any value other than 0 is refused")
    g.add_argument("--load_nonstrict", action="store_true",
                   help="the reference's partial checkpoint loading; refused: checkpoints load strictly, so that a "
                        "resumed run is the run it claims to be")
    g.add_argument("--tensorboard", action="store_true",
                   help="also log to <run_dir>/tb/ for TensorBoard: every results.csv column each epoch, running "
                        "training losses every 50 steps, the epoch images and an interpolation grid "
                        "(runs/tensorboard.py)")
    g.add_argument("--disentangle_every", type=int, default=0,
                   help="every N epochs add the FactorVAE, BetaVAE and MIG scores of --mode disentangle to "
                        "results.csv (datasets with factors: dsprite; DCI is left to the mode, its boosted trees "
                        "take minutes on a CPU; a file that is not a complete grid: MIG only); 0: never")
    g.add_argument("--lines_eval_every", type=int, default=0,
                   help="every N epochs add the mean distance and smoothness of --mode lines_eval (default protocol) "
                        "to results.csv as lines_mean_distance, lines_smoothness (--dataset lines); 0: never")
    g.add_argument("--realism_every", type=int, default=0,
                   help="every N epochs add the FD, KID and judge confidence of decoded mixes (--mode realism, default "
                        "options) to results.csv as realism_fd, realism_kid, realism_confidence (labelled datasets); "
                        "0: never")
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
    g.add_argument("--amp", action="store_true",
                   help="bf16 autocast of the forward passes (fast on recent GPUs); weights, optimiser states "
                        "and the returned losses stay float32")
    g.add_argument("--compile", action="store_true",
                   help="torch.compile the encoder, decoder and discriminator (the first steps are slow while "
                        "it compiles; needs a C++ compiler on CPU)")
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
        saved = upgrade_saved_args(saved)
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


# Flags a model has no use for: given with a value other than the default, they are refused rather than ignored.
_NO_DISCRIMINATOR = "it has no discriminator"
IGNORED_FLAGS = {
    "vae": {"gan_loss": _NO_DISCRIMINATOR, "ndf": _NO_DISCRIMINATOR, "disable_g_recon": _NO_DISCRIMINATOR,
            "update_g_every": "encoder and decoder are updated together on every step",
            "disable_mix": "it mixes nothing", "mixer": "it mixes nothing"},
    # (--ndf stays: the control builds and discards a discriminator of that width, so that its probe starts
    # from the same draws as every other method's)
    "ae": {"gan_loss": _NO_DISCRIMINATOR, "disable_g_recon": _NO_DISCRIMINATOR},
}
CLASS_MIXING_FLAGS = ("cls_loss", "eps", "cls_label_only")  # only read when --cls > 0


def refuse_ignored_flags(args, objective):
    defaults = build_parser().parse_args([])
    ignored = dict(IGNORED_FLAGS.get(objective, {}))
    if args.cls == 0:
        ignored.update({flag: "they only act with --cls > 0 (class-conditioned mixing)" for flag in CLASS_MIXING_FLAGS})
    given = [flag for flag in ignored if getattr(args, flag) != getattr(defaults, flag)]
    if given:
        where = f"--model {args.model}" if given[0] in IGNORED_FLAGS.get(objective, {}) else "this run"
        raise ConfigError(f"--{given[0]} has no effect in {where} ({ignored[given[0]]}); drop it")


def validate(args):
    """Check the flags; -> (a copy of args with the defaults that depend on other flags filled in
    (--arch, --name), Resolved). The parsed args are never changed."""
    objective, k = MODELS[args.model].objective, MODELS[args.model].k
    if args.sigma != 0:
        raise ConfigError("--sigma (the reference's unfinished dropout on the code) is not implemented; drop it")
    if args.load_nonstrict:
        raise ConfigError("--load_nonstrict: checkpoints load strictly (a partly loaded model would not be the run "
                          "it claims to be); drop it, or start a new run with --resume none")
    if k is None:
        if args.k is None:
            raise ConfigError("--model kgan needs --k (the number of codes mixed, >= 2)")
        k = args.k
    elif args.k is not None and args.k != k:
        raise ConfigError(f"--k {args.k} conflicts with --model {args.model} (k = {k}); use --model kgan --k {args.k}")
    if k < 2:
        raise ConfigError(f"--k must be >= 2, got {k}")
    if objective == "ae" and (args.mixer != "mixup" or args.k is not None):
        raise ConfigError("--model ae mixes nothing (no mixer, no discriminator); drop --mixer and --k")
    if objective not in ("amr", "ae", "vae") and (args.mixer != "mixup" or args.disable_mix):
        raise ConfigError(f"--model {args.model} mixes with --mixer mixup and cannot --disable_mix; "
                          f"use --model swapgan for other mixers or the baseline")
    if args.cls < 0 or args.eps < 0:
        raise ConfigError("--cls and --eps must be >= 0")
    if args.cls > 0 and objective != "amr":
        raise ConfigError(f"--cls > 0 (class-conditioned mixing) needs --model swapgan, threegan or kgan, "
                          f"not {args.model}")
    if args.mode not in MODES:
        raise ConfigError(f"--mode: unknown '{args.mode}'; choose one of: {', '.join(MODES)}")
    for flag in ("batch_size", "epochs", "update_g_every", "save_every", "save_images_every", "val_batch_size"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    for flag in ("lr", "lamb"):
        if not getattr(args, flag) > 0:
            raise ConfigError(f"--{flag} must be > 0, got {getattr(args, flag)}")
    if args.batches_per_epoch < 0 or args.beta < 0:
        raise ConfigError("--batches_per_epoch and --beta must be >= 0")
    if args.bpc and not args.cls_probe:
        raise ConfigError("--bpc lets the online probe's loss train the encoder; it needs --cls_probe")
    if args.bpc and objective == "vae":
        raise ConfigError("--bpc (the probe's loss training the encoder) is for the AMR models, not --model vae")
    if args.cls_probe_weight != 1.0 and not args.bpc:
        raise ConfigError("--cls_probe_weight weighs the probe's loss in the generator's loss, which only --bpc adds; "
                          "add --bpc or drop --cls_probe_weight")
    if args.cls_probe_weight < 0:
        raise ConfigError(f"--cls_probe_weight must be >= 0, got {args.cls_probe_weight}")
    dataset = DATASETS[args.dataset]
    image_size = dataset.image_size or args.image_size or 64
    if args.image_size is not None and dataset.image_size not in (None, args.image_size):
        raise ConfigError(f"--image_size {args.image_size}: --dataset {args.dataset} is {dataset.image_size} px; "
                          f"drop the flag (it resizes datasets of image files such as folder)")
    if args.num_workers < 0 or (args.max_in_memory_gb is not None and args.max_in_memory_gb < 0):
        raise ConfigError("--num_workers and --max_in_memory_gb must be >= 0")
    if dataset.from_files and args.n_channels not in (None, 1, 3):
        raise ConfigError(f"--n_channels {args.n_channels}: image files are decoded as RGB (3) or grayscale (1)")
    filled = {"arch": args.arch or DEFAULT_ARCH[image_size]}  # defaults that depend on other flags
    try:
        arch = resolve_arch(filled["arch"])
        probe = resolve_probe(args.cls_probe) if args.cls_probe else None
    except RegistryError as e:
        raise ConfigError(str(e)) from None
    probe_args = literal_dict(args.cls_probe_args, "--cls_probe_args", PROBE_ARGS)
    if probe_args and not probe:
        raise ConfigError("--cls_probe_args given without --cls_probe")
    if objective == "vae" and ARCHITECTURES[arch].family != "burgess":
        raise ConfigError(f"--model vae needs a preset with a vector code, not --arch {arch}; use --arch dsprite_gd")
    if args.cls > 0 and ARCHITECTURES[arch].family != "acai":
        raise ConfigError(f"--cls > 0 needs an ACAI preset (whose discriminator has the auxiliary classifier), "
                          f"not --arch {arch}")
    if objective == "vae" and args.recon_loss != "bce_sum":
        raise ConfigError("--model vae needs --recon_loss bce_sum (Bernoulli likelihood summed over pixels, "
                          "what the reference's VAE called bce)")
    if min(args.latent_dim, args.disentangle_every, args.lines_eval_every, args.realism_every) < 0:
        raise ConfigError("--latent_dim, --disentangle_every, --lines_eval_every and --realism_every must be >= 0")
    code_size = replace(ARCHITECTURES[arch], latent=args.latent_dim or ARCHITECTURES[arch].latent).code_size
    if probe_args.get("n_in", code_size) != code_size:
        raise ConfigError(f"--cls_probe_args: n_in {probe_args['n_in']} does not match the bottleneck of "
                          f"--arch {arch} ({code_size}); use n_in {code_size}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu")
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    if args.compile and device.type == "cpu" and not (shutil.which("g++") or shutil.which("clang++")):
        raise ConfigError("--compile on CPU needs a C++ compiler (g++ or clang++) on PATH; "
                          "install one or drop --compile")
    refuse_ignored_flags(args, objective)
    filled["name"] = args.name or (f"{args.dataset}_ae" if objective == "ae" else
                                   f"{args.dataset}_{args.model}_{'baseline' if args.disable_mix else args.mixer}")
    resolved = Resolved(objective=objective, k=k, arch=arch, probe=probe, probe_args=probe_args, code_size=code_size,
                        dataset_args={**DATASET_ARGS, **literal_dict(args.dataset_args, "--dataset_args",
                                                                     DATASET_ARGS)},
                        mode_options=key_values(args.mode_override, "--mode_override", MODES[args.mode].options),
                        device=device, files=file_options(args, image_size), rank_batch_size=args.batch_size)
    return argparse.Namespace(**{**vars(args), **filled}), resolved


def file_options(args, image_size):
    memory = None if args.max_in_memory_gb is None else int(args.max_in_memory_gb * 2 ** 30)
    return FileOptions(image_size=image_size, n_channels=args.n_channels or 3, max_in_memory_bytes=memory,
                       num_workers=args.num_workers)


def check_against_data(args, resolved, data):
    """Check the flags against the loaded data; -> (a copy of args with --n_channels filled in,
    Resolved with the dataset's number of classes)."""
    if args.n_channels is not None and args.n_channels != data.n_channels:
        raise ConfigError(f"--n_channels {args.n_channels} disagrees with --dataset {args.dataset} "
                          f"({data.n_channels} channels); drop the flag or use {data.n_channels}")
    if args.batch_size > len(data.train):
        raise ConfigError(f"--batch_size {args.batch_size} is larger than the training split "
                          f"({len(data.train)} examples)")
    if data.n_classes == 0:
        needs = ("--cls_probe" if args.cls_probe else "--cls > 0" if args.cls > 0 else
                 f"--mode {args.mode}" if args.mode in LABEL_MODES else None)
        if needs:
            raise ConfigError(f"{needs} needs labels, but --dataset {args.dataset} is unlabelled here; put the "
                              f"images in class subfolders (one per label) or drop it")
    n_classes = resolved.probe_args.get("n_classes", data.n_classes)
    if n_classes != data.n_classes:
        raise ConfigError(f"--cls_probe_args: n_classes {n_classes} but --dataset {args.dataset} has "
                          f"{data.n_classes} classes")
    if ARCHITECTURES[resolved.arch].image_size != data.image_size:
        fits = [n for n, a in ARCHITECTURES.items() if a.image_size == data.image_size]
        raise ConfigError(f"--arch {resolved.arch} is for {ARCHITECTURES[resolved.arch].image_size} px images but "
                          f"--dataset {args.dataset} has {data.image_size} px; use one of: {', '.join(fits)}")
    if args.disentangle_every:
        disentangle.require_factors(data, "--disentangle_every")
    if args.lines_eval_every:
        lines_benchmark.require_lines(data, "--lines_eval_every")
    if args.realism_every:
        realism.require_labels(data, "--realism_every")
    filled = argparse.Namespace(**{**vars(args), "n_channels": data.n_channels})
    return filled, replace(resolved, n_classes=data.n_classes)


# ---- model ---------------------------------------------------------------------------------
def build_model(args, resolved):
    torch.manual_seed(args.seed)
    if resolved.objective == "vae":
        return build_vae(args, resolved)
    gen, disc = build_networks(resolved.arch, args.n_channels, args.ngf, args.ndf,
                               n_classes=resolved.n_classes if args.cls > 0 else 0, latent=args.latent_dim)
    if resolved.objective == "ae":
        disc = None  # built all the same, so the probe below starts from the same draws as every method's
    class_mixer = ClassMixer(gen.code_shape, resolved.n_classes, args.cls_label_only) if args.cls > 0 else None
    probe = None
    if resolved.probe:
        probe = build_probe(resolved.probe, resolved.code_size, resolved.n_classes)
    cfg = AMRConfig(k=resolved.k, mixer=args.mixer, objective=resolved.objective, lamb=args.lamb, beta=args.beta,
                    recon_loss=args.recon_loss, gan_loss=args.gan_loss,
                    disable_mix=args.disable_mix or resolved.objective == "ae",
                    disable_g_recon=args.disable_g_recon,
                    cls=args.cls, cls_loss=args.cls_loss, eps=args.eps, probe_backprop=args.bpc,
                    probe_weight=args.cls_probe_weight)
    model = AMR(gen, disc, cfg, probe=probe, seed=args.seed, class_mixer=class_mixer).to(resolved.device)
    model.configure_optimizers(args.lr, (args.beta1, args.beta2), args.weight_decay, args.cls_probe_weight_decay)
    accelerate(model, args, resolved.device)
    return model


def build_vae(args, resolved):
    gen, _ = build_networks(resolved.arch, args.n_channels, args.ngf, latent=args.latent_dim, vae=True)
    probe = build_probe(resolved.probe, resolved.code_size, resolved.n_classes) if resolved.probe else None
    model = VAE(gen, VAEConfig(lamb=args.lamb, beta=args.beta, recon_loss=args.recon_loss), probe=probe,
                seed=args.seed).to(resolved.device)
    model.configure_optimizers(args.lr, (args.beta1, args.beta2), args.weight_decay, args.cls_probe_weight_decay)
    accelerate(model, args, resolved.device)
    return model


def accelerate(model, args, device):
    """Channels-last on CPU, --amp, --compile and cuDNN autotuning: the same computation, faster."""
    if device.type == "cpu" and not args.amp:
        # float32 oneDNN convolutions run channels-last natively; NCHW costs a layout copy around
        # each (README "Speed": the CPU step gains ~1.2x). Measured slower under --amp (bf16), and
        # not applied on CUDA, where it is unmeasured.
        model.to(memory_format=torch.channels_last)
    model.amp = args.amp
    if args.compile:  # in place, so state-dict keys (and checkpoints) are unchanged
        for net in (*model.generator.children(), *filter(None, [model.discriminator])):  # the VAE has none
            net.compile()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


# ---- the modes ----------------------------------------------------------------------------
MODES = {
    "train": Mode(train, "train the model (default)"),
    "interp_train": Mode(interp_grids.interpolate, "interpolation grids between pairs of training examples",
                         interp_grids.OPTIONS),
    "interp_valid": Mode(interp_grids.interpolate, "interpolation grids between pairs of validation examples",
                         interp_grids.OPTIONS),
    "disentangle": Mode(disentangle.disentangle, "FactorVAE, BetaVAE, MIG and DCI scores on the factor grid "
                                                 "(dsprite; a file that is not a complete grid gets MIG and DCI); "
                                                 "writes disentangle.json", disentangle.OPTIONS),
    "dsprite_disentangle_fv": Mode(disentangle.disentangle, "the FactorVAE score only (the reference's mode name); "
                                                            "writes disentangle_fv.json", disentangle.OPTIONS),
    "lines_eval": Mode(lines_benchmark.lines_eval, "ACAI's interpolation benchmark (--dataset lines): mean "
                                                   "distance to the nearest true line and smoothness of the model's, "
                                                   "pixel-space and ideal interpolations; writes lines_eval.json, "
                                                   "interpolations.npz, grid.png", lines_benchmark.OPTIONS),
    "realism": Mode(realism.realism, "how real decoded mixes of validation pairs look to a judge trained on real "
                                     "images: FD, KID and confidence beside reconstructions, pixel mixes and real "
                                     "images (labelled datasets); writes realism.json, mixes.png", realism.OPTIONS),
    "probe": Mode(offline_probe.probe, "offline linear probe: logistic regression on the frozen encoder's codes, "
                                       "C chosen on valid, for the checkpoint and the random init; writes probe.json",
                  offline_probe.OPTIONS),
    "logreg": Mode(offline_probe.probe, "the reference's name for probe", offline_probe.OPTIONS),
    "embedding": Mode(offline_probe.embedding, "the checkpoint's bottleneck codes of train/valid/test as "
                                               "embedding.npz"),
    "save_frames": Mode(frames.save_frames, "animated GIFs of decoded mixes of validation examples: pairwise "
                                            "loop, Bernoulli channel by channel, tour of the k = 3 triangle",
                        frames.OPTIONS),
    "tsne": Mode(embedding_map.embedding_map, "t-SNE map of validation bottleneck codes coloured by label",
                 embedding_map.TSNE_OPTIONS),
    "pca": Mode(embedding_map.embedding_map, "PCA map of validation bottleneck codes coloured by label (fast)",
                embedding_map.PCA_OPTIONS),
    "interp_sup_train": Mode(class_mix_checks.interpolate_supervised, "class-conditioned mixes of pairs of training "
                             "examples for the targets {a}, {a,b}, {b}, {} (needs --cls > 0)",
                             class_mix_checks.INTERP_OPTIONS),
    "interp_sup_valid": Mode(class_mix_checks.interpolate_supervised, "as interp_sup_train on validation examples",
                             class_mix_checks.INTERP_OPTIONS),
    "label_consistency": Mode(class_mix_checks.label_consistency, "how often an independent classifier labels decoded "
                              "class-conditioned mixes as requested, vs random masks; writes rates.csv "
                              "(needs --cls > 0)",
                              class_mix_checks.RATE_OPTIONS),
}


def main(argv=None):
    world = SINGLE
    try:
        args, resolved = validate(parse_args(sys.argv[1:] if argv is None else argv))
        resolved = join_world(args, resolved)
        world = resolved.world
        data = load_dataset(args.dataset, args.data_dir, args.subset_train, download=resolved.dataset_args["download"],
                            files=resolved.files)
        args, resolved = check_against_data(args, resolved, data)
        run_dir = run_dir_path(args)
        model = build_model(args, resolved)
        if world.distributed:
            model.seed = args.seed + 7919 * world.rank  # rank 0 draws what a single process draws
            average_gradients_before_each_step(model, world)
        MODES[args.mode].run(args, resolved, data, model, run_dir)
    except (ConfigError, DatasetError, CheckpointError) as e:
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        finish(world)
    return 0


def join_world(args, resolved):
    """Under torchrun: join the process group, take this rank's GPU and its share of the batch."""
    world = init_world(resolved.device.type == "cuda")
    if not world.distributed:
        return replace(resolved, world=world)
    if args.mode != "train":
        raise ConfigError(f"--mode {args.mode} runs in one process; start it without torchrun")
    device = torch.device("cuda", world.local_rank) if resolved.device.type == "cuda" else resolved.device
    rank_batch_size = args.batch_size
    if args.global_batch:
        if args.batch_size % world.size:
            raise ConfigError(f"--global_batch: --batch_size {args.batch_size} does not divide over {world.size} "
                              f"processes; use a multiple of {world.size}")
        rank_batch_size = args.batch_size // world.size
    return replace(resolved, world=world, device=device, rank_batch_size=rank_batch_size)


if __name__ == "__main__":
    sys.exit(main())
