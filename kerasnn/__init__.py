"""kerasnn: a deep-learning course made runnable with Keras 3.

Submodules are imported on first use (``kerasnn.layers``, ``kerasnn.data``, ...) so that
``import kerasnn`` stays cheap and a recipe pays only for what it uses.

The modules that register Keras objects (``kerasnn.layers``, ``losses``, ``models``) are imported
as soon as Keras is: ``import kerasnn`` alone lets ``keras.saving.load_model`` find every
``kerasnn>...`` class of a saved model, whichever of ``kerasnn`` and ``keras`` is imported first,
without importing TensorFlow before ``kerasnn.quiet`` could hide its start-up lines. (Modules
under ``kerasnn.models`` import layers from their modules, ``kerasnn.layers.normalization``, not
from the package, so that the builders can be imported while ``kerasnn.layers`` is still
being imported; where that is not enough, the registration finishes when it is.)
"""

import importlib
import importlib.abc
import sys

__version__ = "0.1.0"

_SUBMODULES = (
    "cli",
    "data",
    "layers",
    "metrics",
    "models",
    "ops",
    "plots",
    "reporting",
    "tuning",
    "losses",
    "arguments",
    "recipe",
    "text",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kerasnn.{name}")
    raise AttributeError(f"module 'kerasnn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))


# Modules whose import registers classes with ``keras.saving.register_keras_serializable``.
_REGISTERING = ("layers", "losses", "models")


_registration_pending = False


def _register_keras_objects():
    """Import the registering modules. If one needs a kerasnn module that is still being imported
    (the import that brought Keras in, e.g. ``import kerasnn.layers.attention``), the registration
    waits: ``kerasnn.layers`` and ``kerasnn.models`` call ``_finish_registration`` once they are
    complete."""
    global _registration_pending
    try:
        for name in _REGISTERING:
            importlib.import_module(f"kerasnn.{name}")
    except ImportError:
        _registration_pending = True
    else:
        _registration_pending = False


def _finish_registration():
    if _registration_pending:
        _register_keras_objects()


class _KerasImportHook(importlib.abc.MetaPathFinder):
    """Imports the registering modules right after ``keras`` itself is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None:
            return spec
        loader = spec.loader

        def exec_then_register(module):
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            # keras' own loader again, for anything that asks the module for it later
            module.__loader__ = spec.loader = loader
            loader.exec_module(module)
            _register_keras_objects()

        spec.loader = _Loader(loader, exec_then_register)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, exec_module):
        self._loader = loader
        self.exec_module = exec_module

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def __getattr__(self, name):
        return getattr(self._loader, name)


if "keras" in sys.modules:
    _register_keras_objects()
elif not any(isinstance(finder, _KerasImportHook) for finder in sys.meta_path):
    sys.meta_path.insert(0, _KerasImportHook())
