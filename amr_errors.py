"""Every error amr raises for bad input, in one place. Each message is one line naming the flag,
file or folder and saying what to do; the command line prints it and exits with status 2.
(The names are also importable where they are raised: runs, iterators, architectures.)"""
from pathlib import Path


class AmrError(Exception):
    """Base class: an input amr cannot use. Whitespace is collapsed so that a wrapped library error
    cannot make the message multi-line."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


class ConfigError(AmrError):
    """Bad flags or a bad run spec: the message names the flag and says what to do."""


class RegistryError(ConfigError, ValueError):
    """A name that is not registered (network preset, probe, ...); the message lists the valid names."""


class DatasetError(AmrError):
    """A dataset that cannot be provided (missing, unreadable or unsuitable files)."""


class CheckpointError(AmrError):
    """A checkpoint that is missing, unreadable or does not fit this run."""


class RunError(AmrError):
    """A run folder or checkpoint that cannot be used from Python (runs.load_run); names the path and why."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


__all__ = ["AmrError", "CheckpointError", "ConfigError", "DatasetError", "RegistryError", "RunError"]
