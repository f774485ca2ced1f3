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
from torch import nn

from .amr import Forward
from .losses import RECON_LOSSES


@dataclass(frozen=True)
class VAEConfig:
    lamb: float = 1.0              # reconstruction weight
    beta: float = 1.0              # KL weight (KL summed over latent dimensions)
    recon_loss: str = "bce_sum"


class VAE(nn.Module):
    def __init__(self, generator, cfg: VAEConfig, probe=None, seed=0):
        """generator.encode(x) -> [B, 2 * latent] (means, then log-variances); generator.decode(z) -> images."""
        super().__init__()
        self.generator, self.probe, self.cfg, self.seed = generator, probe, cfg, seed
        self.discriminator = self.class_mixer = None  # the AMR parts the launcher asks about
        self.noise_rng = None  # torch.Generator for the reparameterisation noise, made on first use
        self.amp = False       # bf16 autocast of forward computations (--amp)
        self.opt_g = self.opt_probe = None

    @property
    def device(self):
        return next(self.generator.parameters()).device

    def rng(self):
        if self.noise_rng is None or self.noise_rng.device != self.device:
            self.noise_rng = torch.Generator(self.device).manual_seed(self.seed)
        return self.noise_rng

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def configure_optimizers(self, lr, betas, weight_decay, probe_weight_decay=None):
        kw = dict(lr=lr, betas=betas, weight_decay=weight_decay)
        if self.device.type == "cuda":
            kw["fused"] = True
        self.opt_g = torch.optim.Adam(self.generator.parameters(), **kw)
        if self.probe is not None:
            pkw = dict(kw, weight_decay=weight_decay if probe_weight_decay is None else probe_weight_decay)
            self.opt_probe = torch.optim.Adam(self.probe.parameters(), **pkw)

    def optimizers(self):
        return {name: o for name, o in {"g": self.opt_g, "probe": self.opt_probe}.items() if o is not None}

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

    def probe_outputs(self, codes, y):
        logits = self.probe(codes)
        return nn.functional.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()

    # ---- steps --------------------------------------------------------------------------
    def train_step(self, x, y, update_g=True):
        """One step of the encoder, decoder and probe (update_g is ignored: nothing alternates)."""
        self.train()
        total, logs, mu = self.losses(x, self.rng())
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        if self.probe is not None:
            logs["probe_loss"], logs["probe_acc"] = self.probe_outputs(mu.detach(), y)
            self.opt_probe.zero_grad(set_to_none=True)
            logs["probe_loss"].backward()
            self.opt_probe.step()
        return {k: v.detach().float() for k, v in logs.items()}

    @torch.no_grad()
    def eval_step(self, x, y, rng=None):
        """The training losses in eval mode; the noise comes from `rng` (default: a fixed seed)."""
        was_training = self.training
        self.eval()
        _, logs, mu = self.losses(x, rng if rng is not None else torch.Generator(self.device).manual_seed(0))
        if self.probe is not None:
            logs["probe_loss"], logs["probe_acc"] = self.probe_outputs(mu, y)
        self.train(was_training)
        return {k: v.float() for k, v in logs.items()}

    @torch.no_grad()
    def encode(self, x):
        """Posterior means."""
        was_training = self.training
        self.eval()
        mu = self.posterior(x)[0]
        self.train(was_training)
        return mu

    @torch.no_grad()
    def forward_pass(self, x, rng=None, y=None) -> Forward:
        """Means and their decodes (no mixes: pictures show inputs and reconstructions)."""
        mu = self.posterior(x)[0]
        return Forward(codes=mu, recon=self.generator.decode(mu))

    # ---- checkpoint state ----------------------------------------------------------------
    def training_state(self):
        return {"model": self.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
                "mix_rng": self.rng().get_state()}  # the launcher's name for a model's random stream

    def load_training_state(self, state):
        self.load_state_dict(state["model"])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        self.rng().set_state(state["mix_rng"].cpu())
