"""beta-VAE (Higgins et al. 2017; Burgess et al. 2018), the disentanglement baseline of Table 4.

loss = lamb * reconstruction + beta * KL(q(z|x) || N(0, I)), with the KL summed over latent
dimensions and averaged over the batch, and the reconstruction a Bernoulli log-likelihood summed
over pixels (`bce_sum`), so beta = 1 is the plain VAE. The reference averaged the KL over
dimensions as well, so its beta B is B / latent_dim here (its 100 with 10 latents is 10).

It offers the launcher the same interface as models.amr.AMR: train_step / eval_step return
detached loss tensors, encode() gives the posterior means (what probes, interpolations and the
disentanglement metrics see), forward_pass() reconstructs from the means. There is no
discriminator, so every step updates the encoder and decoder.
"""
from dataclasses import dataclass

import torch

from .amr import Forward
from .losses import RECON_LOSSES
from .trainable import TrainableModel, eval_mode


@dataclass(frozen=True)
class VAEConfig:
    lamb: float = 1.0              # reconstruction weight
    beta: float = 1.0              # KL weight (KL summed over latent dimensions)
    recon_loss: str = "bce_sum"


class VAE(TrainableModel):
    def __init__(self, generator, cfg: VAEConfig, probe=None, seed=0):
        """generator.encode(x) -> [B, 2 * latent] (means, then log-variances); generator.decode(z) -> images.
        The model's random stream (rng()) draws the reparameterisation noise."""
        super().__init__(generator, probe=probe, seed=seed)
        self.cfg = cfg
        self.discriminator = self.class_mixer = None  # the AMR parts the launcher asks about

    # ---- forward pieces -----------------------------------------------------------------
    def posterior(self, x):
        mu, logvar = self.generator.encode(x).chunk(2, dim=1)
        return mu, logvar

    def losses(self, x, rng):
        """Returns (total, terms, means) with z = mu + sigma * eps, eps drawn from `rng`. The networks
        run under --amp autocast, the losses in float32 (BCE is not autocast-safe)."""
        with self.autocast():
            mu, logvar = self.posterior(x)
            eps = torch.randn(mu.shape, generator=rng, device=mu.device, dtype=mu.dtype)
            recon = self.generator.decode(mu + torch.exp(0.5 * logvar) * eps)
        mu, logvar = mu.float(), logvar.float()
        terms = {"recon": RECON_LOSSES[self.cfg.recon_loss](recon.float(), x),
                 "kl": 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1).mean()}
        total = self.cfg.lamb * terms["recon"] + self.cfg.beta * terms["kl"]
        terms["loss"] = total
        return total, terms, mu

    # ---- steps --------------------------------------------------------------------------
    def train_step(self, x, y, update_g=True):
        """One step of the encoder, decoder and probe (update_g is ignored: nothing alternates)."""
        self.train()
        total, logs, mu = self.losses(x, self.rng())
        self.step("g", total)
        if self.probe is not None:
            logs["probe_loss"], logs["probe_acc"] = self.probe_outputs(mu.detach(), y)
            self.step("probe", logs["probe_loss"])
        return {k: v.detach().float() for k, v in logs.items()}

    @torch.no_grad()
    def eval_step(self, x, y, rng=None):
        """The training losses in eval mode; the noise comes from `rng` (default: a fixed seed)."""
        with eval_mode(self):
            _, logs, mu = self.losses(x, rng if rng is not None else torch.Generator(self.device).manual_seed(0))
            if self.probe is not None:
                logs["probe_loss"], logs["probe_acc"] = self.probe_outputs(mu, y)
        return {k: v.float() for k, v in logs.items()}

    def _encode(self, x):
        """Posterior means."""
        return self.posterior(x)[0]

    @torch.no_grad()
    def forward_pass(self, x, rng=None, y=None) -> Forward:
        """Means and their decodes (no mixes: pictures show inputs and reconstructions)."""
        mu = self._encode(x)
        return Forward(codes=mu, recon=self.generator.decode(mu))
