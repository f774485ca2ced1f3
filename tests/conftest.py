import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

needs_shared_mnist = pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file(),
                                        reason=f"real MNIST not found under {SHARED_DATA}")

# Small, fast settings for runs on the embedded digits dataset.
FAST = ["--dataset=digits", "--subset_train=96", "--batch_size=32", "--ngf=4", "--ndf=4",
        "--val_batch_size=100", "--save_every=1", "--cls_probe=linear", "--num_workers=0"]

