"""What a run is: frozen dataclasses for its model, data, training and outputs (RunSpec), built from
flags by one converter, checked, written into cfg.yaml and every checkpoint, and read back to rebuild
the run (runs.build) without the command line.

Fields marked control=True may differ when a run is resumed, evaluated or moved (how long it trains,
where it writes, how fast it computes); any other difference means another model or training run.

spec_from_flags is the one converter from flags to a spec: the command line's parsed flags, and the
'args' of a cfg.yaml or checkpoint written before specs were stored (which it upgrades), go through
it alike. Flag names are the command line's; FLAG_FIELDS maps the reference's terse ones (--lamb,
--ngf, --cls, ...) to the fields' self-explaining names.
"""
import ast
import dataclasses
from dataclasses import dataclass, field, fields, replace
from typing import Optional

from amr_errors import ConfigError, RegistryError
from architectures import ARCHITECTURES, resolve_arch
from architectures.cls_probes import PROBE_ARGS, resolve_probe
from iterators import DATASETS, FileOptions
from models.mixing import MIXERS
from models.registry import MODELS
from models.trainable import AMP_DTYPES

IMAGE_SIZES = (32, 64, 128)  # --image_size choices, each with an ACAI preset (DEFAULT_ARCH)
DEFAULT_ARCH = {32: "acai32", 64: "acai64_512", 128: "acai128_1024"}  # --arch when not given, by image size
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def control(default, **kw):
    """A field that may change when the run is resumed or evaluated."""
    return field(default=default, metadata={"control": True}, **kw)


@dataclass(frozen=True)
class ModelSpec:
    model: str = "swapgan"             # --model: a name of models.registry.MODELS
    k: int = 2                         # codes mixed (--k for kgan, else the model's)
    mixer: str = "mixup"
    arch: str = "acai32"               # registered network preset (--arch resolved)
    gen_width: int = 0                 # --ngf; 0 keeps the preset's
    disc_width: int = 0                # --ndf; 0 keeps the preset's
    latent_dim: int = 0                # 0 keeps the preset's bottleneck channels
    recon_weight: float = 1.0          # --lamb
    beta: float = 1.0                  # AMR: consistency weight; VAE: KL weight (KL summed over latent dims)
    class_mix_weight: float = 0.0      # --cls
    class_mix_loss: str = "bce"        # --cls_loss
    mask_prior_weight: float = 0.01    # --eps
    class_mix_label_only: bool = False  # --cls_label_only
    gan_loss: str = "bce"
    recon_loss: str = "l1"
    disable_mix: bool = False
    disable_g_recon: bool = False
    probe: Optional[str] = None        # --cls_probe resolved
    probe_backprop: bool = False       # --bpc
    probe_weight: float = 1.0          # --cls_probe_weight

    @property
    def objective(self):
        return MODELS[self.model].objective

    @property
    def code_size(self):
        return code_size(self.arch, self.latent_dim)


def code_size(arch, latent_dim):
    """The bottleneck size of preset `arch` with latent_dim channels (0: the preset's own)."""
    return replace(ARCHITECTURES[arch], latent=latent_dim or ARCHITECTURES[arch].latent).code_size


@dataclass(frozen=True)
class DataSpec:
    dataset: str = "digits"
    subset_train: Optional[int] = None
    image_size: Optional[int] = None   # image-file datasets: the size they are decoded at (None: the dataset's)
    n_channels: Optional[int] = None   # None until the data is loaded: the dataset's
    n_classes: Optional[int] = None    # the dataset's (0: unlabelled); filled when the data is loaded
    data_dir: str = control("./data")
    download: bool = control(True)     # --dataset_args "{'download': ...}"
    max_in_memory_gb: Optional[float] = control(None)
    num_workers: int = control(4)

    @property
    def decoded_size(self):
        """The image size of the data: the dataset's own, else --image_size, else 64 (image files)."""
        return DATASETS[self.dataset].image_size or self.image_size or 64

    def file_options(self):
        memory = None if self.max_in_memory_gb is None else int(self.max_in_memory_gb * 2 ** 30)
        return FileOptions(image_size=self.decoded_size, n_channels=self.n_channels or 3,
                           max_in_memory_bytes=memory, num_workers=self.num_workers)


@dataclass(frozen=True)
class TrainSpec:
    seed: int = 0
    batch_size: int = 32
    global_batch: bool = False
    lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.999
    weight_decay: float = 0.0
    probe_weight_decay: Optional[float] = None  # --cls_probe_weight_decay; None: --weight_decay
    update_g_every: int = 5
    epochs: int = control(200)
    batches_per_epoch: int = control(0)
    device: str = control("auto")
    amp: Optional[str] = control(None)            # None, "bf16" or "fp16"
    compile: Optional[str] = control(None)        # None or a torch.compile mode
    deterministic: bool = control(False)


@dataclass(frozen=True)
class OutputSpec:
    save_path: str = control("./results")
    name: str = control("")
    trial_id: str = control("0")
    save_every: int = control(5)
    save_images_every: int = control(1)
    val_batch_size: int = control(64)
    vis_seed: int = control(0)
    no_verbose: bool = control(False)
    tensorboard: bool = control(False)
    disentangle_every: int = control(0)
    lines_eval_every: int = control(0)
    realism_every: int = control(0)


@dataclass(frozen=True)
class RunSpec:
    model: ModelSpec = ModelSpec()
    data: DataSpec = DataSpec()
    train: TrainSpec = TrainSpec()
    output: OutputSpec = OutputSpec()


PARTS = {"model": ModelSpec, "data": DataSpec, "train": TrainSpec, "output": OutputSpec}
# Flags whose field has another name (the reference's terse flags).
FLAG_FIELDS = {"ngf": "gen_width", "ndf": "disc_width", "lamb": "recon_weight", "cls": "class_mix_weight",
               "cls_loss": "class_mix_loss", "eps": "mask_prior_weight", "cls_label_only": "class_mix_label_only",
               "cls_probe": "probe", "bpc": "probe_backprop", "cls_probe_weight": "probe_weight",
               "cls_probe_weight_decay": "probe_weight_decay", "dataset_args": "download"}
# Flags that are checked but not stored (they must agree with what the spec already fixes).
CHECKED_FLAGS = ("cls_probe_args",)
DATASET_ARGS = {"download": True}  # --dataset_args keys and defaults


def flag_of(name):
    """The command-line flag of a spec field."""
    return next((f for f, n in FLAG_FIELDS.items() if n == name), name)


def stored_flags():
    """Every flag a spec stores or checks: the command line must define exactly these plus its own
    invocation flags (tests/test_build.py ties the two lists)."""
    return {flag_of(f.name) for part in PARTS.values() for f in fields(part)
            if f.name not in ("n_classes",)} | set(CHECKED_FLAGS)


def is_control(part, name):
    return dict((f.name, f) for f in fields(PARTS[part]))[name].metadata.get("control", False)


# ---- flags -> spec ------------------------------------------------------------------------------
def literal_dict(text, flag, allowed):
    """Parse a Python literal dict safely (never eval) and check its keys."""
    if text is None:
        return {}
    if isinstance(text, dict):
        value = text
    else:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: '{text}' is not a literal dict such as \"{{'key': value}}\"")
    bad = sorted(str(k) for k in value if k not in allowed)
    if bad:
        raise ConfigError(f"{flag}: unknown keys {bad}; allowed: {sorted(allowed)}")
    return value


def upgrade_flags(flags):
    """Flags as a run saved them, in today's names and types: before --batches_per_epoch existed, --bpc
    held the batch cap (an int); before --amp took a dtype and --compile a mode, both were switches."""
    flags = dict(flags)
    if "batches_per_epoch" not in flags and "bpc" in flags and not isinstance(flags["bpc"], bool):
        flags["batches_per_epoch"], flags["bpc"] = int(flags["bpc"] or 0), False
    if isinstance(flags.get("amp"), bool):
        flags["amp"] = "bf16" if flags["amp"] else None
    if isinstance(flags.get("compile"), bool):
        flags["compile"] = "default" if flags["compile"] else None
    return flags


# Flags a model has no use for. The reference's scripts pass some of them at harmless values: those are
# accepted with a note naming them; a value that would change what the user asked for is refused.
_NO_DISCRIMINATOR = "it has no discriminator"
IGNORED_FLAGS = {
    "vae": {"gan_loss": _NO_DISCRIMINATOR, "ndf": _NO_DISCRIMINATOR, "disable_g_recon": _NO_DISCRIMINATOR,
            "update_g_every": "encoder and decoder are updated together on every step",
            "disable_mix": "it mixes nothing"},
    # (--ndf stays: the control builds and discards a discriminator of that width, so that its probe starts
    # from the same draws as every other method's)
    "ae": {"gan_loss": _NO_DISCRIMINATOR, "disable_g_recon": _NO_DISCRIMINATOR},
}
CLASS_MIXING_FLAGS = ("cls_loss", "eps", "cls_label_only")  # only read when --cls > 0


def _flag_default(flag):
    name = FLAG_FIELDS.get(flag, flag)
    for part in PARTS.values():
        for f in fields(part):
            if f.name == name:
                return DATASET_ARGS if flag == "dataset_args" else f.default
    raise KeyError(flag)


def ignored_flag_notes(flags, objective):
    """Flags given with a value other than the default that `objective` ignores: a note each (class-mixing
    flags without --cls are refused: they would change nothing the user could see)."""
    given = [f for f in IGNORED_FLAGS.get(objective, {}) if flags.get(f, _flag_default(f)) != _flag_default(f)]
    return [f"note: --{f} has no effect in --model {flags.get('model')} ({IGNORED_FLAGS[objective][f]}); "
            f"ignored" for f in given]


def _check_class_mixing_flags(flags):
    if flags.get("cls", 0.0) == 0:
        given = [f for f in CLASS_MIXING_FLAGS if flags.get(f, _flag_default(f)) != _flag_default(f)]
        if given:
            raise ConfigError(f"--{given[0]} has no effect in this run (they only act with --cls > 0 "
                              f"(class-conditioned mixing)); drop it")


def spec_from_flags(flags, notes=None):
    """The RunSpec of a dict of flags (the command line's, or a saved run's 'args', upgraded), checked:
    a ConfigError names the flag and what to do. Missing flags take the spec's defaults. Notes about
    accepted-but-ignored flags are appended to `notes` (a list) when given."""
    d = {**{flag_of(f.name): f.default for part in PARTS.values() for f in fields(part)},
         "dataset_args": None, "cls_probe_args": None, "k": None, "arch": None, "name": None}
    d.update(upgrade_flags(flags))
    model = d["model"]
    if model not in MODELS:
        raise ConfigError(f"--model: unknown '{model}'; choose one of: {', '.join(MODELS)}")
    if d["mixer"] not in MIXERS:
        raise ConfigError(f"--mixer: unknown '{d['mixer']}'; choose one of: {', '.join(MIXERS)}")
    if d["dataset"] not in DATASETS:
        raise ConfigError(f"--dataset: unknown '{d['dataset']}'; choose one of: {', '.join(DATASETS)}")
    objective, k = MODELS[model].objective, MODELS[model].k
    if k is None:
        if d["k"] is None:
            raise ConfigError("--model kgan needs --k (the number of codes mixed, >= 2)")
        k = d["k"]
    elif d["k"] is not None and d["k"] != k:
        raise ConfigError(f"--k {d['k']} conflicts with --model {model} (k = {k}); use --model kgan --k {d['k']}")
    if k < 2:
        raise ConfigError(f"--k must be >= 2, got {k}")
    if objective == "ae" and (d["mixer"] != "mixup" or d["k"] is not None):
        raise ConfigError("--model ae mixes nothing (no mixer, no discriminator); drop --mixer and --k")
    if objective == "vae" and d["mixer"] != "mixup":
        raise ConfigError(f"--mixer {d['mixer']}: --model vae mixes nothing; drop --mixer")
    if objective not in ("amr", "ae", "vae") and (d["mixer"] != "mixup" or d["disable_mix"]):
        raise ConfigError(f"--model {model} mixes with --mixer mixup and cannot --disable_mix; "
                          f"use --model swapgan for other mixers or the baseline")
    if d["disable_mix"] and objective == "amr" and d["mixer"] != "mixup":
        raise ConfigError(f"--disable_mix trains without mixes, so --mixer {d['mixer']} would never be used; "
                          f"drop one of the two")
    if d["cls"] < 0 or d["eps"] < 0:
        raise ConfigError("--cls and --eps must be >= 0")
    if d["cls"] > 0 and objective != "amr":
        raise ConfigError(f"--cls > 0 (class-conditioned mixing) needs --model swapgan, threegan or kgan, "
                          f"not {model}")
    for flag in ("batch_size", "epochs", "update_g_every", "save_every", "save_images_every", "val_batch_size"):
        if d[flag] < 1:
            raise ConfigError(f"--{flag} must be >= 1, got {d[flag]}")
    for flag in ("lr", "lamb"):
        if not d[flag] > 0:
            raise ConfigError(f"--{flag} must be > 0, got {d[flag]}")
    if d["batches_per_epoch"] < 0 or d["beta"] < 0:
        raise ConfigError("--batches_per_epoch and --beta must be >= 0")
    if min(d["latent_dim"], d["disentangle_every"], d["lines_eval_every"], d["realism_every"]) < 0:
        raise ConfigError("--latent_dim, --disentangle_every, --lines_eval_every and --realism_every must be >= 0")
    if d["bpc"] and not d["cls_probe"]:
        raise ConfigError("--bpc lets the online probe's loss train the encoder; it needs --cls_probe")
    if d["bpc"] and objective == "vae":
        raise ConfigError("--bpc (the probe's loss training the encoder) is for the AMR models, not --model vae")
    if d["cls_probe_weight"] != 1.0 and not d["bpc"]:
        raise ConfigError("--cls_probe_weight weighs the probe's loss in the generator's loss, which only --bpc adds; "
                          "add --bpc or drop --cls_probe_weight")
    if d["cls_probe_weight"] < 0:
        raise ConfigError(f"--cls_probe_weight must be >= 0, got {d['cls_probe_weight']}")
    if d["amp"] not in (None, *AMP_DTYPES):
        raise ConfigError(f"--amp {d['amp']}: use --amp (bf16) or --amp=fp16")
    if d["compile"] not in (None, *COMPILE_MODES):
        raise ConfigError(f"--compile {d['compile']}: use --compile or --compile=MODE, MODE one of "
                          f"{', '.join(COMPILE_MODES)}")
    dataset = DATASETS[d["dataset"]]
    image_size = dataset.image_size or d["image_size"] or 64
    if d["image_size"] is not None and dataset.image_size not in (None, d["image_size"]):
        raise ConfigError(f"--image_size {d['image_size']}: --dataset {d['dataset']} is {dataset.image_size} px; "
                          f"drop the flag (it resizes datasets of image files such as folder)")
    if d["num_workers"] < 0 or (d["max_in_memory_gb"] is not None and d["max_in_memory_gb"] < 0):
        raise ConfigError("--num_workers and --max_in_memory_gb must be >= 0")
    if dataset.from_files and d["n_channels"] not in (None, 1, 3):
        raise ConfigError(f"--n_channels {d['n_channels']}: image files are decoded as RGB (3) or grayscale (1)")
    try:
        arch = resolve_arch(d["arch"] or DEFAULT_ARCH[image_size])
        probe = resolve_probe(d["cls_probe"]) if d["cls_probe"] else None
    except RegistryError as e:
        raise ConfigError(str(e)) from None
    probe_args = literal_dict(d["cls_probe_args"], "--cls_probe_args", PROBE_ARGS)
    if probe_args and not probe:
        raise ConfigError("--cls_probe_args given without --cls_probe")
    if objective == "vae" and ARCHITECTURES[arch].family != "burgess":
        raise ConfigError(f"--model vae needs a preset with a vector code, not --arch {arch}; use --arch dsprite_gd")
    if d["cls"] > 0 and ARCHITECTURES[arch].family != "acai":
        raise ConfigError(f"--cls > 0 needs an ACAI preset (whose discriminator has the auxiliary classifier), "
                          f"not --arch {arch}")
    recon_loss, beta = d["recon_loss"], d["beta"]
    if objective == "vae" and recon_loss == "bce":
        # the reference's VAE, as its exps/dsprite/bvae_beta*.sh spell it: BCE summed over pixels, and its beta
        # weighed a KL averaged over the latent dimensions, where this project's KL is summed over them
        latent = code_size(arch, d["latent_dim"])
        recon_loss, beta = "bce_sum", d["beta"] / latent
        if notes is not None:
            notes.append(f"note: --model vae --recon_loss bce is the reference's VAE objective: BCE summed over "
                         f"pixels (bce_sum) and its --beta {d['beta']:g} on a KL averaged over the {latent} latent "
                         f"dimensions, which is --beta {beta:g} on the summed KL used here; stored as such")
    if objective == "vae" and recon_loss != "bce_sum":
        raise ConfigError("--model vae needs --recon_loss bce_sum (Bernoulli likelihood summed over pixels, with "
                          "--beta on the KL summed over latent dims) or bce (the reference's spelling: its --beta on "
                          "the KL averaged over them)")
    _check_class_mixing_flags(d)
    if notes is not None:
        notes += ignored_flag_notes(d, objective)
    download = {**DATASET_ARGS, **literal_dict(d["dataset_args"], "--dataset_args", DATASET_ARGS)}["download"]
    name = d["name"] or (f"{d['dataset']}_ae" if objective == "ae" else
                         f"{d['dataset']}_{model}_{'baseline' if d['disable_mix'] else d['mixer']}")
    model_spec = ModelSpec(
        model=model, k=k, mixer=d["mixer"], arch=arch, gen_width=d["ngf"], disc_width=d["ndf"],
        latent_dim=d["latent_dim"], recon_weight=d["lamb"], beta=beta, class_mix_weight=d["cls"],
        class_mix_loss=d["cls_loss"], mask_prior_weight=d["eps"], class_mix_label_only=d["cls_label_only"],
        gan_loss=d["gan_loss"], recon_loss=recon_loss, disable_mix=d["disable_mix"] or objective == "ae",
        disable_g_recon=d["disable_g_recon"], probe=probe, probe_backprop=d["bpc"], probe_weight=d["cls_probe_weight"])
    if probe_args.get("n_in", model_spec.code_size) != model_spec.code_size:
        raise ConfigError(f"--cls_probe_args: n_in {probe_args['n_in']} does not match the bottleneck of "
                          f"--arch {arch} ({model_spec.code_size}); use n_in {model_spec.code_size}")
    data_spec = DataSpec(dataset=d["dataset"], subset_train=d["subset_train"], image_size=d["image_size"],
                         n_channels=d["n_channels"], n_classes=probe_args.get("n_classes", d.get("n_classes")),
                         data_dir=str(d["data_dir"]), download=download, max_in_memory_gb=d["max_in_memory_gb"],
                         num_workers=d["num_workers"])
    train_spec = TrainSpec(**{f.name: d[flag_of(f.name)] for f in fields(TrainSpec)})
    output_spec = OutputSpec(**{f.name: d[f.name] for f in fields(OutputSpec) if f.name != "name"},
                             name=name)
    return RunSpec(model_spec, data_spec, train_spec, replace(output_spec, trial_id=str(output_spec.trial_id)))


def spec_flags(spec):
    """The flags that give this spec (spec_from_flags(spec_flags(s)) == s for a spec whose data is filled in,
    up to n_classes): for cfg.yaml's 'args', which `load --config` reads."""
    flags = {}
    for part in PARTS:
        for f in fields(PARTS[part]):
            value = getattr(getattr(spec, part), f.name)
            if f.name == "n_classes":
                continue
            flags[flag_of(f.name)] = {"download": value} if f.name == "download" else value
    flags["k"] = spec.model.k if MODELS[spec.model.model].k is None else None
    if spec.model.objective == "ae":
        flags["disable_mix"] = False
    return flags


# ---- stored form -------------------------------------------------------------------------------
def spec_to_dict(spec):
    return dataclasses.asdict(spec)


def spec_from_dict(stored):
    """A RunSpec from its stored dict (cfg.yaml 'spec', a checkpoint's 'spec'); unknown keys are refused."""
    parts = {}
    for part, cls in PARTS.items():
        values = dict(stored.get(part) or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"stored spec: unknown {part} fields {unknown} (written by a newer amr?)")
        parts[part] = cls(**values)
    return RunSpec(**parts)


def stored_spec(record):
    """The spec of a saved run's record (cfg.yaml or checkpoint dict): its 'spec' if it has one, else its
    flags ('args' in cfg.yaml, 'config' in a checkpoint) through the converter, with the dataset's
    classes from cfg.yaml's 'resolved' section where recorded."""
    if isinstance(record.get("spec"), dict):
        return spec_from_dict(record["spec"])
    flags = record.get("args", record.get("config"))
    if not isinstance(flags, dict):
        raise ConfigError("neither a stored spec nor saved flags ('args')")
    spec = spec_from_flags(flags)
    n_classes = (record.get("resolved") or {}).get("n_classes")
    return with_data(spec, n_classes=n_classes) if n_classes is not None else spec


def with_data(spec, **values):
    return replace(spec, data=replace(spec.data, **values))


def differences(stored, current):
    """[(flag, stored value, current value)] of the fields that make a run what it is (not control)."""
    out = []
    for part, cls in PARTS.items():
        for f in fields(cls):
            if f.metadata.get("control") or f.name == "n_classes":
                continue
            a, b = getattr(getattr(stored, part), f.name), getattr(getattr(current, part), f.name)
            if a is not None and b is not None and a != b:  # None: not known yet on one side
                out.append((flag_of(f.name), a, b))
    return out


__all__ = ["DEFAULT_ARCH", "DataSpec", "ModelSpec", "OutputSpec", "RunSpec", "TrainSpec", "differences",
           "flag_of", "is_control", "spec_flags", "spec_from_dict", "spec_from_flags", "spec_to_dict",
           "stored_spec", "upgrade_flags", "with_data"]
