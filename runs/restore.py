"""Restoring a checkpoint into a model: only the run a checkpoint belongs to may load it (its stored
spec, or for an older checkpoint its flags through the one converter, must agree with this run's on
every field that is not control), and a checkpoint written on another kind of device opens here."""
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from amr_errors import CheckpointError, ConfigError

from .checkpoint import find_resume_checkpoint
from .paths import make_run_dir, mode_folder
from .spec import differences, stored_spec
from .stored import CONFIG


def check_same_run(state, spec, path, mode="train"):
    """A checkpoint may only continue (or be evaluated as) the run it belongs to."""
    try:
        stored = stored_spec(state)
    except ConfigError as e:
        raise CheckpointError(f"checkpoint {path}: its configuration cannot be read ({e})") from None
    diffs = differences(stored, spec)
    if diffs:
        detail = ", ".join(f"--{flag} {a!r} there, {b!r} here" for flag, a, b in diffs)
        cfg = Path(path).parent / CONFIG
        advice = ("use a checkpoint of this run" if mode == "load_run" else
                  f"to evaluate that run, take its own flags: task_launcher.py load --config {cfg} --mode={mode}"
                  if mode != "train" else
                  "use another --trial_id or --name for a new run (or --resume none --overwrite to replace it)")
        raise CheckpointError(f"checkpoint {path} belongs to a different configuration ({detail}); {advice}")


def restore(model, spec, path, state, mode="train"):
    """Load a checkpoint's networks, optimisers and random stream into `model`, if it belongs to this run;
    -> a one-line note when its random stream had to be restarted (written on another kind of device)."""
    check_same_run(state, spec, path, mode)
    try:
        return model.load_training_state(state["training"], step=state.get("steps") or 0)
    except (RuntimeError, KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} does not fit this model ({str(e).splitlines()[0][:200]})") from None


@dataclass(frozen=True)
class Loaded:
    path: Path            # the checkpoint file
    epoch: int
    steps: Optional[int]  # optimisation steps by then (None in checkpoints older than the field)


@dataclass
class ModeRun:
    """What an evaluation mode (evaluation/modes.py) is given: the run's spec, data, model, folder and device,
    the mode's folder name and the checkpoint to read (--resume: auto, an epoch or a file)."""
    spec: object
    data: object
    model: object
    run_dir: Path
    device: object
    mode: str
    checkpoint: str = "auto"

    def load(self):
        """Restore the checkpoint (default: the run's newest) into the model."""
        path, state = find_resume_checkpoint(self.run_dir, "auto" if self.checkpoint in ("none", "")
                                             else self.checkpoint)
        if state is None:
            raise CheckpointError(f"--mode {self.mode}: no checkpoint in {self.run_dir}; train first or pass "
                                  f"--resume PATH")
        note = restore(self.model, self.spec, path, state, mode=self.mode)
        if note:
            print(note, file=sys.stderr)
        return Loaded(Path(path), state["epoch"], state.get("steps"))

    def folder(self, loaded):
        """<run>/<mode>/<checkpoint>_epoch<N>/, created: where the mode writes for that checkpoint."""
        return make_run_dir(mode_folder(self.run_dir, self.mode, loaded.path, loaded.epoch),
                            f"--save_path {self.spec.output.save_path}")


__all__ = ["Loaded", "ModeRun", "check_same_run", "restore"]
