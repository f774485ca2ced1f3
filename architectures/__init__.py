"""Registry of network presets, looked up by name from `--arch`."""
from dataclasses import dataclass

from .acai import AutoEncoder, Discriminator
from .registry import RegistryError, resolve_name


@dataclass(frozen=True)
class ArchPreset:
    description: str
    image_size: int     # input width and height in pixels
    latent_width: int   # spatial width of the bottleneck
    latent: int         # bottleneck channels
    depth: int = 16     # generator base width (overridden by --ngf > 0)
    disc_depth: int = 16  # discriminator base width (overridden by --ndf > 0)

    @property
    def code_size(self) -> int:
        return self.latent * self.latent_width ** 2


ARCHITECTURES = {
    "arch_acai_kyle": ArchPreset("32 px, bottleneck 4x4x2 = 32 (Tables 1-2)", 32, 4, 2),
    "arch_acai_kyle_256": ArchPreset("32 px, bottleneck 4x4x16 = 256 (Table 3)", 32, 4, 16),
    "arch_acai_kyle_1024": ArchPreset("32 px, bottleneck 4x4x64 = 1024 (Table 3)", 32, 4, 64),
}


def resolve_arch(spec: str) -> str:
    return resolve_name(spec, ARCHITECTURES, "--arch", "architectures")


def build_networks(arch: str, n_channels: int, ngf: int = 0, ndf: int = 0):
    """Returns (generator, discriminator) for a registered preset; ngf/ndf <= 0 keep the preset widths."""
    p = ARCHITECTURES[resolve_arch(arch)]
    gen = AutoEncoder(p.image_size, p.latent_width, n_channels, ngf if ngf > 0 else p.depth, p.latent)
    disc = Discriminator(p.image_size, p.latent_width, n_channels, ndf if ndf > 0 else p.disc_depth, p.latent)
    return gen, disc


__all__ = ["ARCHITECTURES", "ArchPreset", "RegistryError", "build_networks", "resolve_arch"]
