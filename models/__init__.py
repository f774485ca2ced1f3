"""Models: the one adversarial mixup model, its mixing functions and losses, and the beta-VAE.

`--model` names map onto an objective and k (models.registry.MODELS). The heavy names load on first
use, so that `models.registry` (names and labels) can be read without torch.
"""
from .registry import MODELS, OBJECTIVES, ModelInfo

_LAZY = {"AMR": "amr", "AMRConfig": "amr", "MIXERS": "mixing"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AMR", "AMRConfig", "MIXERS", "MODELS", "ModelInfo", "OBJECTIVES"]
