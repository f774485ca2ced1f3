import os

# Tests run tiny networks, many of them in subprocesses: one intra-op thread per process is
# fastest, and two threads per process thrash when processes share a 2-core machine (measured:
# a 2-epoch digits run took 38 s with 2 threads under load, 11 s with 1). Set before torch loads;
# subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Every test that is not about the GPU computes on the CPU, whatever the machine has: --device's default
# (subprocesses and torchrun's workers inherit it); the `gpu` tests pass --device cuda.
os.environ["AMR_DEVICE"] = "cpu"

import pytest  # noqa: E402
import torch  # noqa: E402


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
