"""Adversarial mixup resynthesis: ONE model for k >= 2 sources and the ACAI variants.

A training step (as the reference): the generator (autoencoder) is updated when the
caller asks (update_g: the training loop's --update_g_every), then the discriminator
every step on the same batch's reconstructions and mixes, then the optional linear
probe on the detached codes.
Each phase calls the discriminator once on all its images concatenated: it has no
batch-dependent layers, so this equals separate calls (tests check it) and
computes the spectral-norm weights once per phase instead of once per term.
Losses are returned as detached tensors so the caller can average them without
a host sync per step.
"""
from dataclasses import dataclass
from typing import Optional

import torch

from .class_mixing import ClassMix, class_mix, discriminator_terms, generator_terms
from .losses import GAN_LOSSES, RECON_LOSSES
from .mixing import fold_weights, mix_codes, sample_mix_weights, sample_partners
from .registry import OBJECTIVES
from .trainable import TrainableModel, eval_mode



@dataclass(frozen=True)
class AMRConfig:
    k: int = 2                    # number of codes mixed
    mixer: str = "mixup"          # see models.mixing.MIXERS
    objective: str = "amr"        # see OBJECTIVES
    lamb: float = 1.0             # reconstruction weight
    beta: float = 0.0             # consistency weight |enc(dec(h_mix)) - h_mix|
    recon_loss: str = "l1"
    gan_loss: str = "bce"
    disable_mix: bool = False     # adversarial autoencoder baseline: no mixes at all
    disable_g_recon: bool = False  # no adversarial term on reconstructions
    acai_gamma: float = 0.2
    acai_adv_weight: float = 0.5
    cls: float = 0.0              # > 0: class-conditioned mixes, weight of their auxiliary classifier loss
    cls_loss: str = "bce"         # see models.losses.GAN_LOSSES (on sigmoid class outputs)
    eps: float = 0.0              # weight of the class mixer's mask prior
    probe_backprop: bool = False  # the online probe's loss also trains the encoder (the reference's --bpc)
    probe_weight: float = 1.0     # its weight in the generator's loss (the reference's --cls_probe_weight)

    def __post_init__(self):
        if self.k < 2:
            raise ValueError(f"k must be >= 2, got {self.k}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective '{self.objective}'; choose one of: {', '.join(OBJECTIVES)}")
        if self.objective == "ae":
            if not self.disable_mix:
                raise ValueError("objective 'ae' mixes nothing: it needs disable_mix")
        elif self.objective != "amr" and (self.k != 2 or self.mixer != "mixup" or self.disable_mix):
            raise ValueError(f"objective '{self.objective}' needs k = 2, mixer 'mixup' and mixing enabled")
        if self.cls > 0 and self.objective != "amr":
            raise ValueError("class-conditioned mixing (cls > 0) needs objective 'amr'")


@dataclass
class Forward:
    """Everything one generator pass produces for a batch."""
    codes: torch.Tensor
    recon: torch.Tensor
    perms: Optional[torch.Tensor] = None     # [k, B] source indices, row 0 = identity
    weights: Optional[torch.Tensor] = None   # [B, k, C] mixing weights
    mix_codes: Optional[torch.Tensor] = None
    mix: Optional[torch.Tensor] = None       # decoded mixes
    class_mix: Optional[ClassMix] = None     # class-conditioned mixes (cfg.cls > 0 and labels given)

    def detached(self):
        return Forward(*(t.detach() if torch.is_tensor(t) else t for t in
                         (self.codes, self.recon, self.perms, self.weights, self.mix_codes, self.mix)),
                       class_mix=None if self.class_mix is None else self.class_mix.detached())


class AMR(TrainableModel):
    def __init__(self, generator, discriminator, cfg: AMRConfig, probe=None, seed=0, class_mixer=None):
        super().__init__(generator, probe=probe, seed=seed)
        if (cfg.cls > 0) != (class_mixer is not None):
            raise ValueError("a class mixer is needed exactly when cfg.cls > 0")
        if (cfg.objective == "ae") != (discriminator is None):
            raise ValueError("a discriminator is needed exactly when the objective is not 'ae'")
        if cfg.probe_backprop and probe is None:
            raise ValueError("probe_backprop needs a probe")
        self.discriminator = discriminator
        self.class_mixer = class_mixer  # trained with the generator's optimiser
        self.cfg = cfg

    def parameter_groups(self):
        g_params = list(self.generator.parameters())
        if self.class_mixer is not None:
            g_params += list(self.class_mixer.parameters())
        if self.discriminator is None:
            return {"g": g_params}
        return {"g": g_params, "d": list(self.discriminator.parameters())}

    # ---- forward pieces -----------------------------------------------------------------
    def forward_pass(self, x, rng=None, y=None) -> Forward:
        """Encode, reconstruct and (unless disable_mix) mix k codes and decode the mixes; with
        a class mixer and labels y, also class-conditioned mixes."""
        codes = self.generator.encode(x)
        fwd = Forward(codes=codes, recon=None)
        if self.cfg.disable_mix:
            fwd.recon = self.generator.decode(codes)
        else:
            rng = rng if rng is not None else self.rng()
            b, c = codes.shape[:2]
            fwd.perms = sample_partners(b, self.cfg.k, rng, codes.device)
            fwd.weights = sample_mix_weights(self.cfg.mixer, self.cfg.k, b, c, rng, codes.device)
            if self.cfg.objective == "acai":
                fwd.weights = fold_weights(fwd.weights)
            fwd.mix_codes = mix_codes(codes, fwd.perms, fwd.weights)
            # one decoder call for reconstructions and mixes: its layers are per-example, so exact
            fwd.recon, fwd.mix = self.generator.decode(torch.cat([codes, fwd.mix_codes])).split(b)
        if self.class_mixer is not None and y is not None:
            fwd.class_mix = class_mix(self.class_mixer, self.generator.decode, codes, y,
                                      rng if rng is not None else self.rng())
        return fwd

    def discriminate(self, groups, with_classes=False):
        """One discriminator call over named image groups -> logits per group; with_classes,
        (logits, auxiliary class logits) per group from the same call."""
        if not groups:
            return {}
        images, sizes = torch.cat(list(groups.values())), [g.shape[0] for g in groups.values()]
        if with_classes:
            logits, classes = self.discriminator.with_classes(images)
            return dict(zip(groups, logits.split(sizes))), dict(zip(groups, classes.split(sizes)))
        return dict(zip(groups, self.discriminator(images).split(sizes)))

    def generator_loss(self, x, fwd, y=None):
        """The generator's total loss and its terms; with labels y and cfg.probe_backprop, also the
        online probe's cross-entropy on the (not detached) codes, so it trains the encoder."""
        c, gan = self.cfg, GAN_LOSSES[self.cfg.gan_loss]
        terms = {"recon": RECON_LOSSES[c.recon_loss](fwd.recon, x)}
        total = c.lamb * terms["recon"]
        fakes = {}
        if c.objective == "amr" and not c.disable_g_recon:
            fakes["recon"] = fwd.recon
        if fwd.mix is not None:
            fakes["mix"] = fwd.mix
        if fwd.class_mix is not None:
            fakes["class_mix"] = fwd.class_mix.image
            logits, classes = self.discriminate(fakes, with_classes=True)
            cm_total, cm_terms = generator_terms(c, fwd.class_mix, logits["class_mix"], classes["class_mix"],
                                                 self.generator.encode)
            total = total + cm_total
            terms.update(cm_terms)
        else:
            logits = self.discriminate(fakes)
        if "recon" in logits:
            terms["g_recon"] = gan(logits["recon"], 1.0)
            total = total + terms["g_recon"]
        if "mix" in logits:
            if c.objective == "amr":
                terms["g_mix"] = gan(logits["mix"], 1.0)
            elif c.objective == "acaif3":
                terms["g_mix"] = gan(logits["mix"], 0.0)
            else:  # acai: push the critic's alpha estimate of mixes to 0
                terms["g_mix"] = c.acai_adv_weight * (logits["mix"] ** 2).mean()
            total = total + terms["g_mix"]
            if c.beta > 0:
                terms["consist"] = (self.generator.encode(fwd.mix) - fwd.mix_codes).abs().mean()
                total = total + c.beta * terms["consist"]
        if c.probe_backprop and y is not None:
            terms["g_probe"] = self.probe_outputs(fwd.codes, y)[0]
            total = total + c.probe_weight * terms["g_probe"]
        terms["g_loss"] = total
        return total, terms

    def discriminator_loss(self, x, fwd):
        c, gan = self.cfg, GAN_LOSSES[self.cfg.gan_loss]
        if c.objective == "acai":
            reg = c.acai_gamma * x + (1 - c.acai_gamma) * fwd.recon
            lg = self.discriminate({"reg": reg, "mix": fwd.mix})
            terms = {"d_mix": ((lg["mix"] - fwd.weights[:, 0, 0]) ** 2).mean(),
                     "d_reg": (lg["reg"] ** 2).mean()}
        else:
            groups = {"real": x}
            if not c.disable_g_recon:
                groups["recon"] = fwd.recon
            if fwd.mix is not None:
                groups["mix"] = fwd.mix
            if fwd.class_mix is not None:
                groups["class_mix"] = fwd.class_mix.image
                lg, classes = self.discriminate(groups, with_classes=True)
            else:
                lg = self.discriminate(groups)
            real_target = 1.0 if c.objective == "amr" else 0.0
            terms = {"d_real": gan(lg["real"], real_target)}
            if "recon" in lg:
                terms["d_recon"] = gan(lg["recon"], 0.0)
            if "mix" in lg:
                if c.objective == "amr":
                    terms["d_mix"] = gan(lg["mix"], 0.0)
                else:  # acaif3: 2 * min(alpha, 1 - alpha) in [0, 1]
                    a = fwd.weights[:, 0, 0]
                    terms["d_mix"] = gan(lg["mix"], 2 * torch.minimum(a, 1 - a))
            if fwd.class_mix is not None:
                terms.update(discriminator_terms(c, fwd.class_mix, lg["class_mix"], classes["real"]))
        total = sum(terms.values())
        terms["d_loss"] = total
        return total, terms

    # ---- steps --------------------------------------------------------------------------
    def _set_disc_trainable(self, flag):
        for p in self.discriminator.parameters() if self.discriminator is not None else ():
            p.requires_grad_(flag)

    def train_step(self, x, y, update_g=True):
        """One optimisation step; returns detached loss tensors (no host sync)."""
        self.train()
        logs = {}
        with torch.set_grad_enabled(update_g), self.autocast():
            fwd = self.forward_pass(x, y=y)
        if update_g:
            self._set_disc_trainable(False)  # generator phase needs no discriminator gradients
            with self.autocast():
                g_total, g_terms = self.generator_loss(x, fwd, y)
            self.step("g", g_total)
            self._set_disc_trainable(True)
            logs.update(g_terms)
        fwd = fwd.detached()
        if self.discriminator is not None:
            with self.autocast():
                d_total, d_terms = self.discriminator_loss(x, fwd)
            self.step("d", d_total)
            logs.update(d_terms)
        if self.probe is not None:
            with self.autocast():
                p_loss, p_acc = self.probe_outputs(fwd.codes, y)
            self.step("probe", p_loss)
            logs.update(probe_loss=p_loss, probe_acc=p_acc)
        return {k: v.detach().float() for k, v in logs.items()}

    @torch.no_grad()
    def eval_step(self, x, y, rng=None):
        """All training losses on a batch without updating anything (eval mode). Mixing draws
        come from `rng` (default: a fixed seed), never from the training stream."""
        with eval_mode(self), self.autocast():
            fwd = self.forward_pass(x, rng if rng is not None else torch.Generator(self.device).manual_seed(0), y=y)
            logs = dict(self.generator_loss(x, fwd, y)[1])
            if self.discriminator is not None:
                logs.update(self.discriminator_loss(x, fwd)[1])
            if self.probe is not None:
                logs["probe_loss"], logs["probe_acc"] = self.probe_outputs(fwd.codes, y)
        return {k: v.float() for k, v in logs.items()}


__all__ = ["AMR", "AMRConfig", "Forward", "OBJECTIVES"]
