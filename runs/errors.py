"""The errors of the run layer (amr_errors holds every error; these names are kept for imports)."""
from amr_errors import CheckpointError, ConfigError, RunError

__all__ = ["CheckpointError", "ConfigError", "RunError"]
