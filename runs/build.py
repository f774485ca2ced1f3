"""The library factory: a run's data and model from its RunSpec (runs/spec.py). The command line,
load_run, the benchmarks and the tests all build through here, so a model is always built the same way.

    data = load_data(spec)                 # the dataset's splits (downloading where allowed)
    spec = complete(spec, data)            # checked against the data; channels and classes filled in
    model = build_model(spec, device)      # networks, mixer config, probe, optimisers, accelerations
"""
import shutil

import torch

from amr_errors import ConfigError
from architectures import ARCHITECTURES, build_networks
from architectures.cls_probes import build_probe
from iterators import load_dataset
from models.amr import AMR, AMRConfig
from models.class_mixing import ClassMixer
from models.registry import MODELS
from models.vae import VAE, VAEConfig

from .spec import with_data


def load_data(spec, download=None):
    """The dataset of spec.data (download: default spec.data.download)."""
    d = spec.data
    return load_dataset(d.dataset, d.data_dir, d.subset_train, download=d.download if download is None else download,
                        files=d.file_options())


def complete(spec, data, label_needed=None):
    """Check the spec against the loaded data; -> the spec with the dataset's channels and classes.
    label_needed: what needs labels besides the spec (e.g. '--mode probe'), refused on unlabelled data."""
    d = spec.data
    if d.n_channels is not None and d.n_channels != data.n_channels:
        raise ConfigError(f"--n_channels {d.n_channels} disagrees with --dataset {d.dataset} "
                          f"({data.n_channels} channels); drop the flag or use {data.n_channels}")
    if spec.train.batch_size > len(data.train):
        raise ConfigError(f"--batch_size {spec.train.batch_size} is larger than the training split "
                          f"({len(data.train)} examples)")
    if data.n_classes == 0:
        needs = ("--cls_probe" if spec.model.probe else "--cls > 0" if spec.model.class_mix_weight > 0 else
                 "--realism_every" if spec.output.realism_every else label_needed)
        if needs:
            raise ConfigError(f"{needs} needs labels, but --dataset {d.dataset} is unlabelled here; put the "
                              f"images in class subfolders (one per label) or drop it")
    if d.n_classes is not None and d.n_classes != data.n_classes:
        raise ConfigError(f"--cls_probe_args: n_classes {d.n_classes} but --dataset {d.dataset} has "
                          f"{data.n_classes} classes")
    arch = ARCHITECTURES[spec.model.arch]
    if arch.image_size != data.image_size:
        fits = [n for n, a in ARCHITECTURES.items() if a.image_size == data.image_size]
        raise ConfigError(f"--arch {spec.model.arch} is for {arch.image_size} px images but "
                          f"--dataset {d.dataset} has {data.image_size} px; use one of: {', '.join(fits)}")
    if spec.output.disentangle_every and data.factors is None:
        raise ConfigError("--disentangle_every needs a dataset with ground-truth factors; use --dataset dsprite")
    if spec.output.lines_eval_every and d.dataset != "lines":
        raise ConfigError("--lines_eval_every needs --dataset lines (ACAI's lines, whose true lines it scores against)")
    return with_data(spec, n_channels=data.n_channels, n_classes=data.n_classes)


def build_model(spec, device=torch.device("cpu")):
    """The model of a completed spec (n_channels and n_classes known), on `device`, with its optimisers:
    initialised from torch.manual_seed(spec.train.seed), so every method of a seed starts from the same draws."""
    m, n_channels, n_classes = spec.model, spec.data.n_channels, spec.data.n_classes or 0
    if n_channels is None:
        raise ValueError("build_model needs a completed spec (runs.build.complete, or a stored one)")
    torch.manual_seed(spec.train.seed)
    probe_of = lambda: build_probe(m.probe, m.code_size, n_classes) if m.probe else None  # noqa: E731
    if m.objective == "vae":
        gen, _ = build_networks(m.arch, n_channels, m.gen_width, latent=m.latent_dim, vae=True)
        model = VAE(gen, VAEConfig(lamb=m.recon_weight, beta=m.beta, recon_loss=m.recon_loss), probe=probe_of(),
                    seed=spec.train.seed)
    else:
        gen, disc = build_networks(m.arch, n_channels, m.gen_width, m.disc_width,
                                   n_classes=n_classes if m.class_mix_weight > 0 else 0, latent=m.latent_dim)
        if m.objective == "ae":
            disc = None  # built all the same, so the probe below starts from the same draws as every method's
        class_mixer = ClassMixer(gen.code_shape, n_classes, m.class_mix_label_only) if m.class_mix_weight > 0 else None
        cfg = AMRConfig(k=m.k, mixer=m.mixer, objective=m.objective, lamb=m.recon_weight, beta=m.beta,
                        recon_loss=m.recon_loss, gan_loss=m.gan_loss, disable_mix=m.disable_mix,
                        disable_g_recon=m.disable_g_recon, cls=m.class_mix_weight, cls_loss=m.class_mix_loss,
                        eps=m.mask_prior_weight, probe_backprop=m.probe_backprop, probe_weight=m.probe_weight)
        model_class = MODELS[m.model].model_class or AMR  # a registered subclass with its own losses
        model = model_class(gen, disc, cfg, probe=probe_of(), seed=spec.train.seed, class_mixer=class_mixer)
    model = model.to(device)
    t = spec.train
    model.configure_optimizers(t.lr, (t.beta1, t.beta2), t.weight_decay, t.probe_weight_decay)
    accelerate(model, spec, device)
    return model


def accelerate(model, spec, device):
    """Channels-last on CPU, --amp, --compile: the same computation, faster (cuDNN and TF32 settings
    are the runtime's: runs/runtime.py)."""
    t = spec.train
    if device.type == "cpu" and not t.amp:
        # float32 oneDNN convolutions run channels-last natively; NCHW costs a layout copy around
        # each (docs/speed.md). Measured slower under --amp (bf16), and not applied on CUDA, where it
        # is unmeasured.
        model.to(memory_format=torch.channels_last)
    model.set_precision(t.amp)
    if t.compile:
        if device.type == "cpu" and not (shutil.which("g++") or shutil.which("clang++")):
            raise ConfigError("--compile on CPU needs a C++ compiler (g++ or clang++) on PATH; "
                              "install one or drop --compile")
        model.compile_networks(t.compile)


__all__ = ["accelerate", "build_model", "complete", "load_data"]
