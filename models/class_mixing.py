"""Supervised class-conditioned mixing (the paper's second idea, enabled by --cls > 0).

A class mixer maps two codes h1, h2 [B, C, H, W] and a target label vector y_mix [B, K]
to a per-channel mask m in [0, 1]^C; h_mix = m * h1 + (1 - m) * h2. The target mixes the
two examples' one-hot labels with one Bernoulli(1/2) draw per class (as the reference), so
for labels a != b it is {a}, {b}, {a, b} or {} with equal probability. The decoded h_mix is
trained to look real to the discriminator and to be labelled y_mix by its auxiliary
classifier (sigmoid outputs, --cls_loss); a prior keeps about half the channels from each
source (--eps). Everything here is a pure function of its inputs plus one small network.
"""
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .losses import GAN_LOSSES

MIXER_HIDDEN = 128  # width of the class mixer's hidden layer


class ClassMixer(nn.Module):
    """(h1, h2, y_mix) -> (h_mix, mask [B, C]).

    Each source gets per-channel scores from its code gated by the target's embedding,
    score(h, y) = W_out leaky((W_h h) * (W_y y)), and m = sigmoid(score(h1, y) - score(h2, y)):
    a channel comes from the source that better carries the requested labels, and swapping
    the sources gives 1 - m, i.e. the same mix. With label_only the mask is
    sigmoid(W_out leaky(W_y y)), from y_mix alone (the reference's form, without its ReLU
    before the sigmoid that kept m in [0.5, 1))."""

    def __init__(self, code_shape, n_classes, label_only=False):
        super().__init__()
        self.label_only, self.n_classes = label_only, n_classes
        self.label = nn.Linear(n_classes, MIXER_HIDDEN)
        self.code = None if label_only else nn.Linear(code_shape[0] * code_shape[1] * code_shape[2], MIXER_HIDDEN)
        # a bias of the scores would cancel in their difference, so only label_only has one
        self.out = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(MIXER_HIDDEN, code_shape[0], bias=label_only))

    def mask(self, h1, h2, y_mix):
        u = self.label(y_mix)
        if self.label_only:
            return torch.sigmoid(self.out(u))
        return torch.sigmoid(self.out(self.code(h1.flatten(1)) * u) - self.out(self.code(h2.flatten(1)) * u))

    def forward(self, h1, h2, y_mix):
        m = self.mask(h1, h2, y_mix)
        return mask_mix(h1, h2, m), m


def mask_mix(h1, h2, m):
    """m [B, C] per channel: m * h1 + (1 - m) * h2 for codes [B, C, ...]."""
    m = m.reshape(m.shape + (1,) * (h1.dim() - 2))
    return m * h1 + (1 - m) * h2


def sample_label_mix(one_hot, partner, generator=None):
    """y_mix = k * y + (1 - k) * y[partner] with k ~ Bern(1/2) per example and class."""
    keep = torch.randint(0, 2, one_hot.shape, generator=generator, device=one_hot.device).to(one_hot.dtype)
    return keep * one_hot + (1 - keep) * one_hot[partner]


def pair_targets(y1, y2, n_classes):
    """The label vectors a Bernoulli label mix of y1 != y2 can request, as [P, 4, K]:
    {y1}, {y1, y2}, {y2}, {} (the order of the interp_sup grids)."""
    a, b = F.one_hot(y1, n_classes).float(), F.one_hot(y2, n_classes).float()
    return torch.stack([a, (a + b).clamp(max=1), b, torch.zeros_like(a)], 1)


def mask_prior(m):
    """(sum_c m_c - C / 2)^2 averaged over the batch: about half the channels from each source."""
    return ((m.sum(1) - m.shape[1] / 2) ** 2).mean()


@dataclass
class ClassMix:
    """One class-conditioned mix of a batch with a permutation of itself."""
    labels: torch.Tensor   # [B, K] one-hot labels of the batch (the auxiliary classifier's targets)
    partner: torch.Tensor  # [B] index of each example's mixing partner
    y_mix: torch.Tensor    # [B, K] requested label vector
    mask: torch.Tensor     # [B, C] in [0, 1]
    codes: torch.Tensor    # h_mix
    image: torch.Tensor    # decoded h_mix

    def detached(self):
        return ClassMix(*(getattr(self, f.name).detach() for f in fields(self)))


def class_mix(mixer, decode, codes, y, generator=None):
    """Mix each code with a random partner's so that the decode should carry y_mix."""
    labels = F.one_hot(y, mixer.n_classes).to(codes.dtype)
    partner = torch.randperm(codes.shape[0], generator=generator, device=codes.device)
    y_mix = sample_label_mix(labels, partner, generator)
    mixed, m = mixer(codes, codes[partner], y_mix)
    return ClassMix(labels, partner, y_mix, m, mixed, decode(mixed))


def generator_terms(cfg, cm, logits, class_logits, encode):
    """Loss terms of the generator and class mixer: fool the discriminator, be classified as
    y_mix, stay consistent under re-encoding (beta) and keep about half of each source (eps)."""
    gan, cls_loss = GAN_LOSSES[cfg.gan_loss], GAN_LOSSES[cfg.cls_loss]
    terms = {"g_class_mix": gan(logits, 1.0), "cls_mix": cls_loss(class_logits, cm.y_mix),
             "mask_prior": mask_prior(cm.mask)}
    total = terms["g_class_mix"] + cfg.cls * terms["cls_mix"] + cfg.eps * terms["mask_prior"]
    if cfg.beta > 0:
        terms["consist_class_mix"] = (encode(cm.image) - cm.codes).abs().mean()
        total = total + cfg.beta * terms["consist_class_mix"]
    return total, terms


def discriminator_terms(cfg, cm, mix_logits, real_class_logits):
    """Class-conditioned mixes are fakes; the auxiliary classifier learns the real labels."""
    return {"d_class_mix": GAN_LOSSES[cfg.gan_loss](mix_logits, 0.0),
            "d_cls": GAN_LOSSES[cfg.cls_loss](real_class_logits, cm.labels)}
