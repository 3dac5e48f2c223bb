"""kerasnn: a deep-learning course made runnable with Keras 3.

Submodules are imported on first use (``kerasnn.layers``, ``kerasnn.data``, ...) so that
``import kerasnn`` stays cheap and a recipe pays only for what it uses.
"""

import importlib

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
