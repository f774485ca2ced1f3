"""Tiny dataset files in the official formats (MNIST/KMNIST idx, SVHN .mat, CIFAR-10 pickles), for tests.

Image i is the constant value i (train) or 200 + i (test), with label value % 10. Constant images
survive bilinear resizing exactly, so each loaded image tells which source example it came from:
that checks splits, alignment and disjointness at once."""
import pickle

import numpy as np
import scipy.io

N_TRAIN, N_TEST = 120, 20


def values(n, offset=0):
    return np.arange(offset, offset + n, dtype=np.uint8)


def write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, ">i4").tobytes()
    path.write_bytes(header + arr.tobytes())


def write_mnist_like(root, cls_name):
    raw = root / cls_name / "raw"
    raw.mkdir(parents=True)
    for prefix, n, off in (("train", N_TRAIN, 0), ("t10k", N_TEST, 200)):
        v = values(n, off)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", np.broadcast_to(v[:, None, None], (n, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", v % 10)


def write_svhn(root, n_train=50):
    for name, n, off in (("train", n_train, 0), ("test", N_TEST, 200)):
        v = values(n, off)
        x = np.broadcast_to(v, (32, 32, 3, n)).copy()  # official layout [H, W, C, N]
        y = (v % 10).astype(np.uint8)
        y[y == 0] = 10  # official SVHN labels digit 0 as 10
        scipy.io.savemat(str(root / f"{name}_32x32.mat"), {"X": x, "y": y[:, None]})


def write_cifar(root, protocol=pickle.HIGHEST_PROTOCOL):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = [(f"data_batch_{i + 1}", values(10, 10 * i)) for i in range(5)]
    for name, v in batches + [("test_batch", values(N_TEST, 200))]:
        d = {b"batch_label": name.encode(), b"labels": [int(a) % 10 for a in v],
             b"data": np.repeat(v[:, None], 3072, axis=1)}
        with open(folder / name, "wb") as fh:
            pickle.dump(d, fh, protocol=protocol)


def write_all(root):
    """MNIST, KMNIST, SVHN and CIFAR-10 files under root, as --data_dir expects them."""
    write_mnist_like(root, "MNIST")
    write_mnist_like(root, "KMNIST")
    write_svhn(root)
    write_cifar(root)
    return root
