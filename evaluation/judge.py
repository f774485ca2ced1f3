"""An independent classifier of images ("judge"): a small CNN trained on real training images
only, used to check which labels decoded images carry. It never sees the model, so a model
cannot fit it; its accuracy on real test images says how far its verdicts can be trusted."""
import torch
import torch.nn.functional as F
from torch import nn

from iterators import batches, epoch_order

STEPS, BATCH, LR = 300, 64, 3e-3  # ~19k images: 16 epochs of digits, 2/5 of an epoch of MNIST


def build_judge(n_channels, n_classes):
    """32 px -> three stride-2 convolutions (16, 32, 64 channels) -> linear on the 4x4 map."""
    return nn.Sequential(nn.Conv2d(n_channels, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 4 * 4, n_classes))


def train_judge(split, n_channels, n_classes, seed, device, steps=None):
    """Adam on cross-entropy for `steps` (default STEPS) batches of real images; initialisation
    and data order depend only on `seed` and never touch the global RNG of the caller."""
    steps = STEPS if steps is None else steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        judge = build_judge(n_channels, n_classes).to(device)
    opt = torch.optim.Adam(judge.parameters(), lr=LR)
    judge.train()
    step, epoch = 0, 0
    while step < steps:
        epoch += 1
        for x, y in batches(split, BATCH, device, epoch_order(seed, epoch, len(split))):
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
