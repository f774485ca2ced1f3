"""A trained run from Python:

    from runs import load_run
    run = load_run("results/s1/mnist32_mixup/0", checkpoint="last", device="cpu")
    codes = run.encode(images)                  # float images in [-1, 1] or uint8 in [0, 255]
    rows = run.interpolate(a, b, steps=10)      # [P, steps, C, H, W] decodes with the run's mixer

The model is rebuilt from the run's cfg.yaml exactly as the launcher builds it, and the checkpoint
is read with weights_only=True and must belong to that run (the launcher's own checks), so a
file from another run, architecture or format is refused with a RunError naming it and why.
Everything runs in eval mode without gradients, in float32.
"""
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import yaml

from iterators import DATASETS, DatasetError, load_dataset, to_float
from models.interpolation import interpolate_pairs
from models.mixing import mix_codes

from .checkpoint import LAST, CheckpointError, epoch_path, load_checkpoint
from .errors import ConfigError
from .run_dir import restore


class RunError(Exception):
    """A run folder or checkpoint that cannot be used; the message names the path and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


@dataclass
class Run:
    path: Path                 # the run folder
    config: dict               # the run's saved flags (cfg.yaml "args")
    model: torch.nn.Module     # in eval mode
    checkpoint: Path
    epoch: int
    device: torch.device
    _data: Optional[object] = field(default=None, repr=False)

    @property
    def data(self):
        """The run's dataset with its train/valid/test splits (uint8 images), loaded on first use from
        the run's --data_dir, without downloading."""
        if self._data is None:
            c = self.config
            try:
                self._data = load_dataset(c["dataset"], c["data_dir"], c.get("subset_train"), download=False)
            except DatasetError as e:
                raise RunError(self.path, f"its dataset cannot be loaded ({e})") from None
        return self._data

    def _images(self, images):
        if images.dtype == torch.uint8:
            images = to_float(images)
        elif not images.is_floating_point():
            raise TypeError(f"images must be float in [-1, 1] or uint8, got {images.dtype}")
        return images.to(self.device, torch.float32)

    @torch.no_grad()
    def encode(self, images):
        """Codes [N, *code_shape] of images [N, C, H, W] (the codes probes and interpolations see)."""
        return self.model.encode(self._images(images))

    @torch.no_grad()
    def decode(self, codes):
        """Images [N, C, H, W] in [-1, 1] (not clamped: the decoder's own output) from codes."""
        return self.model.generator.decode(codes.to(self.device, torch.float32))

    @torch.no_grad()
    def mix(self, codes: Union[torch.Tensor, Sequence[torch.Tensor]], weights):
        """The mixed code sum_i w_i * codes[i] (as training mixes): codes, k tensors [B, C, ...] (or one
        [k, B, C, ...]); weights [k] (one mix for all), [B, k] (per example) or [B, k, C] (per channel)."""
        codes = torch.stack(list(codes)) if not torch.is_tensor(codes) else codes
        k, b, c = codes.shape[:3]
        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        if tuple(w.shape) not in ((k,), (b, k), (b, k, c)):
            raise ValueError(f"weights of shape {tuple(w.shape)} do not fit {k} sources of {b} codes "
                             f"with {c} channels: use [k], [B, k] or [B, k, C]")
        w = w.view(1, k, 1) if w.dim() == 1 else w.view(b, k, 1) if w.dim() == 2 else w
        w = w.expand(b, k, c)
        perms = torch.arange(k * b, device=self.device).view(k, b)
        return mix_codes(codes.to(self.device).flatten(0, 1), perms, w)

    @torch.no_grad()
    def interpolate(self, a, b, steps=10):
        """Decodes [P, steps, C, H, W] from the code of a (first) to the code of b (last) for P pairs of
        images, with the deterministic weights of the run's mixer (Bernoulli mixers switch channels in
        a fixed order), as the interpolation grids of --mode interp_valid."""
        if steps < 2:
            raise ValueError(f"steps must be >= 2, got {steps}")
        rows = interpolate_pairs(self.model, self._images(a), self._images(b), self.config["mixer"], steps)
        return rows[:, 1:-1]  # without the two inputs interpolate_pairs puts at the ends


def _checkpoint_path(folder, checkpoint):
    if checkpoint == "last":
        return folder / LAST
    if isinstance(checkpoint, int) or str(checkpoint).isdigit():
        return epoch_path(folder, int(checkpoint))
    return Path(checkpoint)


def saved_n_classes(cfg, dataset):
    """The dataset's number of classes as the run recorded it (cfg.yaml's resolved section; runs from
    before it was recorded: the registry's, which was every dataset's then)."""
    resolved = yaml.safe_load(cfg.read_text()).get("resolved") or {}
    return resolved.get("n_classes", DATASETS[dataset].n_classes)


def load_run(path, checkpoint="last", device="cpu"):
    """A Run from a run folder <save_path>/s<seed>/<name>/<trial>/; checkpoint: "last", an epoch
    (ckpt_<epoch>.pt) or a checkpoint file of that run."""
    import task_launcher  # the launcher builds models; imported here, as it imports this package

    folder = Path(path)
    cfg = folder / "cfg.yaml"
    if not cfg.is_file():
        raise RunError(folder, "no cfg.yaml: not a run folder (pass <save_path>/s<seed>/<name>/<trial>)")
    ckpt = _checkpoint_path(folder, checkpoint)
    parser = task_launcher.build_parser()
    try:
        saved = task_launcher.read_saved_args(cfg, parser)
        args = parser.parse_args([])
        vars(args).update(saved, device=str(torch.device(device).type), amp=False, compile=False, mode="train",
                          mode_override=None)
        args, resolved = task_launcher.validate(args)  # saved flags: --n_channels and --arch are filled in
        resolved = replace(resolved, device=torch.device(device), n_classes=saved_n_classes(cfg, args.dataset))
        model = task_launcher.build_model(args, resolved)
        state = load_checkpoint(ckpt)
        restore(model, args, ckpt, state)
    except (ConfigError, CheckpointError) as e:
        raise RunError(folder, str(e)) from None
    model.eval()
    return Run(folder, saved, model, ckpt, state["epoch"], torch.device(device))


__all__ = ["Run", "RunError", "load_run"]
