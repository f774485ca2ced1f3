"""Checkpoints: one dict per file (networks, optimisers, epoch, RNG state, config),
written atomically and read back with weights_only=True so a file can never run code."""
import re
import sys
from pathlib import Path

import torch

from amr_errors import CheckpointError

from .files import atomic_write

FORMAT = "amr-checkpoint-1"
LAST = "last.pt"
_EPOCH_FILE = re.compile(r"^ckpt_(\d+)\.pt$")


def epoch_path(run_dir, epoch):
    return Path(run_dir) / f"ckpt_{epoch}.pt"


def save_checkpoint(path, state):
    atomic_write(path, lambda f: torch.save(dict(state, format=FORMAT), f))


def load_checkpoint(path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, pickle that wants to run code, not a checkpoint at all
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} cannot be loaded safely ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not an amr checkpoint (format {FORMAT} expected)")
    return state


def checkpoints_newest_first(run_dir):
    """last.pt first (written every epoch), then ckpt_<epoch>.pt by decreasing epoch."""
    run_dir = Path(run_dir)
    numbered = sorted(((int(m.group(1)), p) for p in run_dir.glob("ckpt_*.pt")
                       if (m := _EPOCH_FILE.match(p.name))), reverse=True)
    last = [run_dir / LAST] if (run_dir / LAST).is_file() else []
    return last + [p for _, p in numbered]


def find_resume_checkpoint(run_dir, spec):
    """Resolve --resume: 'auto' (newest readable checkpoint of the run, or None for a fresh
    start), an epoch number (ckpt_<epoch>.pt of the run) or a file path. Returns (path, state)."""
    if spec in (None, "", "none"):
        return None, None
    if spec == "auto":
        for path in checkpoints_newest_first(run_dir):
            try:
                return path, load_checkpoint(path)
            except CheckpointError as e:
                print(f"warning: --resume=auto skips {e}", file=sys.stderr)
        return None, None
    path = epoch_path(run_dir, int(spec)) if spec.isdigit() else Path(spec)
    if not path.is_file():
        raise CheckpointError(f"--resume={spec}: no checkpoint at {path}; use --resume=auto or an existing file")
    return path, load_checkpoint(path)
