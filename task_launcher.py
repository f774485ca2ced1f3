#!/usr/bin/env python
"""amr: adversarial mixup resynthesis (Beckham et al., NeurIPS 2019).

    amr [run] [flags]                          train (or --mode=... evaluate) with these flags
    amr load --config RUN/cfg.yaml [flags]     a saved run's own flags; later flags override, e.g.
                                               amr load --config RUN/cfg.yaml --mode=interp_valid
(`amr` is `python task_launcher.py` once installed with `pip install -e .`.)

Everything a run writes goes to <save_path>/s<seed>/<name>/<trial_id>/, each evaluation mode into
<mode>/<checkpoint>_epoch<N>/ inside it. This file only turns flags into a run spec and calls the
library: runs.spec (what a run is), runs.build (data and model), runs.training (the loop),
evaluation.modes (the modes). Defaults are the reference launcher's; the paper's settings are in
exps/ and docs/cli.md (table of defaults).
"""
import argparse
import ast
import os
import sys
from dataclasses import replace
from functools import partial

from amr_errors import AmrError, ConfigError
from architectures import ARCHITECTURES
from architectures.cls_probes import PROBES
from evaluation import class_mix_checks, disentangle, lines_benchmark, realism
from evaluation.modes import MODES, folder_of
from iterators import DATASETS
from models.mixing import MIXERS
from models.registry import MODELS
from runs.build import build_model, complete, load_data
from runs.distributed import average_gradients_before_each_step, finish
from runs.paths import run_dir_path
from runs.restore import ModeRun
from runs.runtime import start
from runs.spec import (AMP_DTYPES, COMPILE_MODES, DATASET_ARGS, DEFAULT_ARCH, IMAGE_SIZES, spec_flags,
                       spec_from_flags, upgrade_flags)
from runs.stored import read_config
from runs.training import EpochHook, train

# Flags of one invocation, not of the run (the rest is the run spec: runs.spec.stored_flags()).
INVOCATION_FLAGS = ("mode", "mode_override", "resume", "overwrite", "sigma", "load_nonstrict")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description and epilog as written; every flag's default shown unless its help says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or action.option_strings == ["-h", "--help"]:
            return text
        return f"{text} (default: {action.default})"


class OneLineParser(argparse.ArgumentParser):
    def __init__(self, **kw):
        super().__init__(allow_abbrev=False, **kw)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def listing(title, entries):
    return f"{title}:\n" + "\n".join(f"  {name:<24} {text}" for name, text in entries)


def epilog():
    styles = ("Network styles: arch_acai_kyle*: the reference's networks (its port of ACAI: slope 0.01, first 1x1 "
              "conv padded, plain first D conv, its init); acai*: ACAI's layers with instance norm in G and "
              "spectral norm in D; acai32_plain: ACAI as published; dsprite_gd: Burgess et al.'s 64 px networks.")
    presets = [(n, a.description.split("; ", 1)[-1]) for n, a in ARCHITECTURES.items()]
    return "\n\n".join([
        listing("models (--model)", [(n, d.description.split(". ")[0]) for n, d in MODELS.items()]),
        listing("mixers (--mixer)", [(n, m.description) for n, m in MIXERS.items()]),
        listing("network presets (--arch; a path such as architectures/arch_acai_kyle.py maps to its name)",
                presets) + "\n" + styles,
        listing("datasets (--dataset)", [(n, d.description) for n, d in DATASETS.items()]),
        listing("modes (--mode; options with --mode_override key=value,...)",
                [("train", "train the model (default)")] + [
                    (m, d.help + (f" [{', '.join(f'{k}={v}' for k, v in d.options.items())}]" if d.options else ""))
                    for m, d in MODES.items()]),
    ])


def build_parser():
    p = OneLineParser(prog="task_launcher.py", usage="%(prog)s [run | load --config RUN/cfg.yaml] [flags]",
                      description=__doc__, epilog=epilog(),
                      formatter_class=lambda prog: HelpFormatter(prog, width=110, max_help_position=34))
    g = p.add_argument_group("model")
    g.add_argument("--model", default="swapgan", choices=MODELS, metavar="MODEL", help="the objective and k (below)")
    g.add_argument("--k", type=int, default=None, help="codes mixed, >= 2 (--model kgan; default: the model's)")
    g.add_argument("--mixer", default="mixup", choices=MIXERS, metavar="MIXER", help="how codes are mixed (below)")
    g.add_argument("--arch", default=None, metavar="PRESET",
                   help="network preset (below); default: " + ", ".join(f"{a} for {n} px" for n, a in
                                                                           DEFAULT_ARCH.items()))
    g.add_argument("--n_channels", type=int, default=None, help="image channels (default: the dataset's)")
    g.add_argument("--ngf", "--gen_width", type=int, default=0, help="generator base width; 0 keeps the preset's")
    g.add_argument("--ndf", "--disc_width", type=int, default=0, help="discriminator base width; 0 keeps the preset's")
    g.add_argument("--latent_dim", type=int, default=0,
                   help="bottleneck channels (the whole code size for dsprite_gd and --model vae); "
                        "0 keeps the preset's")
    g.add_argument("--lamb", "--recon_weight", type=float, default=1.0,
                   help="weight of the reconstruction loss (paper: 10 on MNIST/KMNIST/SVHN, 50 on CIFAR-10)")
    g.add_argument("--beta", type=float, default=1.0,
                   help="AMR: weight of the consistency loss |enc(dec(h_mix)) - h_mix| (paper: 0); --model vae: the KL "
                        "weight, KL summed over latent dims (the reference averaged it: its beta B is B / latent_dim)")
    g.add_argument("--cls", "--class_mix_weight", type=float, default=0.0,
                   help="> 0: supervised class-conditioned mixing, weight of the auxiliary classifier loss")
    g.add_argument("--cls_loss", default="bce", choices=["bce", "mse"], help="auxiliary classifier loss (--cls > 0)")
    g.add_argument("--eps", "--mask_prior_weight", type=float, default=0.01,
                   help="weight of the class mixer's mask prior (--cls > 0)")
    g.add_argument("--cls_label_only", action="store_true",
                   help="the class mixer sees only the target labels, not the codes (the reference's form)")
    g.add_argument("--gan_loss", default="bce", choices=["bce", "mse"], help="adversarial loss (acai uses its own)")
    g.add_argument("--recon_loss", default="l1", choices=["l1", "l2", "bce", "bce_sum"],
                   help="reconstruction loss (bce_sum: summed over pixels; --model vae: bce means bce_sum, as the "
                        "reference's VAE)")
    g.add_argument("--disable_mix", action="store_true", help="no mixing: the adversarial autoencoder baseline")
    g.add_argument("--disable_g_recon", action="store_true", help="no adversarial loss on reconstructions")
    g = p.add_argument_group("optimisation")
    g.add_argument("--batch_size", type=int, default=32, help="training batch size (paper: 64)")
    g.add_argument("--epochs", type=int, default=200, help="train until this many epochs are done (paper: 2000-8000)")
    g.add_argument("--batches_per_epoch", type=int, default=0,
                   help="stop each epoch after this many batches (0: all); fixed step budgets, smoke runs")
    g.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (paper: 1e-4)")
    g.add_argument("--beta1", type=float, default=0.0, help="Adam beta1 (paper: 0.5)")
    g.add_argument("--beta2", type=float, default=0.999, help="Adam beta2 (paper: 0.99)")
    g.add_argument("--weight_decay", type=float, default=0.0, help="Adam L2 weight decay (paper: 1e-5)")
    g.add_argument("--update_g_every", type=int, default=5,
                   help="update the generator every N steps, the discriminator every step (--model vae: every step)")
    g.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and mixing")
    g.add_argument("--global_batch", action="store_true",
                   help="under torchrun: --batch_size is the global batch, split over the processes")
    g = p.add_argument_group("online linear probe")
    g.add_argument("--cls_probe", default=None, metavar="PROBE",
                   help=f"classifier on the bottleneck trained alongside ({', '.join(PROBES)}; a path such as "
                        "architectures/cls_probes/linear.py maps to the name); default: none")
    g.add_argument("--cls_probe_args", default=None,
                   help="\"{'n_in': N, 'n_classes': C}\": checked against the bottleneck and the dataset; "
                        "default: none")
    g.add_argument("--cls_probe_weight_decay", type=float, default=None,
                   help="probe weight decay (default: --weight_decay)")
    g.add_argument("--bpc", "--cls_probe_backprop_grads", action="store_true",
                   help="the probe's loss also trains the encoder, weighted by --cls_probe_weight (the reference's "
                        "switch; default: the probe sees detached codes)")
    g.add_argument("--cls_probe_weight", type=float, default=1.0, help="weight of the probe's loss under --bpc")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="digits", choices=DATASETS, metavar="DATASET", help="the data (below)")
    g.add_argument("--dataset_args", default=None,
                   help="literal dict of dataset options: " + ", ".join(f"{k} (default {v})"
                                                                        for k, v in DATASET_ARGS.items()))
    g.add_argument("--data_dir", default=os.environ.get("DATA_DIR", "./data"),
                   help="folder holding the datasets (default: $DATA_DIR, else ./data)")
    g.add_argument("--subset_train", type=int, default=None,
                   help="train on a fixed subset of N training examples, the same for every seed (default: all)")
    g.add_argument("--image_size", type=int, default=None, choices=IMAGE_SIZES,
                   help="image-file datasets (folder, ...): the size images are resized and centre-cropped to "
                        "(default: the dataset's, 64 for folder)")
    g.add_argument("--max_in_memory_gb", type=float, default=None,
                   help="image-file datasets larger than this when decoded are streamed from disk (the machine's "
                        "budget, shared by its torchrun processes; default: a quarter of the RAM)")
    g.add_argument("--num_workers", type=int, default=4,
                   help="DataLoader workers decoding image files (0: in the main process)")
    g = p.add_argument_group("run and outputs")
    g.add_argument("--save_path", default=os.environ.get("RESULTS_DIR", "./results"),
                   help="results root (default: $RESULTS_DIR, else ./results)")
    g.add_argument("--name", default=None, help="experiment name (default: <dataset>_<model>_<mixer or baseline>)")
    g.add_argument("--trial_id", default=os.environ.get("SLURM_JOB_ID", "0"),
                   help="trial folder inside the experiment (default: $SLURM_JOB_ID, else 0)")
    g.add_argument("--resume", default="auto",
                   help="auto: continue from the run's newest checkpoint (fresh start if none); <epoch>: from "
                        "ckpt_<epoch>.pt; <path>: from that file; none: a fresh start in a folder without "
                        "checkpoints (default: auto)")
    g.add_argument("--overwrite", action="store_true",
                   help="with --resume none: start anew in a folder that holds a run, moving that run to "
                        "<trial_id>.replaced-<time> beside it (nothing is deleted)")
    g.add_argument("--save_every", type=int, default=5, help="keep a checkpoint ckpt_<epoch>.pt every N epochs")
    g.add_argument("--save_images_every", type=int, default=1, help="write image grids every N epochs")
    g.add_argument("--val_batch_size", type=int, default=64,
                   help="evaluation batch size; also the number of examples in interpolation grids")
    g.add_argument("--vis_seed", type=int, default=0, help="seed choosing the examples and mixes shown in images")
    g.add_argument("--no_verbose", action="store_true", help="no progress bar (epoch lines are still printed)")
    g.add_argument("--tensorboard", action="store_true", help="also log to <run>/tb/ for TensorBoard")
    g = p.add_argument_group("evaluation")
    g.add_argument("--mode", default="train", metavar="MODE", help="train, or an evaluation of the run (below)")
    g.add_argument("--mode_override", default=None,
                   help="the mode's options as key=value,key=value (listed with each mode below); default: none")
    g.add_argument("--disentangle_every", type=int, default=0,
                   help="every N epochs add FactorVAE, BetaVAE and MIG to results.csv (dsprite); 0: never")
    g.add_argument("--lines_eval_every", type=int, default=0,
                   help="every N epochs add --mode lines_eval's two scores to results.csv (lines); 0: never")
    g.add_argument("--realism_every", type=int, default=0,
                   help="every N epochs add --mode realism's FD, KID and confidence of mixes to results.csv; 0: never")
    g = p.add_argument_group("device and speed")
    g.add_argument("--device", default=os.environ.get("AMR_DEVICE", "auto"), choices=["auto", "cpu", "cuda"],
                   help="where to compute (auto: CUDA if there is one; default: $AMR_DEVICE, else auto; a saved "
                        "run's device is not reloaded by `load`: the machine decides)")
    g.add_argument("--amp", nargs="?", const="bf16", default=None, choices=AMP_DTYPES,
                   help="mixed precision: --amp is bfloat16 autocast, --amp=fp16 float16 with a gradient scaler per "
                        "optimiser (GPUs without bfloat16: V100, T4); weights and optimiser states stay float32; "
                        "default: off")
    g.add_argument("--compile", nargs="?", const="default", default=None, choices=COMPILE_MODES,
                   help="torch.compile the networks for training (--compile=reduce-overhead: CUDA graphs for small "
                        "batches on a GPU); needs a C++ compiler on CPU; default: off")
    g.add_argument("--deterministic", action="store_true",
                   help="bitwise repeatable on a GPU too: deterministic algorithms, no cuDNN autotuning, no TF32 "
                        "(slower; the CPU is always deterministic)")
    g = p.add_argument_group("the reference's compatibility flags (accepted, refused unless harmless)")
    g.add_argument("--sigma", type=float, default=0.0,
                   help="the reference's unfinished code dropout; any value other than 0 is refused")
    g.add_argument("--load_nonstrict", action="store_true",
                   help="the reference's partial checkpoint loading; refused (checkpoints load strictly)")
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
    """A cfg.yaml's flags as parser defaults (upgraded from older runs' names and types)."""
    saved = upgrade_flags(read_config(path).get("args") or {})
    known = {a.dest for a in parser._actions}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ConfigError(f"--config {path}: unknown keys {unknown}")
    if isinstance(saved.get("dataset_args"), dict):
        saved["dataset_args"] = repr(saved["dataset_args"])
    return {k: v for k, v in saved.items() if k not in ("mode", "mode_override", "resume", "overwrite", "device")}


def key_values(text, flag, defaults):
    """--mode_override 'a=1,b=2' (the reference's syntax) or a literal dict, with literal values."""
    if text is None:
        return dict(defaults)
    given = {}
    if text.strip().startswith("{"):
        try:
            given = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            given = None
        if not isinstance(given, dict):
            raise ConfigError(f"{flag}: '{text}' is not a literal dict such as \"{{'key': value}}\"")
    else:
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, sep, raw = item.partition("=")
            if not sep:
                raise ConfigError(f"{flag}: '{item}' is not key=value")
            try:
                given[key.strip()] = ast.literal_eval(raw.strip())
            except (ValueError, SyntaxError):
                raise ConfigError(f"{flag}: value of '{key.strip()}' must be a literal, got '{raw}'") from None
    for key, value in given.items():
        if key not in defaults:
            raise ConfigError(f"{flag}: unknown key '{key}'; this mode takes: "
                              f"{', '.join(sorted(defaults)) or 'no options'}")
        if type(value) is not type(defaults[key]):
            raise ConfigError(f"{flag}: {key} must be {type(defaults[key]).__name__}, got {value!r}")
    return {**defaults, **given}


def invocation(args):
    """Check the flags that belong to this invocation; -> the mode's options."""
    if args.sigma != 0:
        raise ConfigError("--sigma (the reference's unfinished dropout on the code) is not implemented; drop it")
    if args.load_nonstrict:
        raise ConfigError("--load_nonstrict: checkpoints load strictly (a partly loaded model would not be the run "
                          "it claims to be); drop it, or start a new run with --resume none")
    if args.mode != "train" and args.mode not in MODES:
        raise ConfigError(f"--mode: unknown '{args.mode}'; choose one of: train, {', '.join(MODES)}")
    if args.overwrite and (args.mode != "train" or args.resume not in ("none", "auto")):
        raise ConfigError("--overwrite starts a run anew (with --resume none); it does not combine with --mode "
                          f"{args.mode} or --resume {args.resume}")
    return key_values(args.mode_override, "--mode_override", {} if args.mode == "train" else MODES[args.mode].options)


def epoch_hooks(spec, model):
    """The evaluations the flags add to each epoch's results.csv row."""
    o, hooks = spec.output, []
    if model.class_mixer is not None:  # label consistency of class-conditioned mixes, by an independent judge
        hooks.append(EpochHook(1, partial(class_mix_checks.epoch_columns, vis_seed=o.vis_seed,
                                          batch_size=o.val_batch_size)))
    if o.disentangle_every:
        hooks.append(EpochHook(o.disentangle_every, partial(disentangle.epoch_columns, batch_size=o.val_batch_size)))
    if o.lines_eval_every:
        hooks.append(EpochHook(o.lines_eval_every, partial(lines_benchmark.epoch_columns, mixer=spec.model.mixer)))
    if o.realism_every:
        hooks.append(EpochHook(o.realism_every, partial(realism.epoch_columns, spec=spec)))
    return hooks


def main(argv=None):
    runtime = None
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        options = invocation(args)
        notes = []
        spec = spec_from_flags(vars(args), notes)
        for note in notes:
            print(note, file=sys.stderr)
        training = args.mode == "train"
        if not training:  # evaluation is float32 and eager whatever the run trained with (--amp, --compile)
            spec = replace(spec, train=replace(spec.train, compile=None))
        if not training and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
            raise ConfigError(f"--mode {args.mode} runs in one process; start it without torchrun")
        runtime = start(spec, distributed=training)
        data = load_data(spec)
        needs = None if training or not MODES[args.mode].needs_labels else f"--mode {args.mode}"
        spec = complete(spec, data, label_needed=needs)
        run_dir = run_dir_path(spec)
        model = build_model(spec, runtime.device)
        if runtime.world.distributed:
            model.seed = spec.train.seed + 7919 * runtime.world.rank  # rank 0 draws what a single process draws
            average_gradients_before_each_step(model, runtime.world)
        if training:
            flags = {**vars(args), **spec_flags(spec), "cls_probe_args": args.cls_probe_args}
            train(spec, runtime, data, model, run_dir, resume="none" if args.overwrite else args.resume,
                  overwrite=args.overwrite, hooks=epoch_hooks(spec, model), flags=flags)
        else:
            mode_run = ModeRun(spec, data, model, run_dir, runtime.device, folder_of(args.mode), args.resume)
            MODES[args.mode].run(mode_run, options)
    except AmrError as e:  # every input error amr names (ConfigError, DatasetError, CheckpointError, ...)
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 2
    except FloatingPointError as e:
        print(f"task_launcher.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        if runtime is not None:
            finish(runtime.world)
    return 0


def cli():
    """The `amr` console command."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())

