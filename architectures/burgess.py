"""The 64 px networks of the reference's dSprites experiments (`dsprite_gd`).

Generator: the encoder/decoder of Burgess et al. 2018 ("Understanding disentangling in beta-VAE"):
four 4x4 stride-2 convolutions, two hidden fully connected layers, a vector code; the decoder
mirrors it with transposed convolutions and a tanh output (images live in [-1, 1]). For a VAE the
encoder returns 2 * latent numbers per image: means, then log-variances.
Discriminator: the same convolutional trunk with spectral norm on every layer, one logit per image.
Weights are Kaiming-normal with zero biases, as the reference.
"""
import math

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def kaiming_init_(module):
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight)
            nn.init.zeros_(layer.bias)


def _n_down(image_size):
    n = int(round(math.log2(image_size / 4)))
    if n < 1 or 4 << n != image_size:
        raise ValueError(f"Burgess networks need a power-of-two image size >= 8, got {image_size}")
    return n


def _trunk(n_channels, width, hidden, image_size):
    """Image -> [B, hidden]: stride-2 4x4 convolutions down to 4x4, then two linear layers."""
    layers, c_in = [], n_channels
    for _ in range(_n_down(image_size)):
        layers += [nn.Conv2d(c_in, width, 4, 2, 1), nn.ReLU()]
        c_in = width
    return layers + [nn.Flatten(), nn.Linear(width * 16, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()]


class BurgessAutoEncoder(nn.Module):
    def __init__(self, image_size, n_channels, width, latent, code_outputs=1):
        """code_outputs: numbers per latent dimension the encoder returns (2 for a VAE's mean and log-variance)."""
        super().__init__()
        hidden = 8 * width  # 256 at the reference's width 32
        self.latent = latent
        self.encoder = nn.Sequential(*_trunk(n_channels, width, hidden, image_size),
                                     nn.Linear(hidden, code_outputs * latent))
        up = []
        for i in range(_n_down(image_size)):
            last = i == _n_down(image_size) - 1
            up += [nn.ConvTranspose2d(width, n_channels if last else width, 4, 2, 1), nn.Tanh() if last else nn.ReLU()]
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, width * 16), nn.ReLU(), nn.Unflatten(1, (width, 4, 4)), *up)
        kaiming_init_(self)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, h):
        return self.decoder(h)


class BurgessDiscriminator(nn.Module):
    """Returns logits of shape [B]."""

    def __init__(self, image_size, n_channels, width):
        super().__init__()
        net = nn.Sequential(*_trunk(n_channels, width, 8 * width, image_size), nn.Linear(8 * width, 1))
        kaiming_init_(net)  # before wrapping: spectral_norm reparametrises .weight
        for i, layer in enumerate(net):
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                net[i] = spectral_norm(layer)
        self.net = net

    def forward(self, x):
        return self.net(x).squeeze(1)
