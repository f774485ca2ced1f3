"""Mixing functions: small pure functions shared by training and interpolation.

Every mixer is expressed as weights `w` of shape [B, k, C] over k sources and C
bottleneck channels, non-negative and summing to 1 over k; the mixed code is
h_mix[b, c] = sum_i w[b, i, c] * h[perm_i[b], c], where perm_0 is the identity.

Random mixers (k = 2 reduces to the paper's definitions exactly in distribution):
  mixup   one Dirichlet(1, ..., 1) draw per example (k = 2: alpha ~ U(0, 1))
  mixup2  one Dirichlet draw per example and channel (k = 2: alpha ~ U(0, 1) per channel)
  fm      Bernoulli mixup: each channel's source drawn uniformly per example
          (k = 2: m ~ Bern(p), p ~ U(0, 1) per element, i.e. Bern(1/2))
  fm2     one p ~ Dirichlet per batch, each channel's source ~ Categorical(p)
          (k = 2: p ~ U(0, 1) per batch, m ~ Bern(p) per channel)
A Bernoulli mix selects exactly one source per channel and the k sources are
summed, so no source overwrites another (the reference's k-way Bernoulli did).
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


def _dirichlet_ones(shape, k, generator, device):
    """Dirichlet(1, ..., 1) samples along a new last axis of size k (normalised exponentials)."""
    u = torch.rand(*shape, k, generator=generator, device=device)
    e = -torch.log1p(-u)  # Exp(1); log1p(-u) avoids log(0) since u < 1
    return e / e.sum(-1, keepdim=True)


def _one_hot_sources(src, k):
    """[B, C] source indices -> [B, k, C] one-hot weights."""
    return torch.nn.functional.one_hot(src, k).transpose(1, 2).float()


def _mixup(k, batch, channels, generator, device):
    return _dirichlet_ones((batch,), k, generator, device).unsqueeze(-1).expand(batch, k, channels)


def _mixup2(k, batch, channels, generator, device):
    return _dirichlet_ones((batch, channels), k, generator, device).transpose(1, 2)


def _fm(k, batch, channels, generator, device):
    return _one_hot_sources(torch.randint(0, k, (batch, channels), generator=generator, device=device), k)


def _fm2(k, batch, channels, generator, device):
    p = _dirichlet_ones((), k, generator, device)
    src = torch.multinomial(p, batch * channels, replacement=True, generator=generator)
    return _one_hot_sources(src.view(batch, channels), k)


@dataclass(frozen=True)
class Mixer:
    description: str      # one line, for --help
    sample: Callable      # (k, batch, channels, generator, device) -> weights [batch, k, channels]
    bernoulli: bool = False  # one source per channel: interpolations switch channels one by one


# --mixer names. A new mixer is one entry (docs/extending.md).
MIXERS = {
    "mixup": Mixer("one weight vector per example (k=2: alpha ~ U(0,1))", _mixup),
    "mixup2": Mixer("one weight vector per example and channel", _mixup2),
    "fm": Mixer("Bernoulli mixup: each channel from a uniformly chosen source", _fm, bernoulli=True),
    "fm2": Mixer("Bernoulli mixup with one p per batch, channels ~ Bern(p)", _fm2, bernoulli=True),
}


def sample_mix_weights(mixer, k, batch, channels, generator=None, device=None):
    """Random weights [batch, k, channels] for `mixer` (see module docstring)."""
    if mixer not in MIXERS:
        raise ValueError(f"unknown mixer '{mixer}'; choose one of: {', '.join(MIXERS)}")
    return MIXERS[mixer].sample(k, batch, channels, generator, device)


def sample_partners(batch, k, generator=None, device=None):
    """[k, batch] indices: row 0 the identity, rows 1.. independent random permutations."""
    rows = [torch.arange(batch, device=device)]
    rows += [torch.randperm(batch, generator=generator, device=device) for _ in range(k - 1)]
    return torch.stack(rows)


def mix_codes(h, perms, weights):
    """Mix codes h [B, C, ...] from sources h[perms[i]] with weights [B, k, C]."""
    sources = h[perms]  # [k, B, C, ...]
    w = weights.transpose(0, 1)  # [k, B, C]
    w = w.reshape(w.shape + (1,) * (h.dim() - 2))
    return (w * sources).sum(0)


def fold_weights(weights):
    """ACAI's alpha -> 0.5 - |alpha - 0.5| for k = 2, so the first source weighs at most 1/2."""
    a = 0.5 - (weights[:, :1] - 0.5).abs()
    return torch.cat([a, 1 - a], 1)


def interpolation_weights(mixer, steps, channels):
    """Deterministic k = 2 weights [steps >= 2, 2, channels] going from source 0 to source 1.

    Continuous mixers use alpha = 1 - t for t in linspace(0, 1, steps). Bernoulli
    mixers take the first floor(alpha * C) channels of a fixed channel order
    (RandomState(0) permutation) from source 0 and the rest from source 1.
    """
    alphas = torch.linspace(1, 0, steps)
    w0 = alphas[:, None].expand(steps, channels).clone()
    if MIXERS[mixer].bernoulli:
        order = torch.from_numpy(np.random.RandomState(0).permutation(channels))
        w0.zero_()
        for s in range(steps):
            n_first = channels * (steps - 1 - s) // (steps - 1)  # floor(alpha * C), in exact integers
            w0[s, order[:n_first]] = 1.0
    return torch.stack([w0, 1 - w0], 1)


def triangle_tour_weights(steps, channels):
    """Deterministic k = 3 weights [6 * steps, 3, channels]: a closed tour of the triangle of mixing
    weights, corner 0 -> centre -> corner 1 -> centre -> corner 2 -> centre -> (corner 0), `steps`
    frames from a corner to the centre and again to the next corner. Each corner-to-corner leg is a
    quadratic Bezier curve whose middle is the centre (control point 2 * centre - (a + b) / 2, inside
    the triangle), so no stretch is retraced and every frame off the corners mixes all three codes.
    A leg's end is the next leg's start, so it is left out and the tour loops without a repeat."""
    corner, centre = torch.eye(3), torch.full((3,), 1 / 3)
    t = (torch.arange(2 * steps, dtype=torch.float32) / (2 * steps))[:, None]
    legs = []
    for i in range(3):
        a, b = corner[i], corner[(i + 1) % 3]
        control = 2 * centre - (a + b) / 2
        legs.append((1 - t) ** 2 * a + 2 * t * (1 - t) * control + t ** 2 * b)
    return torch.cat(legs)[:, :, None].expand(-1, 3, channels).clone()
