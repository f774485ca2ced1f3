import os
from pathlib import Path

# Tests run tiny networks, many of them in subprocesses: one intra-op thread per process is
# fastest, and two threads per process thrash when processes share a 2-core machine (measured:
# a 2-epoch digits run took 38 s with 2 threads under load, 11 s with 1). Set before torch loads;
# subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import csv  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

needs_shared_mnist = pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(),
                                        reason=f"real MNIST not found under {SHARED_DATA}")

# Small, fast settings for runs on the embedded digits dataset.
FAST = ["--dataset=digits", "--subset_train=96", "--batch_size=32", "--ngf=4", "--ndf=4",
        "--val_batch_size=100", "--save_every=1", "--cls_probe=linear", "--num_workers=0"]


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions run fastest on one thread (intra-op threading only adds overhead and
    suffers badly on a shared 2-core machine); restored afterwards for other test modules."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Tiny files of every image dataset format (tests/dataset_files.py) in one --data_dir."""
    from dataset_files import write_all
    return write_all(tmp_path_factory.mktemp("data"))


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
