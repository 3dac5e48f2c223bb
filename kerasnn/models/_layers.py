"""The course's layers the builders are made of, and a switch to Keras' built-ins.

Every builder that normalizes, pools globally or projects to class maps takes those layers from
here: ``kerasnn.layers.BatchNormalization``, ``GlobalAveragePooling2D`` and
``ClassActivationMapping``. Inside ``keras_builtin_layers()`` the same builders use
``keras.layers.BatchNormalization``, ``keras.layers.GlobalAveragePooling2D`` and GAP -> ``Dense``
instead, with the same layer names and the same weights in the same order, so that
``ours.set_weights(builtin.get_weights())`` makes the two models compute the same function: the
parity tests and ``benchmarks/builders.py`` compare them that way.
"""

import contextlib
import threading

import keras

# Submodules, not ``kerasnn.layers`` itself: ``import kerasnn.layers`` imports Keras, which
# imports the builders (see ``kerasnn/__init__.py``) while ``kerasnn.layers`` is half-initialized.
from kerasnn.layers import normalization, pooling

_state = threading.local()

# Batch-normalization classes of either origin: fine-tuning keeps both frozen.
BATCH_NORMALIZATION_CLASSES = (normalization.BatchNormalization, keras.layers.BatchNormalization)


def _builtins():
    return getattr(_state, "builtins", False)


@contextlib.contextmanager
def keras_builtin_layers():
    """Builders called inside this context use Keras' built-in layers instead of kerasnn's.

    ``BatchNormalization`` -> ``keras.layers.BatchNormalization``, ``GlobalAveragePooling2D`` ->
    ``keras.layers.GlobalAveragePooling2D``, ``ClassActivationMapping`` -> GAP then ``Dense``;
    names, arguments and weight layout stay the same. For parity tests and benchmarks.

    Example:
        >>> from kerasnn import models
        >>> ours = models.mlp((4,), 3, batch_normalization=True)
        >>> with models.keras_builtin_layers():
        ...     builtin = models.mlp((4,), 3, batch_normalization=True)
        >>> type(ours.get_layer("batch_norm_0")).__module__
        'kerasnn.layers.normalization'
        >>> type(builtin.get_layer("batch_norm_0")).__name__
        'BatchNormalization'
    """
    previous = _builtins()
    _state.builtins = True
    try:
        yield
    finally:
        _state.builtins = previous


def batch_normalization(**kwargs):
    """A batch-normalization layer (section "Batch Normalization")."""
    if _builtins():
        return keras.layers.BatchNormalization(**kwargs)
    return normalization.BatchNormalization(**kwargs)


def global_average_pooling(**kwargs):
    """A global-average-pooling layer (section "GAP Layers")."""
    if _builtins():
        return keras.layers.GlobalAveragePooling2D(**kwargs)
    return pooling.GlobalAveragePooling2D(**kwargs)


def class_activation_mapping(features, num_classes, activation, name):
    """GAP -> FC -> activation on ``features`` as one ``ClassActivationMapping`` layer named
    ``name`` (section "The GAP revisited - CAM"); built-ins: a GAP layer then a ``Dense``."""
    if _builtins():
        pooled = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(features)
        return keras.layers.Dense(num_classes, activation=activation, name=name)(pooled)
    return pooling.ClassActivationMapping(num_classes, activation=activation, name=name)(features)
