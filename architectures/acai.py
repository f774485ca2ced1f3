"""ACAI-style convolutional autoencoder and spectral-norm discriminator.

Follows the networks of Berthelot et al. (2019, "Understanding and Improving
Interpolation in Autoencoders via an Adversarial Regularizer") as ported by the
AMR paper: a stack of 3x3 convolutions with average pooling (encoder) or
nearest-neighbour upsampling (decoder), one doubling of the width per scale.

Two port bugs of the reference code are fixed here (see README, "Differences
from the reference"): the first 1x1 convolution uses no padding (the reference
padded it, growing 32 px to 34 px), and the initialiser uses the real fan-in of
a PyTorch weight and is applied to convolutions only.
"""
import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LEAKY_SLOPE = 0.2  # ACAI's leaky-ReLU slope; also the slope its initialiser assumes


def acai_init_(module: nn.Module, slope: float = LEAKY_SLOPE) -> None:
    """ACAI's initialiser: N(0, 1/sqrt((1 + slope^2) * fan_in)) weights, zero biases."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            fan_in = layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            nn.init.normal_(layer.weight, std=1.0 / math.sqrt((1 + slope ** 2) * fan_in))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class InstanceNorm(nn.GroupNorm):
    """Affine instance norm (per-example, per-channel statistics over H x W, eps 1e-5), as
    nn.InstanceNorm2d(affine=True) computes it and with the same state-dict keys. It is written
    as a group norm with one group per channel because that kernel works in channels-last
    layout directly, where InstanceNorm2d copies its input to NCHW and back (the CPU trains
    channels-last: task_launcher.accelerate)."""

    def __init__(self, channels):
        super().__init__(channels, channels, eps=1e-5, affine=True)


def _conv_block(c_in, c_out, instance_norm):
    # a bias right before an affine instance norm is cancelled by it, so it is left out
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not instance_norm)]
    if instance_norm:
        layers.append(InstanceNorm(c_out))
    # in place: neither the norm's nor the convolution's backward needs the tensor it overwrites
    layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
    return layers


def encoder_layers(scales, depth, latent, colors, instance_norm):
    """Image [B, colors, W, W] -> code [B, latent, W / 2**scales, W / 2**scales]."""
    layers = [nn.Conv2d(colors, depth, 1)]
    width_in = depth
    for scale in range(scales):
        width = depth << scale
        layers += _conv_block(width_in, width, instance_norm)
        layers += _conv_block(width, width, instance_norm)
        layers.append(nn.AvgPool2d(2))
        width_in = width
    layers += _conv_block(width_in, depth << scales, instance_norm)
    layers.append(nn.Conv2d(depth << scales, latent, 3, padding=1))
    return layers


def decoder_layers(scales, depth, latent, colors, instance_norm):
    """Code [B, latent, w, w] -> image [B, colors, w * 2**scales, ...] (no output squashing, as ACAI)."""
    layers = []
    width_in = latent
    for scale in range(scales - 1, -1, -1):
        width = depth << scale
        layers += _conv_block(width_in, width, instance_norm)
        layers += _conv_block(width, width, instance_norm)
        layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        width_in = width
    layers += _conv_block(width_in, depth, instance_norm)
    layers.append(nn.Conv2d(depth, colors, 3, padding=1))
    return layers


class AutoEncoder(nn.Module):
    """The generator: encoder and decoder with affine instance norm."""

    def __init__(self, image_size, latent_width, n_channels, depth, latent):
        super().__init__()
        scales = int(round(math.log2(image_size // latent_width)))
        self.encoder = nn.Sequential(*encoder_layers(scales, depth, latent, n_channels, True))
        self.decoder = nn.Sequential(*decoder_layers(scales, depth, latent, n_channels, True))
        self.code_shape = (latent, latent_width, latent_width)
        acai_init_(self)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)

    def forward(self, x):
        return self.decode(self.encode(x))


class Discriminator(nn.Module):
    """ACAI's critic: an encoder without normalisation, every convolution spectrally
    normalised, whose output is averaged to one logit per image. With n_classes > 0 it also
    has an auxiliary classifier: a linear layer on the features before the last convolution
    (only then does the module hold a `classifier`, so other state dicts are unchanged)."""

    def __init__(self, image_size, latent_width, n_channels, depth, latent, n_classes=0):
        super().__init__()
        scales = int(round(math.log2(image_size // latent_width)))
        layers = encoder_layers(scales, depth, latent, n_channels, instance_norm=False)
        net = nn.Sequential(*layers)
        acai_init_(net)  # initialise before wrapping: spectral_norm reparametrises .weight
        for i, layer in enumerate(net):
            if isinstance(layer, nn.Conv2d):
                net[i] = spectral_norm(layer)
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
