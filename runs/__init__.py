"""What a run writes under <save_path>/s<seed>/<name>/<trial_id>/: config, results, images, checkpoints;
and load_run (runs/api.py), a trained run from Python."""
from .api import Run, RunError, load_run

__all__ = ["Run", "RunError", "load_run"]
