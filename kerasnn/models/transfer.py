"""Builders for transfer learning (course notes, "Transfer Learning").

The course's recipe: take a network trained on a large source problem, remove its fully connected
layers, put a new head for the new problem, train the head with the convolutional base frozen
(feature extraction), then fine-tune (part of) the base with a lower learning rate.

- ``small_cnn_backbone``: a small convolutional base ending in global average pooling, to pretrain
  on an embedded source task when ImageNet weights cannot be downloaded;
- ``keras_application``: any ``keras.applications`` base by name (``mobilenet_v2``, ``resnet50``,
  ...), without its top, with pooling, and the preprocessing function its weights expect;
- ``classifier``: backbone -> Dense(head_units, relu) -> Dropout -> Dense(num_classes, softmax);
- ``set_trainable_tail``: freeze the base except its last ``n`` tunable layers; batch
  normalization stays frozen, hence in inference mode;
- ``backbone`` / ``backbone_factory``: either base by name, with random, ImageNet or file
  weights; the factory checks once, up front, that the weights can be had (refusing downloads
  when told the machine is offline), then returns a function that builds fresh copies.
"""

import contextlib
import socket
import sys

import keras


def small_cnn_backbone(input_shape, filters=(16, 32, 64), name="backbone"):
    """Blocks of [3x3 conv -> batch norm -> ReLU] x 2 -> 2x2 max pooling, then GAP features.

    Batch norm uses ``momentum=0.9`` (Keras' default is 0.99): trained from scratch on a few
    dozen images there are only a few hundred steps, too few for 0.99's moving averages to reach
    the data's statistics, and inference would then normalize with the initial mean 0 / variance 1.

    Args:
        input_shape: ``(height, width, channels)``.
        filters: filters of each block; the feature vector has ``filters[-1]`` entries.
    """
    inputs = keras.Input(input_shape)
    x = inputs
    for block, width in enumerate(filters):
        for conv in range(2):
            x = keras.layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"block{block + 1}_conv{conv + 1}"
            )(x)
            x = keras.layers.BatchNormalization(
                momentum=0.9, name=f"block{block + 1}_bn{conv + 1}"
            )(x)
            x = keras.layers.ReLU(name=f"block{block + 1}_relu{conv + 1}")(x)
        x = keras.layers.MaxPooling2D(name=f"block{block + 1}_pool")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inputs, outputs, name=name)


def _application_names():
    return {
        name.lower().replace("_", ""): name
        for name in dir(keras.applications)
        if name[0].isupper() and callable(getattr(keras.applications, name))
    }


def application_names():
    """Every ``keras.applications`` constructor name (``MobileNetV2``, ``ResNet50``, ...)."""
    return sorted(_application_names().values())


def keras_application(application, input_shape, weights=None, name="backbone"):
    """A ``keras.applications`` base by name, ``include_top=False`` with average pooling.

    Args:
        application: case- and underscore-insensitive (``mobilenet_v2`` finds ``MobileNetV2``).
        input_shape: ``(height, width, 3)``.
        weights: ``None``, ``"imagenet"`` (downloaded by Keras) or a weights file path.
        name: the model's name (``"backbone"``, like ``small_cnn_backbone``'s).

    Returns:
        ``(backbone, preprocess_input)``: the model and the function mapping ``[0, 255]`` RGB
        images to the input range its weights were trained with.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    constructor_name = _application_names().get(application.lower().replace("_", ""))
    if constructor_name is None:
        raise ValueError(
            f"Unknown backbone {application!r}; expected 'small_cnn' or a keras.applications model: "
            f"{', '.join(application_names())}."
        )
    constructor = getattr(keras.applications, constructor_name)
    backbone = constructor(
        include_top=False, weights=weights, input_shape=input_shape, pooling="avg", name=name
    )
    preprocess_input = sys.modules[constructor.__module__].preprocess_input
    return backbone, preprocess_input


def classifier(backbone, num_classes, head_units=64, dropout=0.3, name="classifier"):
    """The new head on a base: ``backbone -> Dense(head_units, relu) -> Dropout -> softmax``."""
    inputs = keras.Input(backbone.input_shape[1:])
    features = backbone(inputs)
    x = keras.layers.Dense(head_units, activation="relu", name="head_dense")(features)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head_output")(x)
    return keras.Model(inputs, outputs, name=name)


def tunable_layers(backbone):
    """The base's layers that fine-tuning may unfreeze: those with weights, except batch norm."""
    return [
        layer
        for layer in backbone.layers
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]


def set_trainable_tail(backbone, num_layers):
    """Freeze ``backbone`` except its last ``num_layers`` tunable layers (``tunable_layers``).

    ``num_layers=0`` is feature extraction; a larger value fine-tunes the top of the base.
    Batch-norm layers always stay frozen, and a frozen Keras batch norm runs in inference mode:
    fine-tuning on a few examples must not overwrite the statistics learned on the source. (Calling
    the base with ``training=False`` inside a functional model is not enough in Keras 3: ``fit``'s
    ``training=True`` overrides it.) Recompile the model afterwards: trainability is read when the
    train step is built.
    """
    tunable = tunable_layers(backbone)
    if not 0 <= num_layers <= len(tunable):
        raise ValueError(
            f"num_layers must be in [0, {len(tunable)}] for this backbone; received {num_layers}."
        )
    backbone.trainable = True
    for layer in backbone.layers:
        layer.trainable = False
    for layer in tunable[len(tunable) - num_layers :]:
        layer.trainable = True


class WeightsUnavailable(ValueError):
    """The base's weights cannot be loaded (bad file, or no download and no cached copy)."""


def backbone(name, input_shape, weights=None):
    """A base by name: ``"small_cnn"`` (``small_cnn_backbone``) or a ``keras.applications`` model.

    Args:
        name: ``"small_cnn"`` or an application name (see ``keras_application``).
        input_shape: ``(height, width, channels)``.
        weights: ``None`` (random initialization), ``"imagenet"`` (applications only) or a
            weights file path.

    Returns:
        ``(backbone, preprocess_input)``; ``preprocess_input`` is ``None`` for ``small_cnn``
        (it takes images in ``[0, 1]``).

    Raises:
        ValueError: unknown name, or ImageNet weights asked of ``small_cnn``.
    """
    if name == "small_cnn":
        if weights == "imagenet":
            raise ValueError("ImageNet weights exist only for keras.applications backbones.")
        model, preprocess = small_cnn_backbone(input_shape), None
    else:
        model, preprocess = keras_application(
            name, input_shape, weights="imagenet" if weights == "imagenet" else None)
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model, preprocess


def backbone_factory(name, input_shape, weights=None, *, allow_download=True):
    """``(make, preprocess_input)``: ``make()`` builds a fresh ``backbone(name, ...)`` each call.

    The weights are loaded once now, so a bad file or a failed download fails before any
    training. ``allow_download`` (a bool, or a function such as ``kerasnn.data.is_online``
    asked only when ImageNet weights are wanted) set false makes every network connection fail at
    once: Keras then uses its cached copy or fails, instead of hanging on a download.

    Raises:
        ValueError: unknown name; ``WeightsUnavailable``: the weights cannot be loaded.
    """
    if name == "small_cnn":
        if weights == "imagenet":
            backbone(name, input_shape, weights)  # raises: ImageNet weights need an application
        preprocess = None
    else:
        _, preprocess = keras_application(name, input_shape)  # an unknown name fails here
    refused = weights == "imagenet" and not (
        allow_download() if callable(allow_download) else allow_download)

    def make():
        return backbone(name, input_shape, weights)[0]

    try:
        with _connections_refused() if refused else contextlib.nullcontext():
            make()
    except Exception as error:  # Keras raises several types for a bad file or a failed download
        raise WeightsUnavailable(_weights_message(weights, error, refused)) from None
    finally:
        keras.backend.clear_session()
    return make, preprocess


def with_weights(make_backbone, weights_path):
    """``make_backbone`` followed by ``load_weights(weights_path)``: e.g. after pretraining."""

    def make():
        model = make_backbone()
        model.load_weights(weights_path)
        return model

    return make


def _weights_message(weights, error, refused):
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    where = "; the network is unreachable and Keras has no cached copy" if refused else ""
    return f"cannot load the base's weights ({weights or 'imagenet'}): {reason}{where}"


@contextlib.contextmanager
def _connections_refused():
    """Within: every new network connection fails at once (downloads use create_connection)."""

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled (offline or KERASNN_OFFLINE=1)")

    connect = socket.create_connection
    socket.create_connection = refuse
    try:
        yield
    finally:
        socket.create_connection = connect
