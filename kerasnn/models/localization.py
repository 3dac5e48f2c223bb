"""Builders for localization and CNN explanations (course notes, "GAP, Localization and CNN
Explanations").

- ``convolutional_base``: blocks of [3x3 conv -> batch norm -> ReLU] x n, pooled between blocks
  but not after the last, so the last feature maps keep a resolution worth explaining
  (``input / 2^(blocks - 1)``), as the CAM paper removes the last poolings of its networks;
- ``gap_classifier``: base -> ``ClassActivationMapping`` (GAP -> FC -> softmax), the network CAM
  needs, or the same base with a Flatten -> FC head (``head="flatten"``) for comparison;
- ``localizer``: base -> a class head and a box head, the two outputs of the multitask loss
  ``L = alpha * CE + (1 - alpha) * ||box' - box||_2``
  (``kerasnn.losses.localization_compile_arguments``).
"""

import keras

from kerasnn import arguments
from kerasnn.layers.normalization import BatchNormalization
from kerasnn.layers.pooling import ClassActivationMapping, GlobalAveragePooling2D


def convolutional_base(inputs, filters=(16, 32, 64), convs_per_block=2, *, prefix="block"):
    """The convolutional feature extractor on the symbolic ``inputs``; returns the last feature
    maps, named ``"features"`` (the layer CAM and Grad-CAM explain)."""
    filters = arguments.positive_ints("filters", filters, allow_empty=False)
    convs_per_block = arguments.positive_int("convs_per_block", convs_per_block)
    x = inputs
    for block, width in enumerate(filters, start=1):
        if block > 1:
            x = keras.layers.MaxPooling2D(2, name=f"{prefix}{block}_pool")(x)
        for conv in range(1, convs_per_block + 1):
            name = f"{prefix}{block}_conv{conv}"
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=name)(x)
            x = BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
            last = block == len(filters) and conv == convs_per_block
            x = keras.layers.ReLU(name="features" if last else f"{name}_relu")(x)
    return x


def _hidden_dense(x, units, dropout, name):
    """Dense (no bias) -> batch norm -> ReLU -> dropout, the hidden layer of a flattened head.

    Without the batch norm, Adam's first steps over the thousands of flattened inputs move every
    pre-activation by several units at once and most ReLUs die (measured: 8% alive after 4
    epochs on the shapes, the loss stuck at log(num_classes)).
    """
    x = keras.layers.Dense(units, use_bias=False, name=name)(x)
    x = BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.Dropout(arguments.rate("dropout", dropout), name=f"{name}_dropout")(x)


def gap_classifier(
    input_shape,
    num_classes,
    *,
    filters=(16, 32, 64),
    convs_per_block=2,
    head="gap",
    dense_units=128,
    dropout=0.3,
    name=None,
):
    """A classifier for CAM: ``convolutional_base`` then a GAP head or a Flatten -> FC head.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        filters, convs_per_block: the base (``convolutional_base``).
        head: ``"gap"``: ``kerasnn.layers.ClassActivationMapping`` (GAP -> Dense -> softmax,
            ``K * num_classes + num_classes`` parameters); ``"flatten"``: Flatten ->
            Dense(``dense_units``) -> batch norm -> ReLU -> Dropout(``dropout``) -> Dense ->
            softmax.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    num_classes = arguments.positive_int("num_classes", num_classes)
    arguments.one_of("head", head, ("gap", "flatten"))
    inputs = keras.Input(input_shape, name="image")
    x = convolutional_base(inputs, filters, convs_per_block)
    if head == "gap":
        outputs = ClassActivationMapping(
            num_classes, activation="softmax", name="output"
        )(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
        x = _hidden_dense(x, arguments.positive_int("dense_units", dense_units), dropout, "fc")
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name or f"{head}_classifier")


def localizer(
    input_shape,
    num_classes,
    *,
    filters=(16, 32, 64),
    convs_per_block=2,
    box_units=128,
    dropout=0.3,
    name="localizer",
):
    """One object per image: a class and its box from one base (section "Localization").

    ``base -> GAP -> Dense -> softmax`` gives the class (output ``"class"``); ``base -> 2x2 max
    pooling -> Flatten -> Dense(box_units) -> batch norm -> ReLU -> Dropout -> Dense(4,
    sigmoid)`` gives the box (output ``"box"``) as normalized ``[ymin, xmin, ymax, xmax]`` (the
    tfds convention): the box head keeps the spatial layout that GAP averages away.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    num_classes = arguments.positive_int("num_classes", num_classes)
    inputs = keras.Input(input_shape, name="image")
    features = convolutional_base(inputs, filters, convs_per_block)
    pooled = GlobalAveragePooling2D(name="gap")(features)
    label = keras.layers.Dense(num_classes, activation="softmax", name="class")(pooled)
    x = keras.layers.MaxPooling2D(2, name="box_pool")(features)
    x = keras.layers.Flatten(name="box_flatten")(x)
    x = _hidden_dense(x, arguments.positive_int("box_units", box_units), dropout, "box_fc")
    box = keras.layers.Dense(4, activation="sigmoid", name="box")(x)
    return keras.Model(inputs, {"class": label, "box": box}, name=name)
