"""What every model the launcher trains shares: its device, its own random stream (mixing draws
or VAE noise), mixed precision (bf16 autocast, or fp16 with a gradient scaler per optimiser), one
Adam per parameter group and the optimisation step, the online probe, eval-mode encoding, and the
checkpoint state, which opens on any device. A subclass adds its networks, losses and steps, and
overrides parameter_groups() / _encode() where they differ."""
import contextlib

import torch
import torch.nn.functional as F
from torch import nn

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# Adam settings chosen by the device, not by the run: a checkpoint's are replaced by this process's
_DEVICE_OPTIONS = ("fused", "foreach", "capturable")


@contextlib.contextmanager
def eval_mode(module):
    """Eval mode inside (spectral norm then runs no power iteration), the caller's mode after."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def stream_seed(seed, step):
    """The seed of a random stream restarted at optimisation step `step` of a run with `seed` (when a
    saved stream cannot be restored: another kind of device wrote it)."""
    return seed * 1_000_003 + step


class TrainableModel(nn.Module):
    def __init__(self, generator, probe=None, seed=0):
        super().__init__()
        self.generator, self.probe, self.seed = generator, probe, seed
        self.random_stream = None  # torch.Generator on the model's device, made on first use
        self.amp_dtype = None      # autocast dtype of forward computations (--amp); weights and optimisers stay fp32
        self.scalers = {}          # fp16: a GradScaler per optimiser
        self.sync_gradients = None  # under torchrun: averages an optimiser's gradients over the ranks
        self.opt_g = self.opt_d = self.opt_probe = None

    # ---- set-up -------------------------------------------------------------------------
    @property
    def device(self):
        return next(self.generator.parameters()).device

    def rng(self):
        if self.random_stream is None or self.random_stream.device != self.device:
            self.random_stream = torch.Generator(self.device).manual_seed(self.seed)
        return self.random_stream

    def set_precision(self, amp):
        """amp: None (float32), "bf16" (autocast) or "fp16" (autocast and a GradScaler per optimiser, so that
        small float16 gradients do not underflow)."""
        self.amp_dtype = None if amp is None else AMP_DTYPES[amp]
        self.scalers = {name: torch.amp.GradScaler(self.device.type) for name in self.optimizers()} \
            if amp == "fp16" else {}

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                              enabled=self.amp_dtype is not None)

    def parameter_groups(self):
        """{"g": [...], optionally "d": [...]}: one optimiser each (the probe's is added apart)."""
        return {"g": list(self.generator.parameters())}

    def configure_optimizers(self, lr, betas, weight_decay, probe_weight_decay=None):
        kw = dict(lr=lr, betas=betas, weight_decay=weight_decay)
        if self.device.type == "cuda":
            kw["fused"] = True
        for name, params in self.parameter_groups().items():
            setattr(self, f"opt_{name}", torch.optim.Adam(params, **kw))
        if self.probe is not None:
            pkw = dict(kw, weight_decay=weight_decay if probe_weight_decay is None else probe_weight_decay)
            self.opt_probe = torch.optim.Adam(self.probe.parameters(), **pkw)

    def optimizers(self):
        opts = {"g": self.opt_g, "d": self.opt_d, "probe": self.opt_probe}
        return {name: o for name, o in opts.items() if o is not None}

    def compile_networks(self, mode="default"):
        """torch.compile the encoder, decoder and discriminator in place (state-dict keys, and so checkpoints,
        are unchanged). Callers keep evaluation out of the compiled path (torch.compiler.set_stance)."""
        nets = [*self.generator.children(), *filter(None, [getattr(self, "discriminator", None)])]
        for net in nets:
            net.compile(mode=None if mode == "default" else mode)

    # ---- shared pieces ------------------------------------------------------------------
    def step(self, name, loss):
        """Back-propagate `loss` and step optimiser `name` (scaled under fp16; gradients averaged over the ranks
        under torchrun before the scaler looks for infinities, so every rank skips or steps alike)."""
        opt, scaler = getattr(self, f"opt_{name}"), self.scalers.get(name)
        opt.zero_grad(set_to_none=True)
        (loss if scaler is None else scaler.scale(loss)).backward()
        if self.sync_gradients is not None:
            self.sync_gradients(opt)
        if scaler is None:
            opt.step()
        else:
            scaler.step(opt)
            scaler.update()

    def probe_outputs(self, codes, y):
        logits = self.probe(codes)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # amp: the loss in float32
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()

    @torch.no_grad()
    def encode(self, x):
        """The codes probes, interpolations and metrics see, computed in eval mode."""
        with eval_mode(self):
            return self._encode(x)

    def _encode(self, x):
        return self.generator.encode(x)

    # ---- checkpoint state ----------------------------------------------------------------
    def training_state(self):
        state = {"model": self.state_dict(),
                 "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
                 "mix_rng": self.rng().get_state(),  # the launcher's name for a model's random stream
                 "device_type": self.device.type}
        if self.scalers:
            state["scalers"] = {k: s.state_dict() for k, s in self.scalers.items()}
        return state

    def load_training_state(self, state, step=0):
        """Load weights, optimisers (their device options are this device's: a CUDA run's fused Adam loads
        on a CPU and back) and the random stream; returns a one-line note when the stream could not be
        restored (written on another kind of device) and was restarted from (seed, step) instead."""
        self.load_state_dict(state["model"])
        for k, o in self.optimizers().items():
            o.load_state_dict(self._for_this_device(state["optimizers"][k], o))
        for k, s in self.scalers.items():
            if k in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][k])
        return self.restore_random_stream(state["mix_rng"], step)

    @staticmethod
    def _for_this_device(saved, optimizer):
        ours = optimizer.param_groups[0]
        groups = [{**g, **{k: ours[k] for k in _DEVICE_OPTIONS if k in ours}} for g in saved["param_groups"]]
        return {**saved, "param_groups": groups}

    def restore_random_stream(self, saved, step=0):
        """Set the random stream to a saved state (generator states are CPU byte tensors), or, when another
        kind of device wrote it (a CUDA state is 16 bytes, a CPU one 5,056), restart it from (seed, step)."""
        saved = saved.cpu()
        gen = self.rng()
        if saved.numel() == gen.get_state().numel():
            gen.set_state(saved)
            return None
        gen.manual_seed(stream_seed(self.seed, step))
        return (f"note: the checkpoint's random stream was written on another kind of device ({saved.numel()} "
                f"bytes); restarted on {self.device.type} from (seed {self.seed}, step {step}), so mixing draws "
                f"differ from an uninterrupted run from here on")


__all__ = ["AMP_DTYPES", "TrainableModel", "eval_mode", "stream_seed"]
