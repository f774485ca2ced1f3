"""Independent classifiers of images ("judges"): small CNNs trained on real training images only.
They never see a model, so a model cannot fit them; their accuracy on real test images says how far
their verdicts can be trusted.

- build_judge: the label-consistency judge of class-conditioned mixing (evaluation/class_mix_checks.py).
- FeatureJudge: the realism judge (evaluation/realism.py), whose 128 pooled features are the space
  in which decoded images are compared with real ones; cached_judge trains it once per dataset and
  keeps it on disk (docs/realism.md)."""
import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from iterators import batches, epoch_order
from runs.files import atomic_write

STEPS, BATCH, LR = 300, 64, 3e-3  # ~19k images: 16 epochs of digits, 2/5 of an epoch of MNIST
FEATURE_STEPS, FEATURE_BATCH, FEATURE_LR = 2000, 128, 1e-3  # the realism judge's training (docs/realism.md)
FEATURE_JUDGE_VERSION = 2  # bump when FeatureJudge or its training changes: cached judges are then retrained


def build_judge(n_channels, n_classes):
    """32 px -> three stride-2 convolutions (16, 32, 64 channels) -> linear on the 4x4 map."""
    return nn.Sequential(nn.Conv2d(n_channels, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 4 * 4, n_classes))


class FeatureJudge(nn.Module):
    """Any image size -> three 3x3 stride-2 convolutions (32, 64, 128 channels, ReLU) -> global average
    pooling to `num_features` = 128 features -> linear to the classes. features() divides the pooled
    activations by `scale`, their root mean square over training images (set once after training), so
    that x.y / 128 is about 1 and KID's cubic kernel stays in the range it has on Inception features."""

    num_features = 128

    def __init__(self, n_channels, n_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_channels, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1),
                                  nn.ReLU(), nn.Conv2d(64, self.num_features, 3, 2, 1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(self.num_features, n_classes)
        self.register_buffer("scale", torch.ones(()))

    def judge(self, x):
        """(scaled features [N, 128], top-class probability [N]) of images x in [-1, 1]."""
        pooled = self.body(x)
        return pooled / self.scale, self.head(pooled).softmax(1).amax(1)

    def forward(self, x):
        return self.head(self.body(x))


@torch.no_grad()
def set_feature_scale(judge, split, device, n=5000):
    """judge.scale = the RMS of the pooled activations of the first n training images."""
    squares = [judge.body(x).pow(2).mean(1) for x, _ in batches(split.take(range(min(n, len(split)))), 256, device)]
    judge.scale.fill_(torch.cat(squares).mean().sqrt().item())


def train_judge(split, n_channels, n_classes, seed, device, steps=None, build=build_judge, batch=BATCH, lr=LR):
    """Adam on cross-entropy for `steps` (default STEPS) batches of real images; initialisation
    and data order depend only on `seed` and never touch the global RNG of the caller."""
    steps = STEPS if steps is None else steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = build(n_channels, n_classes).to(device)
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    judge.train()
    step, epoch = 0, 0
    while step < steps:
        epoch += 1
        for x, y in batches(split, batch, device, epoch_order(seed, epoch, len(split))):
            loss = F.cross_entropy(judge(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    return judge.eval().requires_grad_(False)


@torch.no_grad()
def judge_accuracy(judge, split, batch_size, device, transform=None):
    """Accuracy on a split, optionally on transform(x) (e.g. the model's reconstructions)."""
    correct = 0
    for x, y in batches(split, batch_size, device):
        correct += (judge(x if transform is None else transform(x)).argmax(1) == y).sum().item()
    return correct / len(split)


def cache_dir():
    """$AMR_CACHE, else ~/.cache/amr: where judges trained on first use are kept."""
    return Path(os.environ.get("AMR_CACHE") or Path.home() / ".cache" / "amr")


def data_fingerprint(data):
    """A short hash of what the judge learns from: the train split's size, image shape, labels and its
    first and last 256 images, and the test split's size (so a subset or another folder is another judge)."""
    h = hashlib.sha1()
    train = data.train
    ends = sorted(set(range(min(256, len(train)))) | set(range(max(0, len(train) - 256), len(train))))
    idx = torch.tensor(ends)
    images = train.images.examples(idx)[0] if train.streamed else train.images[idx]
    for part in (repr((len(train), len(data.test), tuple(images.shape[1:]), data.n_classes)).encode(),
                 train.labels.cpu().numpy().tobytes(), images.cpu().contiguous().numpy().tobytes()):
        h.update(part)
    return h.hexdigest()[:16]


def cached_judge(data, dataset, seed, device):
    """The FeatureJudge of `data`'s train split for `seed`, trained deterministically on the CPU on first
    use and kept under cache_dir()/judges/; -> (judge on `device` in eval mode, info dict with its test
    accuracy and cache file)."""
    key = (f"{dataset}_{data.image_size}px_{data.n_channels}c_seed{seed}_v{FEATURE_JUDGE_VERSION}_"
           f"{data_fingerprint(data)}")
    path = cache_dir() / "judges" / f"{key}.pt"
    judge = FeatureJudge(data.n_channels, data.n_classes)
    state = None
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            judge.load_state_dict(state["judge"])
        except Exception:  # a damaged cache file is trained again, never trusted
            state = None
    if state is None:
        cpu = torch.device("cpu")
        judge = train_judge(data.train, data.n_channels, data.n_classes, seed, cpu, FEATURE_STEPS,
                            build=FeatureJudge, batch=FEATURE_BATCH, lr=FEATURE_LR)
        set_feature_scale(judge, data.train, cpu)
        state = {"judge": judge.state_dict(), "test_accuracy": judge_accuracy(judge, data.test, 256, cpu),
                 "steps": FEATURE_STEPS, "seed": seed, "version": FEATURE_JUDGE_VERSION}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: torch.save(state, f))
    info = {"test_accuracy": float(state["test_accuracy"]), "cache": str(path), "seed": seed,
            "steps": int(state["steps"]), "features": FeatureJudge.num_features,
            "feature_scale": float(judge.scale)}
    return judge.to(device).eval().requires_grad_(False), info
