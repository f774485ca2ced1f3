"""The reference's training step, rebuilt around our networks and losses for side-by-side timing.

It keeps the reference's structure (SwapGAN.train_on_instance of christopher-beckham/amr): the
generator graph, with its adversarial terms, is built on every step and back-propagated only on
every `update_g_every`-th; every discriminator term is a separate call (so the spectral-norm
power iteration runs once per call); discriminator weights collect gradients in the generator
phase; every loss is read with `.item()` (a host sync each) every step; batches come from a torch
DataLoader over CPU tensors. Networks, losses, mixing draws and optimisers are those of the
given AMR model, so both steps compute the same thing (tests/test_speed.py checks it);
`reference_layers` gives the networks the reference's layer implementations and layout.
"""
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from architectures.acai import InstanceNorm
from iterators import to_float
from models.losses import GAN_LOSSES, RECON_LOSSES
from models.mixing import mix_codes, sample_mix_weights, sample_partners


def reference_layers(model):
    """Put the reference's layer implementations back into `model`, in place: nn.InstanceNorm2d
    for our group-norm form of it, LeakyReLU out of place, NCHW weights. The function computed
    is the same; parameters stay the same objects, so the model's optimisers still hold them."""
    for module in model.modules():
        for name, child in module.named_children():
            if isinstance(child, InstanceNorm):
                norm = nn.InstanceNorm2d(child.num_channels, eps=child.eps, affine=True)
                norm.weight, norm.bias = child.weight, child.bias
                setattr(module, name, norm)
            elif isinstance(child, nn.LeakyReLU):
                child.inplace = False
    return model.to(memory_format=torch.contiguous_format)


def reference_loader(split, batch_size, seed):
    """The reference's data path: a shuffling DataLoader over CPU tensors."""
    return DataLoader(TensorDataset(split.images, split.labels), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(seed), num_workers=0)


def reference_step(model, x, y, update_g):
    """One training step of `model` (objective 'amr') the way the reference computes it."""
    cfg, gen, disc = model.cfg, model.generator, model.discriminator
    if cfg.objective != "amr" or cfg.disable_mix:
        raise ValueError("the reference-style step covers the mixing AMR objective only")
    recon_fn, gan = RECON_LOSSES[cfg.recon_loss], GAN_LOSSES[cfg.gan_loss]
    model.train()
    model.opt_g.zero_grad()
    codes = gen.encode(x)
    recon = gen.decode(codes)
    recon_loss = recon_fn(recon, x)
    g_recon = gan(disc(recon), 1.0)
    rng = model.rng()  # same draws, in the same order, as AMR.forward_pass
    perms = sample_partners(codes.shape[0], cfg.k, rng, codes.device)
    weights = sample_mix_weights(cfg.mixer, cfg.k, codes.shape[0], codes.shape[1], rng, codes.device)
    mixed = mix_codes(codes, perms, weights)
    mix = gen.decode(mixed)
    g_mix = gan(disc(mix), 1.0)
    gen_loss = cfg.lamb * recon_loss + g_mix
    if not cfg.disable_g_recon:
        gen_loss = gen_loss + g_recon
    consist = torch.zeros((), device=x.device)
    if cfg.beta > 0:
        consist = (gen.encode(mix) - mixed).abs().mean()
        gen_loss = gen_loss + cfg.beta * consist
    if update_g:
        gen_loss.backward()
        model.opt_g.step()
    model.opt_d.zero_grad()
    d_terms = [gan(disc(x), 1.0)]
    if not cfg.disable_g_recon:
        d_terms.append(gan(disc(recon.detach()), 0.0))
    d_terms.append(gan(disc(mix.detach()), 0.0))
    d_loss = sum(d_terms)
    d_loss.backward()
    model.opt_d.step()
    losses = {"g_loss": gen_loss.item(), "recon": recon_loss.item(), "g_recon": g_recon.item(),
              "g_mix": g_mix.item(), "consist": consist.item(), "d_loss": d_loss.item()}
    if model.probe is not None:
        model.opt_probe.zero_grad()
        p_loss, p_acc = model.probe_outputs(codes.detach(), y)
        p_loss.backward()
        model.opt_probe.step()
        losses.update(probe_loss=p_loss.item(), probe_acc=p_acc.item())
    return losses


def reference_epoch(model, loader, device, n_steps, update_g_every):
    """n_steps reference-style steps from `loader` (cycled)."""
    it, done = iter(loader), 0
    while done < n_steps:
        for images, labels in it:
            if done == n_steps:
                break
            x, y = to_float(images).to(device), labels.to(device)
            reference_step(model, x, y, update_g=done % update_g_every == 0)
            done += 1
        it = iter(loader)
