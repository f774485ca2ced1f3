"""--tensorboard: what a run writes under <run_dir>/tb/ for `tensorboard --logdir <save_path>`.

The step axis is the number of optimisation steps taken (the checkpoint keeps it), so a resumed
run continues where its checkpoint stopped: events a killed run wrote after its last checkpoint
are purged (SummaryWriter's purge_step), and nothing is written twice or backwards.
  epoch/<column>   every numeric results.csv column, once per epoch
  train/<loss>     the running means of the training losses, every 50 steps
  images/<split>   the epoch image rows (inputs, reconstructions, partners, mixes)
  interpolation    a grid of interpolations between validation pairs with the run's mixer
"""
import math

from torchvision.utils import make_grid


class TensorBoard:
    def __init__(self, run_dir, resume_step):
        from torch.utils.tensorboard import SummaryWriter  # imported only when asked for: it loads tensorboard
        self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step + 1 if resume_step else None)

    def running_losses(self, step, means):
        for key, value in means.items():
            self.writer.add_scalar(f"train/{key}", value, step)

    def epoch(self, step, row):
        for key, value in row.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.writer.add_scalar(f"epoch/{key}", value, step)

    def images(self, step, tag, images, nrow):
        """images [N, C, H, W] in [-1, 1], laid out `nrow` to a row."""
        grid = make_grid((images.detach().float().cpu() * 0.5 + 0.5).clamp(0, 1), nrow=nrow, padding=2)
        self.writer.add_image(tag, grid, step)

    def close(self):
        self.writer.close()
