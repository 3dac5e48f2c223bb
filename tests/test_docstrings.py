"""Every public name of the library's packages has a docstring, and the docstrings' examples run.

The packages are ``kerasnn.layers``, ``losses``, ``metrics``, ``models`` and ``ops``, with all
their submodules (``ops.boxes``, ``ops.geometry``, ``layers.attention``, ...). A public name is
one without a leading underscore, defined in kerasnn (names imported from Keras or NumPy are not
ours to document); for a public class, its public methods defined in kerasnn count too. A
docstring built at run time by concatenating strings is an expression, not a docstring: this
test is what notices it.
"""

import doctest
import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest

PACKAGES = ("kerasnn.layers", "kerasnn.losses", "kerasnn.metrics", "kerasnn.models", "kerasnn.ops")

# Keras methods a layer or loss overrides: their contract is Keras', documented there.
KERAS_METHODS = {
    "build",
    "call",
    "get_config",
    "from_config",
    "compute_output_shape",
    "compute_output_spec",
    "compute_mask",
    "get_build_config",
    "build_from_config",
    "train_step",
    "test_step",
    "predict_step",
}


def _modules():
    modules = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules.append(package)
        if hasattr(package, "__path__"):
            for info in pkgutil.walk_packages(package.__path__, package_name + "."):
                modules.append(importlib.import_module(info.name))
    return modules


MODULES = _modules()


def _own(obj, module_name):
    return getattr(obj, "__module__", None) == module_name


def _public_objects():
    """(qualified name, object) of every public function, class and class method."""
    seen = {}
    for module in MODULES:
        seen[module.__name__] = module
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not _own(obj, module.__name__):
                continue
            seen[f"{module.__name__}.{name}"] = obj
            if inspect.isclass(obj):
                for attribute, member in vars(obj).items():
                    member = getattr(member, "__func__", member)  # classmethod, staticmethod
                    if (
                        attribute.startswith("_")
                        or attribute in KERAS_METHODS
                        or not inspect.isfunction(member)
                    ):
                        continue
                    seen[f"{module.__name__}.{name}.{attribute}"] = member
    return seen


def test_the_walk_sees_the_packages_and_their_submodules():
    names = {module.__name__ for module in MODULES}
    assert {"kerasnn.ops.boxes", "kerasnn.ops.geometry", "kerasnn.layers.attention"} <= names
    objects = _public_objects()
    for name in (
        "kerasnn.layers.attention.BahdanauAttention",
        "kerasnn.layers.transformer.TransformerDecoderBlock",
        "kerasnn.models.cnn.vgg",
        "kerasnn.losses.MulticlassHinge",
    ):
        assert name in objects


def test_every_public_name_has_a_docstring():
    missing = [
        name
        for name, obj in _public_objects().items()
        if not (inspect.getdoc(obj) or "").strip() or obj.__doc__ is None
    ]
    assert not missing, "no docstring: " + ", ".join(missing)


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_docstring_examples(module):
    # DocTestFinder keeps the objects defined in ``module``: a re-exported name's examples run
    # with its own module.
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {"keras": keras, "np": np, **vars(module)}
    keras.utils.set_random_seed(0)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, globs=globs):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
