"""The run folder <save_path>/s<seed>/<name>/<trial_id>/, its cfg.yaml, and restoring a run's
checkpoint into a model (only the run a checkpoint belongs to may load it)."""
import functools
import shlex
import sys
from pathlib import Path

import torch
import yaml

from .checkpoint import CheckpointError, find_resume_checkpoint
from .errors import ConfigError
from .files import atomic_write_text

# Flags that may change when a run is resumed or evaluated (or its folder moved); any other
# difference means a different model or training run.
RUN_CONTROL_FLAGS = {"epochs", "resume", "mode", "mode_override", "num_workers", "device", "save_every",
                     "save_images_every", "val_batch_size", "vis_seed", "batches_per_epoch", "data_dir",
                     "dataset_args", "save_path", "name", "trial_id", "amp", "compile", "disentangle_every",
                     "lines_eval_every", "realism_every", "no_verbose", "tensorboard", "max_in_memory_gb"}


@functools.lru_cache(maxsize=None)
def versions():
    import numpy
    import sklearn
    import torchvision
    info = {"python": sys.version.split()[0], "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__),
            "numpy": str(numpy.__version__), "scikit-learn": str(sklearn.__version__)}
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def run_dir_path(args):
    return Path(args.save_path) / f"s{args.seed}" / args.name / str(args.trial_id)


def make_run_dir(args, folder):
    """Created only once the inputs are known to be good, so bad input leaves nothing behind."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"--save_path {args.save_path}: cannot write {folder} ({e.strerror}); "
                          f"choose a writable folder") from None
    return folder


def mode_folder(run_dir, mode, checkpoint, epoch):
    """Where --mode `mode` puts what it writes for the checkpoint file `checkpoint` of `epoch`:
    <run_dir>/<mode>/<checkpoint name>_epoch<epoch>/ (one folder per checkpoint, so modes never
    overwrite each other's or another checkpoint's files)."""
    return Path(run_dir) / mode / f"{Path(checkpoint).stem}_epoch{epoch}"


def make_mode_folder(args, run_dir, checkpoint, state, mode=None):
    """mode_folder for the checkpoint a mode loaded (mode: default --mode), created."""
    return make_run_dir(args, mode_folder(run_dir, mode or args.mode, checkpoint, state["epoch"]))


def write_config(run_dir, args, resolved):
    cfg = {"args": dict(vars(args)), "resolved": resolved, "versions": versions(),
           "command": shlex.join([sys.executable] + sys.argv)}
    atomic_write_text(run_dir / "cfg.yaml", yaml.safe_dump(cfg, sort_keys=False))


def upgrade_saved_args(saved):
    """Flags as a run saved them, in today's names: before --batches_per_epoch existed, --bpc held
    the batch cap (an int) and the reference's probe switch did not exist."""
    saved = dict(saved)
    if "batches_per_epoch" not in saved and "bpc" in saved and not isinstance(saved["bpc"], bool):
        saved["batches_per_epoch"], saved["bpc"] = int(saved["bpc"] or 0), False
    return saved


def check_same_run(saved_args, args, path):
    """A checkpoint may only continue the run it belongs to."""
    saved_args = upgrade_saved_args(saved_args)
    differ = sorted(k for k in vars(args) if k not in RUN_CONTROL_FLAGS and k in saved_args
                    and saved_args[k] != getattr(args, k))
    if differ:
        detail = ", ".join(f"--{k} {saved_args[k]!r} there, {getattr(args, k)!r} here" for k in differ)
        raise CheckpointError(f"checkpoint {path} belongs to a different configuration ({detail}); "
                              f"use another --trial_id or --name for a new run")


def restore(model, args, path, state):
    """Load a checkpoint's networks, optimisers and mixing RNG, if it belongs to this run."""
    check_same_run(state["config"], args, path)
    try:
        model.load_training_state(state["training"])
    except (RuntimeError, KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model ({str(e).splitlines()[0][:200]})") from None


def load_for_eval(args, model, run_dir):
    """Evaluation modes read the checkpoint --resume names (default: the run's newest)."""
    path, state = find_resume_checkpoint(run_dir, "auto" if args.resume in ("none", "") else args.resume)
    if state is None:
        raise CheckpointError(f"--mode {args.mode}: no checkpoint in {run_dir}; train first or pass --resume PATH")
    restore(model, args, path, state)
    return path, state
