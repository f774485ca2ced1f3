"""A pickle reader for dataset files (the CIFAR batches, the dSprites npz's metadata) that refuses
anything but plain containers and numpy arrays, so a crafted file cannot run code."""
import builtins
import codecs
import importlib
import pickle


class SafeUnpickler(pickle.Unpickler):
    """Allows only what the CIFAR batches need: plain builtins and numpy array reconstruction.
    Anything else (os.system, arbitrary classes) is refused before it can run."""
    _BUILTINS = {"list", "dict", "tuple", "set", "frozenset", "bytes", "bytearray", "str",
                 "int", "float", "complex", "bool"}
    _NUMPY_MODULES = {"numpy", "numpy.core.multiarray", "numpy._core.multiarray",
                      "numpy.core.numeric", "numpy._core.numeric"}
    _NUMPY_NAMES = {"ndarray", "dtype", "_reconstruct", "_frombuffer", "scalar"}

    def find_class(self, module, name):
        if module == "builtins" and name in self._BUILTINS:
            return getattr(builtins, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles store bytes
            return codecs.encode
        if module in self._NUMPY_MODULES and name in self._NUMPY_NAMES:
            # numpy 2 renamed numpy.core -> numpy._core; resolve either spelling quietly.
            for mod in (module.replace("numpy.core", "numpy._core"), module):
                try:
                    return getattr(importlib.import_module(mod), name)
                except (ImportError, AttributeError):
                    pass
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
