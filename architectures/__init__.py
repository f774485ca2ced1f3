"""Registry of network presets, looked up by name from `--arch`."""
from dataclasses import dataclass, replace

from .acai import STYLES, AutoEncoder, Discriminator
from .burgess import BurgessAutoEncoder, BurgessDiscriminator
from .registry import RegistryError, resolve_name


@dataclass(frozen=True)
class ArchPreset:
    description: str
    image_size: int     # input width and height in pixels
    latent_width: int   # spatial width of the bottleneck
    latent: int         # bottleneck channels
    depth: int = 16     # generator base width (overridden by --ngf > 0)
    disc_depth: int = 16  # discriminator base width (overridden by --ndf > 0)
    family: str = "acai"  # "acai": acai.py (spatial code); "burgess": burgess.py (vector code, latent_width 1)
    style: str = "acai"   # acai family: a key of acai.STYLES (reference port, ACAI's layers, ACAI as published)

    @property
    def code_size(self) -> int:
        return self.latent * self.latent_width ** 2


_REF = ("the reference's networks (its port of ACAI: leaky-ReLU slope 0.01, first 1x1 conv padded so 32 px "
        "grows to 34, plain first D conv, its initialiser)")
_ACAI = ("ACAI's layers (slope 0.2, unpadded 1x1 conv, ACAI's init) with instance norm in G, spectral norm on "
         "every D conv")
ARCHITECTURES = {
    "arch_acai_kyle": ArchPreset(f"{_REF}; 32 px, bottleneck 4x4x2 = 32 (Tables 1-2)", 32, 4, 2, style="reference"),
    "arch_acai_kyle_256": ArchPreset(f"{_REF}; 32 px, bottleneck 4x4x16 = 256 (Table 3)", 32, 4, 16,
                                     style="reference"),
    "arch_acai_kyle_1024": ArchPreset(f"{_REF}; 32 px, bottleneck 4x4x64 = 1024 (Table 3)", 32, 4, 64,
                                      style="reference"),
    "arch_acai_kyle_64": ArchPreset("the reference's layers with one more scale (not in the reference); 64 px, "
                                    "bottleneck 4x4x2 = 32", 64, 4, 2, style="reference"),
    "acai32": ArchPreset(f"{_ACAI}; 32 px, bottleneck 4x4x2 = 32", 32, 4, 2),
    "acai256": ArchPreset(f"{_ACAI}; 32 px, bottleneck 4x4x16 = 256", 32, 4, 16),
    "acai1024": ArchPreset(f"{_ACAI}; 32 px, bottleneck 4x4x64 = 1024", 32, 4, 64),
    "acai64": ArchPreset(f"{_ACAI}; 64 px, bottleneck 4x4x2 = 32", 64, 4, 2),
    "acai64_512": ArchPreset(f"{_ACAI}; 64 px, bottleneck 4x4x32 = 512 (default for 64 px image files)", 64, 4, 32),
    "acai128_1024": ArchPreset(f"{_ACAI}; 128 px, bottleneck 4x4x64 = 1024 (default for 128 px image files)",
                               128, 4, 64),
    "acai_lines": ArchPreset(f"{_ACAI}; 32 px, bottleneck 2x2x16 = 64: ACAI's network for its lines benchmark "
                             "(latent_width 2, depth 16, latent 16)", 32, 2, 16),
    "acai32_plain": ArchPreset("ACAI's networks as published (its layers and init, no instance norm, no spectral "
                               "norm); 32 px, bottleneck 4x4x2 = 32 (--latent_dim 16: 256)", 32, 4, 2,
                               style="acai_plain"),
    "dsprite_gd": ArchPreset("64 px Burgess et al. encoder/decoder with a code of 10 and a spectral-norm "
                             "discriminator: the reference's dSprites networks (Table 4)", 64, 1, 10, 32, 32,
                             family="burgess"),
}


# The reference's other file names for networks registered above.
ARCH_ALIASES = {"arch_dsprite_burgess-g_kyle_d_vae": "dsprite_gd"}  # its beta-VAE: the same encoder and decoder


def resolve_arch(spec: str) -> str:
    name = resolve_name(spec, {**ARCHITECTURES, **ARCH_ALIASES}, "--arch", "architectures")
    return ARCH_ALIASES.get(name, name)


def build_networks(arch: str, n_channels: int, ngf: int = 0, ndf: int = 0, n_classes: int = 0, latent: int = 0,
                   vae: bool = False):
    """Returns (generator, discriminator) for a registered preset; ngf/ndf/latent <= 0 keep the preset's
    widths and bottleneck channels; n_classes > 0 gives the discriminator an auxiliary classifier.
    vae (Burgess presets): the encoder also returns log-variances, and no discriminator is built (None)."""
    p = ARCHITECTURES[resolve_arch(arch)]
    p = replace(p, latent=latent if latent > 0 else p.latent)
    if p.family == "burgess":
        if n_classes > 0:
            raise ValueError(f"--arch {arch}: its discriminator has no auxiliary classifier (needed by --cls > 0)")
        gen = BurgessAutoEncoder(p.image_size, n_channels, ngf if ngf > 0 else p.depth, p.latent, 2 if vae else 1)
        return gen, None if vae else BurgessDiscriminator(p.image_size, n_channels, ndf if ndf > 0 else p.disc_depth)
    if vae:
        raise ValueError(f"--arch {arch}: a VAE needs a preset with a vector code (dsprite_gd)")
    style = STYLES[p.style]
    gen = AutoEncoder(p.image_size, p.latent_width, n_channels, ngf if ngf > 0 else p.depth, p.latent, style)
    disc = Discriminator(p.image_size, p.latent_width, n_channels, ndf if ndf > 0 else p.disc_depth, p.latent,
                         n_classes, style)
    return gen, disc


__all__ = ["ARCHITECTURES", "ArchPreset", "RegistryError", "build_networks", "resolve_arch"]
