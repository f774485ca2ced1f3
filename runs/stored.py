"""A run's cfg.yaml: its spec, the flags that made it (what `load --config` reads), what they resolved
to, the library versions and the command; and reading a saved run's spec back, whatever its age."""
import functools
import shlex
import sys
from pathlib import Path

import torch
import yaml

from amr_errors import ConfigError

from .files import atomic_write_text
from .spec import spec_flags, spec_to_dict, stored_spec

CONFIG = "cfg.yaml"


@functools.lru_cache(maxsize=None)
def versions():
    import numpy
    import sklearn
    import torchvision
    info = {"python": sys.version.split()[0], "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__),
            "numpy": str(numpy.__version__), "scikit-learn": str(sklearn.__version__)}
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


def derived(spec, device=None):
    """What the spec resolves to, for readers that do not import the library (evaluation.report)."""
    m = spec.model
    out = {"objective": m.objective, "k": m.k, "arch": m.arch, "code_size": m.code_size,
           "n_classes": spec.data.n_classes}
    if device is not None:
        out["device"] = str(device)
    return out


def write_config(run_dir, spec, flags=None, device=None):
    """cfg.yaml: the spec, the flags (default: the spec's own), the derived values, versions and command."""
    cfg = {"spec": spec_to_dict(spec), "args": dict(flags if flags is not None else spec_flags(spec)),
           "resolved": derived(spec, device), "versions": versions(),
           "command": shlex.join([sys.executable] + sys.argv)}
    atomic_write_text(Path(run_dir) / CONFIG, yaml.safe_dump(cfg, sort_keys=False))


def read_config(path):
    """The dict of a cfg.yaml; a ConfigError naming the file if it is not one."""
    try:
        cfg = yaml.safe_load(Path(path).read_text())
        assert isinstance(cfg, dict) and isinstance(cfg.get("args", cfg.get("spec")), dict)
        return cfg
    except Exception:
        raise ConfigError(f"--config {path}: not a readable cfg.yaml with an 'args' section "
                          f"(use the cfg.yaml a run wrote)") from None


def read_spec(path):
    """The RunSpec of a cfg.yaml (its 'spec', or for a run written before specs were stored, its flags
    through the one converter)."""
    cfg = read_config(path)
    try:
        return stored_spec(cfg)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


__all__ = ["CONFIG", "derived", "read_config", "read_spec", "versions", "write_config"]
