"""What many test modules share: paths, the small fast settings for runs on the embedded digits set, and
running the command line in this process. (Fixtures live in conftest.py.)"""
import csv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

needs_shared_mnist = pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(),
                                        reason=f"real MNIST not found under {SHARED_DATA}")

# Small, fast settings for runs on the embedded digits dataset.
FAST = ["--dataset=digits", "--subset_train=96", "--batch_size=32", "--ngf=4", "--ndf=4",
        "--val_batch_size=100", "--save_every=1", "--cls_probe=linear", "--num_workers=0"]


def run(argv):
    """task_launcher.main in this process; argparse's exits count as exit statuses like everything else."""
    import task_launcher
    try:
        return task_launcher.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def rows(path):
    """The rows of a CSV file (results.csv, report.csv, ...) as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_dir(save_path, name="digits_swapgan_mixup", seed=0, trial="0"):
    """The folder of a run under save_path."""
    return Path(save_path) / f"s{seed}" / name / trial
