"""Name-based lookup shared by the architecture and probe registries.

The reference code imported whatever file path `--arch` named; we only ever map
a spelling onto a registered name, so no user-supplied path is ever executed.
"""
import os

from amr_errors import RegistryError


def resolve_name(spec: str, registry: dict, flag: str, folder: str) -> str:
    """Accept `name`, `name.py` or `<folder>/name.py` (the reference's spelling)."""
    name = spec.strip()
    if name.endswith(".py"):
        name = name[:-3]
    prefix = folder.rstrip("/") + "/"
    if name.startswith(prefix):
        name = name[len(prefix):]
    name = name.replace(os.sep, "/")
    if name not in registry:
        raise RegistryError(
            f"{flag}: unknown '{spec}'; choose one of: {', '.join(sorted(registry))}")
    return name
