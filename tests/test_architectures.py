"""The network presets pinned layer by layer: the reference's port under the reference's names
(arch_acai_kyle*), ACAI's layers under ACAI names (acai32, ...), ACAI as published (acai32_plain):
shapes, padding, slopes, which layers are spectrally normalised, and the statistics of the init."""
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from architectures import ARCHITECTURES, build_networks
from architectures.acai import InstanceNorm

REFERENCE_NAMES = ["arch_acai_kyle", "architectures/arch_acai_kyle.py", "arch_acai_kyle_256",
                   "architectures/arch_acai_kyle_256.py", "arch_acai_kyle_1024", "architectures/arch_acai_kyle_1024.py"]
ACAI_NAMES = ["acai32", "acai256", "acai1024"]


def convs(module):
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


def raw_weight(conv):
    """The weight as initialised: spectral norm keeps it as parametrizations.weight.original."""
    if parametrize.is_parametrized(conv, "weight"):
        return conv.parametrizations.weight.original
    return conv.weight


def shapes_through(seq, x):
    out = []
    for layer in seq:
        x = layer(x)
        out.append(tuple(x.shape[1:]))
    return out


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_networks_are_the_reference_port(name):
    torch.manual_seed(0)
    g, d = build_networks(name, 1)
    latent = ARCHITECTURES[name.split("/")[-1].removesuffix(".py")].latent
    first = g.encoder[0]
    assert (first.kernel_size, first.padding) == ((1, 1), (1, 1))
    with torch.no_grad():
        enc = shapes_through(g.encoder, torch.randn(2, 1, 32, 32))
        assert enc[0] == (16, 34, 34)  # the padded 1x1 convolution grows 32 px to 34 px
        pooled = [s for layer, s in zip(g.encoder, enc) if isinstance(layer, nn.AvgPool2d)]
        assert pooled == [(16, 17, 17), (32, 8, 8), (64, 4, 4)]
        assert enc[-1] == (latent, 4, 4)
        assert g.decode(torch.randn(2, latent, 4, 4)).shape == (2, 1, 32, 32)
        disc = shapes_through(d.net, torch.randn(2, 1, 32, 32))
        assert disc[0] == (16, 34, 34) and disc[-1] == (latent, 4, 4)
    for net in (g, d):
        slopes = {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)}
        assert slopes == {0.01}  # PyTorch's default, as the reference's nn.LeakyReLU()
    # generator: every 3x3 conv but the last of each half is followed by instance norm, and keeps its bias
    for half in (g.encoder, g.decoder):
        layers = list(half)
        for i, layer in enumerate(layers[:-1]):
            if isinstance(layer, nn.Conv2d) and layer.kernel_size == (3, 3):
                assert isinstance(layers[i + 1], InstanceNorm) and layer.bias is not None
    # discriminator: no norm; the first (1x1) conv plain, every other conv spectrally normalised
    d_convs = convs(d)
    assert not parametrize.is_parametrized(d_convs[0], "weight")
    assert all(parametrize.is_parametrized(c, "weight") for c in d_convs[1:])
    assert not any(isinstance(m, (nn.GroupNorm, nn.InstanceNorm2d)) for m in d.modules())
    assert not any(parametrize.is_parametrized(m) for m in g.modules())


@pytest.mark.parametrize("name", ACAI_NAMES)
def test_acai_networks_are_acais_layers(name):
    torch.manual_seed(0)
    g, d = build_networks(name, 1)
    assert g.encoder[0].padding == (0, 0)
    with torch.no_grad():
        enc = shapes_through(g.encoder, torch.randn(2, 1, 32, 32))
    assert enc[0] == (16, 32, 32) and enc[-1] == (ARCHITECTURES[name].latent, 4, 4)
    for net in (g, d):
        assert {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    # no bias right before an instance norm (it would be cancelled by it)
    for half in (g.encoder, g.decoder):
        layers = list(half)
        for i, layer in enumerate(layers[:-1]):
            if isinstance(layers[i + 1], InstanceNorm):
                assert layer.bias is None
    assert all(parametrize.is_parametrized(c, "weight") for c in convs(d))


def test_acai_as_published_has_no_instance_norm_and_no_spectral_norm():
    g, d = build_networks("acai32_plain", 1)
    assert not any(isinstance(m, (nn.GroupNorm, nn.InstanceNorm2d)) for m in g.modules())
    assert not any(parametrize.is_parametrized(m) for m in (*g.modules(), *d.modules()))
    assert all(c.bias is not None for c in convs(g))
    assert {m.negative_slope for m in g.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    with torch.no_grad():
        assert g(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32) and d(torch.randn(2, 1, 32, 32)).shape == (2,)


def test_64px_presets():
    for name, padding, slope in (("arch_acai_kyle_64", (1, 1), 0.01), ("acai64", (0, 0), 0.2)):
        g, d = build_networks(name, 1)
        assert g.encoder[0].padding == padding
        assert {m.negative_slope for m in g.modules() if isinstance(m, nn.LeakyReLU)} == {slope}
        with torch.no_grad():
            h = g.encode(torch.randn(2, 1, 64, 64))
            assert h.shape == (2, 2, 4, 4) and g.decode(h).shape == (2, 1, 64, 64)
            assert d(torch.randn(2, 1, 64, 64)).shape == (2,)


@pytest.mark.parametrize("name,size,code", [("acai64_512", 64, (32, 4, 4)), ("acai128_1024", 128, (64, 4, 4))])
def test_rgb_presets_for_image_files(name, size, code):
    """The presets chosen without --arch for 64 and 128 px image files: ACAI's layers, RGB, the code in --help."""
    g, d = build_networks(name, 3)
    assert ARCHITECTURES[name].image_size == size and ARCHITECTURES[name].code_size == math.prod(code)
    assert str(math.prod(code)) in ARCHITECTURES[name].description
    assert {m.negative_slope for m in g.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}
    with torch.no_grad():
        h = g.encode(torch.randn(2, 3, size, size))
        assert h.shape == (2, *code) and g.decode(h).shape == (2, 3, size, size)
        assert d(torch.randn(2, 3, size, size)).shape == (2,)


def test_reference_beta_vae_file_name_maps_to_its_preset():
    from architectures import resolve_arch
    assert resolve_arch("architectures/arch_dsprite_burgess-g_kyle_d_vae.py") == "dsprite_gd"


def _std_ok(weight, expected, tol=0.08):
    w = weight.detach().flatten()
    assert abs(w.mean().item()) < 4 * expected / math.sqrt(w.numel())
    assert w.std().item() == pytest.approx(expected, rel=tol)


def test_reference_init_statistics():
    """The reference's Initializer: std 1/sqrt(1.04 * prod(shape[:-1])) for PyTorch's [out, in, kh, kw]
    (out * in * kh, not the fan-in), instance-norm scales included (std 1/sqrt(1.04)), zero biases;
    the spectrally normalised discriminator convs keep PyTorch's default init, the plain first one
    gets the reference's."""
    torch.manual_seed(0)
    g, d = build_networks("arch_acai_kyle", 1)
    big = [c for c in convs(g) if c.weight.numel() >= 9000]
    assert big
    for c in big:
        o, i, kh, _ = c.weight.shape
        _std_ok(c.weight, 1 / math.sqrt(1.04 * o * i * kh))
        assert not c.bias.any()
    scales = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, InstanceNorm)])
    assert scales.numel() > 400
    _std_ok(scales, 1 / math.sqrt(1.04), tol=0.12)
    assert not torch.cat([m.bias.detach() for m in g.modules() if isinstance(m, InstanceNorm)]).any()
    d_convs = convs(d)
    first = d_convs[0]
    assert not first.bias.any()
    assert first.weight.std().item() == pytest.approx(1 / math.sqrt(1.04 * 16), rel=0.5)  # only 16 weights
    for c in d_convs[1:]:  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), so is the bias
        bound = 1 / math.sqrt(c.in_channels * 9)
        w = raw_weight(c)
        assert w.abs().max().item() <= bound and c.bias.abs().max().item() <= bound
        assert c.bias.abs().sum() > 0
        if w.numel() >= 9000:
            _std_ok(w, bound / math.sqrt(3))


def test_acai_init_statistics():
    """ACAI's initialiser: std 1/sqrt(1.04 * in * kh * kw) on every convolution, the discriminator's
    included (before spectral norm); zero biases; instance-norm scales at PyTorch's 1."""
    torch.manual_seed(0)
    g, d = build_networks("acai32", 1)
    for net in (g, d):
        for c in convs(net):
            w = raw_weight(c)
            if w.numel() >= 9000:
                _std_ok(w, 1 / math.sqrt(1.04 * c.in_channels * c.kernel_size[0] * c.kernel_size[1]))
            if c.bias is not None:
                assert not c.bias.any()
    assert all((m.weight == 1).all() for m in g.modules() if isinstance(m, InstanceNorm))


def test_help_says_which_is_which():
    from task_launcher import build_parser
    text = " ".join(build_parser().format_help().split())
    assert "arch_acai_kyle*: the reference's networks" in text
    assert "acai*: ACAI's layers" in text and "acai32_plain: ACAI as published" in text
    assert "arch_acai_kyle 32 px, bottleneck 4x4x2 = 32 (Tables 1-2)" in text  # each preset on its own line
