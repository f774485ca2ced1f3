"""ACAI-style convolutional autoencoder and spectral-norm discriminator, in three styles.

The layout is that of Berthelot et al. (2019, "Understanding and Improving Interpolation in
Autoencoders via an Adversarial Regularizer"): a 1x1 convolution, then per scale two 3x3
convolutions and an average pooling (encoder) or nearest-neighbour upsampling (decoder), one
doubling of the width per scale. The AMR paper ported it to PyTorch with instance norm in the
generator and spectral norm in the discriminator; its port differs from ACAI in four places, and
its numbers were produced with the port. So both are kept, each under its own names
(architectures/__init__.py):

  REFERENCE (arch_acai_kyle*): the reference's port exactly (christopher-beckham/amr,
      architectures/arch_kyle.py): PyTorch's default leaky-ReLU slope 0.01; the first 1x1
      convolution padded by 1 (32 px grows to 34 px; the pooling floors 17 to 8, so the code is
      still 4x4); the discriminator's first convolution not spectrally normalised; the reference's
      initialiser (reference_init_) on the generator and on that first discriminator convolution,
      PyTorch's default init on the spectrally normalised ones; convolutions before instance norm
      keep their (zeroed, cancelled) bias.
  ACAI (acai32, acai64, acai256, acai1024): ACAI's layers and initialiser (slope 0.2, unpadded 1x1
      convolution, N(0, 1/sqrt(1.04 fan_in)) on every convolution, D included, before spectral
      norm) with the paper's instance norm and spectral norm on every discriminator convolution.
  ACAI_PLAIN (acai32_plain): ACAI's networks as published: as ACAI, without instance norm or
      spectral norm.
"""
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class Style:
    slope: float              # leaky-ReLU slope
    first_padding: int        # padding of the first 1x1 convolution (encoder and discriminator)
    init: str                 # "acai" (acai_init_) or "reference" (reference_init_)
    sn_first_conv: bool       # spectral norm on the discriminator's first 1x1 convolution too
    bias_before_norm: bool    # convolutions followed by instance norm keep a bias
    instance_norm: bool = True  # in the generator
    spectral_norm: bool = True  # in the discriminator


ACAI = Style(slope=0.2, first_padding=0, init="acai", sn_first_conv=True, bias_before_norm=False)
REFERENCE = Style(slope=0.01, first_padding=1, init="reference", sn_first_conv=False, bias_before_norm=True)
ACAI_PLAIN = replace(ACAI, instance_norm=False, spectral_norm=False)
STYLES = {"acai": ACAI, "reference": REFERENCE, "acai_plain": ACAI_PLAIN}

ACAI_INIT_SLOPE = 0.2  # the slope both initialisers assume (the reference kept ACAI's 0.2 with its 0.01 ReLUs)


def acai_init_(module: nn.Module, slope: float = ACAI_INIT_SLOPE) -> None:
    """ACAI's initialiser: N(0, 1/sqrt((1 + slope^2) * fan_in)) convolution weights, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt((1 + slope ** 2) * fan_in))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def reference_init_(layers, slope: float = ACAI_INIT_SLOPE) -> None:
    """The reference's initialiser (arch_kyle.Initializer): every layer in `layers` that has a
    weight gets N(0, 1/sqrt((1 + slope^2) * prod(weight.shape[:-1]))) and a zero bias. That product
    is ACAI's fan-in for TensorFlow's [kh, kw, in, out] layout, but for PyTorch's [out, in, kh, kw]
    it is out * in * kh; an instance norm's scale (shape [C]) gets std 1/sqrt(1 + slope^2). Layers
    wrapped in the reference's SpectralNorm module exposed no weight and kept PyTorch's default
    init, so the caller passes only the unwrapped ones."""
    for layer in layers:
        weight = getattr(layer, "weight", None)
        if isinstance(weight, torch.Tensor):
            std = 1.0 / math.sqrt((1 + slope ** 2) * float(np.prod(weight.shape[:-1])))
            nn.init.normal_(weight, std=std)
        if isinstance(getattr(layer, "bias", None), torch.Tensor):
            nn.init.zeros_(layer.bias)


class InstanceNorm(nn.GroupNorm):
    """Affine instance norm (per-example, per-channel statistics over H x W, eps 1e-5), as
    nn.InstanceNorm2d(affine=True) computes it and with the same state-dict keys. It is written
    as a group norm with one group per channel because that kernel works in channels-last
    layout directly, where InstanceNorm2d copies its input to NCHW and back (the CPU trains
    channels-last: runs.build.accelerate)."""

    def __init__(self, channels):
        super().__init__(channels, channels, eps=1e-5, affine=True)


def _conv_block(c_in, c_out, instance_norm, style):
    # a bias right before an affine instance norm is cancelled by it; only the reference keeps it
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=style.bias_before_norm or not instance_norm)]
    if instance_norm:
        layers.append(InstanceNorm(c_out))
    # in place: neither the norm's nor the convolution's backward needs the tensor it overwrites
    layers.append(nn.LeakyReLU(style.slope, inplace=True))
    return layers


def encoder_layers(scales, depth, latent, colors, instance_norm, style=ACAI):
    """Image [B, colors, W, W] -> code [B, latent, W / 2**scales, W / 2**scales]."""
    layers = [nn.Conv2d(colors, depth, 1, padding=style.first_padding)]
    width_in = depth
    for scale in range(scales):
        width = depth << scale
        layers += _conv_block(width_in, width, instance_norm, style)
        layers += _conv_block(width, width, instance_norm, style)
        layers.append(nn.AvgPool2d(2))
        width_in = width
    layers += _conv_block(width_in, depth << scales, instance_norm, style)
    layers.append(nn.Conv2d(depth << scales, latent, 3, padding=1))
    return layers


def decoder_layers(scales, depth, latent, colors, instance_norm, style=ACAI):
    """Code [B, latent, w, w] -> image [B, colors, w * 2**scales, ...] (no output squashing, as ACAI)."""
    layers = []
    width_in = latent
    for scale in range(scales - 1, -1, -1):
        width = depth << scale
        layers += _conv_block(width_in, width, instance_norm, style)
        layers += _conv_block(width, width, instance_norm, style)
        layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        width_in = width
    layers += _conv_block(width_in, depth, instance_norm, style)
    layers.append(nn.Conv2d(depth, colors, 3, padding=1))
    return layers


def _scales(image_size, latent_width):
    return int(round(math.log2(image_size // latent_width)))


class AutoEncoder(nn.Module):
    """The generator: encoder and decoder (with affine instance norm unless the style has none)."""

    def __init__(self, image_size, latent_width, n_channels, depth, latent, style=ACAI):
        super().__init__()
        scales, norm = _scales(image_size, latent_width), style.instance_norm
        self.encoder = nn.Sequential(*encoder_layers(scales, depth, latent, n_channels, norm, style))
        self.decoder = nn.Sequential(*decoder_layers(scales, depth, latent, n_channels, norm, style))
        self.code_shape = (latent, latent_width, latent_width)
        if style.init == "reference":
            reference_init_(self.encoder)
            reference_init_(self.decoder)
        else:
            acai_init_(self)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        return self.decode(self.encode(x))


class Discriminator(nn.Module):
    """ACAI's critic: an encoder without normalisation whose output is averaged to one logit per
    image; its convolutions spectrally normalised as the style says. With n_classes > 0 it also
    has an auxiliary classifier: a linear layer on the features before the last convolution
    (only then does the module hold a `classifier`, so other state dicts are unchanged)."""

    def __init__(self, image_size, latent_width, n_channels, depth, latent, n_classes=0, style=ACAI):
        super().__init__()
        scales = _scales(image_size, latent_width)
        net = nn.Sequential(*encoder_layers(scales, depth, latent, n_channels, instance_norm=False, style=style))
        wrap = [style.spectral_norm and isinstance(layer, nn.Conv2d) and (i > 0 or style.sn_first_conv)
                for i, layer in enumerate(net)]
        if style.init == "reference":
            reference_init_([layer for layer, w in zip(net, wrap) if not w])
        else:
            acai_init_(net)  # initialise before wrapping: spectral_norm reparametrises .weight
        for i, w in enumerate(wrap):
            if w:
                net[i] = spectral_norm(net[i])
        self.net = net
        if n_classes > 0:
            self.classifier = nn.Linear((depth << scales) * latent_width ** 2, n_classes)

    def forward(self, x):
        """Returns logits of shape [B] (apply sigmoid for the reference's probability)."""
        return self.net(x).flatten(1).mean(1)

    def with_classes(self, x):
        """(logits [B], auxiliary class logits [B, n_classes]) from one pass."""
        features = self.net[:-1](x)
        return self.net[-1](features).flatten(1).mean(1), self.classifier(features.flatten(1))
