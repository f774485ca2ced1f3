"""The run layer: what a run is (spec.py), building it (build.py), training it (training.py), where it
writes (paths.py, stored.py, checkpoint.py, results.py, images.py, plots.py), restoring it
(restore.py), computing (runtime.py, distributed.py), and load_run (api.py), a trained run from Python.

`from runs import load_run` loads the library on first use; importing a light module such as
runs.files loads nothing heavy."""

_LAZY = {"Run": "api", "load_run": "api", "checkpoint_names": "api"}


def __getattr__(name):
    if name == "RunError":
        from amr_errors import RunError
        return RunError
    if name in _LAZY:
        from importlib import import_module
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Run", "RunError", "checkpoint_names", "load_run"]
