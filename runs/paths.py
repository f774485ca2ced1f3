"""Where a run writes: its folder <save_path>/s<seed>/<name>/<trial_id>/, one folder per mode and
checkpoint inside it, and moving a finished run aside before --overwrite starts anew."""
import datetime
import os
from pathlib import Path

from amr_errors import ConfigError

REPLACED = ".replaced-"  # <trial>.replaced-<UTC time>: a run moved aside by --overwrite (the report skips it)


def run_dir_path(spec):
    o = spec.output
    return Path(o.save_path) / f"s{spec.train.seed}" / o.name / str(o.trial_id)


def make_run_dir(folder, flag="--save_path"):
    """Create `folder` (only once the inputs are known to be good, so bad input leaves nothing behind)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{flag}: cannot write {folder} ({e.strerror}); choose a writable folder") from None
    return folder


def mode_folder(run_dir, mode, checkpoint, epoch):
    """Where mode `mode` puts what it writes for the checkpoint file `checkpoint` of `epoch`:
    <run_dir>/<mode>/<checkpoint name>_epoch<epoch>/ (one folder per checkpoint, so modes never
    overwrite each other's or another checkpoint's files)."""
    return Path(run_dir) / mode / f"{Path(checkpoint).stem}_epoch{epoch}"


def move_aside(run_dir):
    """Move a run folder to <run_dir>.replaced-<UTC time> beside it (nothing is deleted); -> the new path."""
    run_dir = Path(run_dir)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = run_dir.with_name(f"{run_dir.name}{REPLACED}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = run_dir.with_name(f"{run_dir.name}{REPLACED}{stamp}-{n}")
    os.replace(run_dir, target)
    return target


__all__ = ["REPLACED", "make_run_dir", "mode_folder", "move_aside", "run_dir_path"]
