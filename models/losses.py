"""Loss functions selected by name from `--recon_loss` and `--gan_loss`."""
import torch
import torch.nn.functional as F


def _to_unit(x):
    """Images live in [-1, 1]; BCE wants [0, 1] (decoder outputs outside it are clamped)."""
    return (x * 0.5 + 0.5).clamp(0.0, 1.0)


def _bce(out, x, reduction="mean"):
    """Binary cross-entropy on probabilities, in float32 outside autocast: CUDA autocast refuses it (the
    logit form does not apply: decoder outputs are images, not logits), so --amp computes it here."""
    dtype = torch.promote_types(out.dtype, torch.float32)  # float16/bfloat16 -> float32; float64 stays
    with torch.autocast(out.device.type, enabled=False):
        return F.binary_cross_entropy(_to_unit(out.to(dtype)), _to_unit(x.to(dtype)), reduction=reduction)


RECON_LOSSES = {
    "l1": lambda out, x: (out - x).abs().mean(),
    "l2": lambda out, x: ((out - x) ** 2).mean(),
    "bce": lambda out, x: _bce(out, x),
    # summed over pixels, averaged over the batch (the reference's dSprites choice)
    "bce_sum": lambda out, x: _bce(out, x, "sum") / x.shape[0],
}


def _as_target(logits, target):
    return torch.full_like(logits, float(target)) if not torch.is_tensor(target) else target


# GAN losses take discriminator logits and a target probability (scalar or tensor).
GAN_LOSSES = {
    "bce": lambda logits, t: F.binary_cross_entropy_with_logits(logits, _as_target(logits, t)),
    "mse": lambda logits, t: ((torch.sigmoid(logits) - _as_target(logits, t)) ** 2).mean(),
}
