"""A trained run from Python:

    from runs import load_run
    run = load_run("results/s1/mnist32_mixup/0", checkpoint="last", device="cpu")
    codes = run.encode(images)                  # float images in [-1, 1] or uint8 in [0, 255]
    rows = run.interpolate(a, b, steps=10)      # [P, steps, C, H, W] decodes with the run's mixer

The model is rebuilt from the run's stored spec by the library factory (runs.build), as the command
line builds it, and the checkpoint is read with weights_only=True and must belong to that run, so a
file from another run, architecture or format is refused with a RunError naming it and why. A run
trained on a GPU opens on a CPU. Everything runs in eval mode without gradients, in float32.
"""
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from amr_errors import CheckpointError, ConfigError, DatasetError, RunError
from iterators import to_float
from models.interpolation import interpolate_pairs
from models.mixing import mix_codes

from .build import build_model, load_data
from .checkpoint import LAST, checkpoints_newest_first, epoch_path, load_checkpoint
from .restore import restore
from .spec import RunSpec, spec_flags
from .stored import CONFIG, read_spec


@dataclass
class Run:
    path: Path                 # the run folder
    spec: RunSpec              # what the run is (runs/spec.py)
    model: torch.nn.Module     # in eval mode
    checkpoint: Path
    epoch: int
    device: torch.device
    _data: Optional[object] = field(default=None, repr=False)

    @property
    def config(self):
        """The run's flags (as cfg.yaml's 'args'), e.g. run.config["mixer"]; run.spec holds them typed."""
        return spec_flags(self.spec)

    @property
    def data(self):
        """The run's dataset with its train/valid/test splits (uint8 images), loaded on first use from
        the run's --data_dir, without downloading."""
        if self._data is None:
            try:
                self._data = load_data(self.spec, download=False)
            except DatasetError as e:
                raise RunError(self.path, f"its dataset cannot be loaded ({e})") from None
        return self._data

    def _images(self, images, what="images"):
        if not torch.is_tensor(images):
            raise TypeError(f"{what} must be a torch tensor [N, C, H, W], got {type(images).__name__}")
        if images.dtype == torch.uint8:
            images = to_float(images)
        elif not images.is_floating_point():
            raise TypeError(f"{what} must be float in [-1, 1] or uint8, got {images.dtype}")
        c, s = self.spec.data.n_channels, self.spec.data.decoded_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (c, s, s):
            raise ValueError(f"{what} of shape {tuple(images.shape)} do not fit this run: it takes [N, {c}, {s}, {s}] "
                             f"({c} channel{'s' if c != 1 else ''}, {s} px)")
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
        [k, B, C, ...]); weights [k] (one mix for all), [B, k] (per example) or [B, k, C] (per channel),
        non-negative and summing to 1 over k (as every mixer's do; other weights are refused, not rescaled)."""
        codes = torch.stack(list(codes)) if not torch.is_tensor(codes) else codes
        k, b, c = codes.shape[:3]
        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        if tuple(w.shape) not in ((k,), (b, k), (b, k, c)):
            raise ValueError(f"weights of shape {tuple(w.shape)} do not fit {k} sources of {b} codes "
                             f"with {c} channels: use [k], [B, k] or [B, k, C]")
        w = w.view(1, k, 1) if w.dim() == 1 else w.view(b, k, 1) if w.dim() == 2 else w
        if (w < 0).any() or not torch.allclose(w.sum(1), torch.ones(()), atol=1e-5):
            raise ValueError("mix weights must be >= 0 and sum to 1 over the k sources (a convex mix, as training "
                             f"draws); these sum to {w.sum(1).min().item():.4g}..{w.sum(1).max().item():.4g}")
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
        a, b = self._images(a, "a"), self._images(b, "b")
        if len(a) != len(b):
            raise ValueError(f"interpolate needs as many images in a as in b (pairs), got {len(a)} and {len(b)}")
        rows = interpolate_pairs(self.model, a, b, self.spec.model.mixer, steps)
        return rows[:, 1:-1]  # without the two inputs interpolate_pairs puts at the ends


def checkpoint_names(folder):
    """The checkpoints a run folder holds, as load_run names them: 'last', then ckpt_<N> newest first."""
    return [p.stem if p.name != LAST else "last" for p in checkpoints_newest_first(folder)]


def _checkpoint_path(folder, checkpoint):
    """'last', 'ckpt_N', 'N' (or an int) name the run's own checkpoints; anything else is a file path."""
    text = str(checkpoint)
    if text in ("last", LAST):
        return folder / LAST
    number = text.removeprefix("ckpt_").removesuffix(".pt") if text.startswith("ckpt_") else text
    if number.isdigit():
        return epoch_path(folder, int(number))
    return Path(checkpoint)


def load_run(path, checkpoint="last", device="cpu"):
    """A Run from a run folder <save_path>/s<seed>/<name>/<trial>/; checkpoint: "last", an epoch (N or
    "ckpt_N": ckpt_<N>.pt of the run) or a checkpoint file of that run."""
    folder = Path(path)
    if not (folder / CONFIG).is_file():
        raise RunError(folder, "no cfg.yaml: not a run folder (pass <save_path>/s<seed>/<name>/<trial>)")
    ckpt = _checkpoint_path(folder, checkpoint)
    if not ckpt.is_file():
        held = checkpoint_names(folder)
        raise RunError(folder, f"no checkpoint {checkpoint!r} ({ckpt}); the run holds: "
                               f"{', '.join(held) if held else 'no checkpoints'}")
    device = torch.device(device)
    try:
        spec = read_spec(folder / CONFIG)
        # evaluation computes in float32, eagerly, on the device asked for, whatever the run trained with
        spec = replace(spec, train=replace(spec.train, amp=None, compile=None, device=device.type))
        model = build_model(spec, device)
        state = load_checkpoint(ckpt)
        restore(model, spec, ckpt, state, mode="load_run")
    except (ConfigError, CheckpointError) as e:
        raise RunError(folder, str(e)) from None
    model.eval()
    return Run(folder, spec, model, ckpt, state["epoch"], device)


__all__ = ["Run", "RunError", "checkpoint_names", "load_run"]
