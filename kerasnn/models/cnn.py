"""Convolutional classifiers: LeNet-5, VGG, the Inception module and a small Inception net.

Course sections: "Convolutional Neural Networks", "Relevant CNN Architectures" (LeNet-5, VGG16,
Inception Module).

Every builder is a plain function with explicit arguments that returns a ``keras.Model`` mapping
images ``(batch, height, width, channels)`` to class posteriors (``output_activation="softmax"``)
or raw class scores (``output_activation=None``).
"""

import keras
from keras import layers

from kerasnn import arguments
from kerasnn.models import _layers

HEADS = ("flatten", "gap_dense", "gap", "cam")


def _check_input_shape(input_shape):
    return arguments.image_shape("input_shape", input_shape)


def _classifier_head(x, num_classes, output_activation):
    return layers.Dense(num_classes, activation=output_activation, name="output")(x)


def classification_head(
    feature_maps,
    num_classes,
    *,
    head="gap_dense",
    dense_units=(),
    dropout=0.0,
    output_activation="softmax",
):
    """The top of a CNN classifier on its last feature maps ``(batch, height, width, channels)``.

    - ``"flatten"``: unroll the maps, then ``[Dropout -> Dense(relu)]`` per ``dense_units``,
      ``Dropout`` and the output ``Dense`` (section "Dense Layers");
    - ``"gap_dense"``: the same, on the global average of each map instead of the unrolled maps
      (section "GAP Layers": no parameters, robust to shifts, any image size);
    - ``"gap"``: the notes' GAP head, "a substitute for the fully connected output layer" with
      "a softmax introduced just after it": a 1x1 convolution makes as many feature maps as
      classes ("the number of feature maps has to correspond to the number of output classes";
      the "hidden layer to adjust feature dimension"), their averages are the class scores, then
      the softmax; no fully connected layer (``dense_units`` unused);
    - ``"cam"``: GAP -> FC -> softmax as one ``kerasnn.layers.ClassActivationMapping`` layer
      (section "The GAP revisited - CAM"): ``S_c = sum_k w_k^c F_k``, and the same weights give
      the class activation maps ``M_c(x, y) = sum_k w_k^c f_k(x, y)``
      (``model.get_layer("output").class_activation_maps(features)``; ``dense_units`` unused).

    ``dropout`` (0 disables it) comes before each hidden dense layer; without hidden layers, before
    the output layer (or the 1x1 class-map convolution). The output layer is named ``"output"``.

    Example:
        >>> maps = keras.Input((7, 7, 32))
        >>> scores = classification_head(maps, 10, head="gap")
        >>> keras.Model(maps, scores).count_params()  # 1x1 conv: 32 * 10 + 10, then no weights
        330
    """
    arguments.one_of("head", head, HEADS)
    num_classes = arguments.positive_int("num_classes", num_classes)
    dense_units = arguments.positive_ints("dense_units", dense_units)
    dropout = arguments.rate("dropout", dropout)
    x = feature_maps
    if head == "gap":
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(num_classes, 1, name="class_maps")(x)
        x = _layers.global_average_pooling(name="global_pool")(x)
        return layers.Activation(output_activation, name="output")(x)
    if head == "cam":
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        return _layers.class_activation_mapping(x, num_classes, output_activation, name="output")
    if head == "flatten":
        x = layers.Flatten(name="flatten")(x)
    else:
        x = _layers.global_average_pooling(name="global_pool")(x)
    for index, units in enumerate(dense_units, start=1):
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{index}")(x)
        x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
    if dropout and not dense_units:
        x = layers.Dropout(dropout, name="dropout")(x)
    return _classifier_head(x, num_classes, output_activation)


def lenet5(
    input_shape=(32, 32, 1),
    num_classes=10,
    *,
    activation="tanh",
    pooling="average",
    output_activation="softmax",
    name="lenet5",
):
    """LeNet-5 (section "Relevant CNN Architectures", LeNet-5).

    Convolutions extract features, average pooling subsamples, tanh is the non-linearity and an
    MLP classifies. On a 32x32 input the layer shapes are::

        C1  conv 5x5, 6 maps     28x28x6       156 parameters
        S2  avg-pool 2x2         14x14x6
        C3  conv 5x5, 16 maps    10x10x16    2,416
        S4  avg-pool 2x2          5x5x16
        C5  conv 5x5, 120 maps    1x1x120   48,120
        F6  dense 84                  84    10,164
        output dense num_classes            850 (for 10 classes)   total 61,706

    Inputs of another size are first resized to 32x32 (LeNet-5 was designed for 32x32 digits), so
    the architecture and its parameter count stay the classic ones. C3 connects every S2 map (the
    original's sparse C3 connection table is a detail the notes leave out).

    Args:
        input_shape: ``(height, width, channels)`` of the images.
        num_classes: size of the output layer.
        activation: non-linearity after C1, C3, C5 and F6.
        pooling: ``"average"`` (the original subsampling) or ``"max"``.
    """
    input_shape = _check_input_shape(input_shape)
    arguments.positive_int("num_classes", num_classes)
    arguments.one_of("pooling", pooling, ("average", "max"))
    pool = layers.AveragePooling2D if pooling == "average" else layers.MaxPooling2D
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if input_shape[:2] != (32, 32):
        x = layers.Resizing(32, 32, name="resize")(x)
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = pool(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, output_activation), name=name)


VGG16_FILTERS = (64, 128, 256, 512, 512)
VGG16_CONVS_PER_BLOCK = (2, 2, 3, 3, 3)


def vgg(
    input_shape,
    num_classes,
    *,
    filters=VGG16_FILTERS,
    convs_per_block=VGG16_CONVS_PER_BLOCK,
    dense_units=(4096, 4096),
    dropout=0.5,
    batch_normalization=False,
    head="flatten",
    output_activation="softmax",
    name="vgg",
):
    """A VGG network: blocks of 3x3 convolutions, each block closed by 2x2 max pooling
    (section "Relevant CNN Architectures", VGG16).

    Stacks of 3x3 convolutions reach the receptive field of one larger filter with fewer
    parameters and more non-linearities. The defaults are VGG16 (13 convolutions in 5 blocks,
    two 4096-unit dense layers): 138,357,544 parameters on 224x224x3 inputs with 1000 classes.
    A block is not pooled when its input is already 1 pixel wide, so small images work with
    many blocks.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        filters: filters of the convolutions of each block.
        convs_per_block: number of 3x3 convolutions in each block (an int applies to all blocks).
        dense_units: hidden dense layers of the classifier (``"flatten"`` and ``"gap_dense"``
            heads).
        dropout: dropout rate before each hidden dense layer (0 disables it).
        batch_normalization: ``kerasnn.layers.BatchNormalization`` after each convolution
            (before the ReLU; the convolution then has no bias), section "Batch Normalization".
        head: ``"flatten"`` (VGG's own), ``"gap_dense"``, ``"gap"`` (the notes' GAP head: as
            many maps as classes, averaged, softmax) or ``"cam"``; see ``classification_head``.
        output_activation: ``"softmax"`` for posteriors, ``None`` for scores.
    """
    input_shape = _check_input_shape(input_shape)
    arguments.positive_int("num_classes", num_classes)
    filters = arguments.positive_ints("filters", filters, allow_empty=False)
    if isinstance(convs_per_block, int):
        convs_per_block = (convs_per_block,) * len(filters)
    convs_per_block = arguments.positive_ints("convs_per_block", convs_per_block)
    if len(convs_per_block) != len(filters):
        arguments.fail(
            "convs_per_block",
            f"an int or one count per block of `filters` ({len(filters)})",
            convs_per_block,
        )
    arguments.rate("dropout", dropout)
    arguments.one_of("head", head, HEADS)
    dense_units = arguments.positive_ints("dense_units", dense_units)

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    height, width = input_shape[:2]
    for block, (block_filters, num_convs) in enumerate(zip(filters, convs_per_block), start=1):
        for conv in range(1, num_convs + 1):
            prefix = f"block{block}_conv{conv}"
            if batch_normalization:
                x = layers.Conv2D(block_filters, 3, padding="same", use_bias=False, name=prefix)(x)
                x = _layers.batch_normalization(name=f"{prefix}_bn")(x)
                x = layers.Activation("relu", name=f"{prefix}_relu")(x)
            else:
                x = layers.Conv2D(block_filters, 3, padding="same", activation="relu", name=prefix)(
                    x
                )
        if min(height, width) >= 2:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            height, width = height // 2, width // 2
    outputs = classification_head(
        x,
        num_classes,
        head=head,
        dense_units=dense_units,
        dropout=dropout,
        output_activation=output_activation,
    )
    return keras.Model(inputs, outputs, name=name)


def inception_module(
    inputs,
    filters_1x1,
    filters_3x3_reduce,
    filters_3x3,
    filters_5x5_reduce,
    filters_5x5,
    filters_pool_projection,
    *,
    name="inception",
):
    """An Inception module (section "Relevant CNN Architectures", Inception Module).

    Four parallel branches on the same input, concatenated along the channels:

    - 1x1 convolution (``filters_1x1``);
    - 1x1 reduction (``filters_3x3_reduce``) then 3x3 convolution (``filters_3x3``);
    - 1x1 reduction (``filters_5x5_reduce``) then 5x5 convolution (``filters_5x5``);
    - 3x3 max pooling (stride 1) then 1x1 projection (``filters_pool_projection``).

    Zero ("same") padding keeps the spatial resolution, so the output has the input's height and
    width and ``filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_projection`` channels. The
    1x1 reductions keep the 3x3 and 5x5 convolutions cheap: they see few channels.

    Args:
        inputs: a symbolic 4-D tensor ``(batch, height, width, channels)``.
        filters_*: the number of filters of each convolution (all positive integers).
        name: prefix of the module's layer names.

    Returns:
        The concatenated symbolic tensor.

    Example:
        >>> x = keras.Input((28, 28, 192))
        >>> inception_module(x, 64, 96, 128, 16, 32, 32).shape  # GoogLeNet's inception (3a)
        (None, 28, 28, 256)
    """
    filter_counts = dict(
        filters_1x1=filters_1x1,
        filters_3x3_reduce=filters_3x3_reduce,
        filters_3x3=filters_3x3,
        filters_5x5_reduce=filters_5x5_reduce,
        filters_5x5=filters_5x5,
        filters_pool_projection=filters_pool_projection,
    )
    for argument, value in filter_counts.items():
        arguments.positive_int(argument, value)
    if len(inputs.shape) != 4:
        arguments.shape_error("inputs", "(batch, height, width, channels)", inputs.shape)

    def conv(x, filters, size, suffix):
        return layers.Conv2D(
            filters, size, padding="same", activation="relu", name=f"{name}_{suffix}"
        )(x)

    branch_1x1 = conv(inputs, filters_1x1, 1, "1x1")
    branch_3x3 = conv(conv(inputs, filters_3x3_reduce, 1, "3x3_reduce"), filters_3x3, 3, "3x3")
    branch_5x5 = conv(conv(inputs, filters_5x5_reduce, 1, "5x5_reduce"), filters_5x5, 5, "5x5")
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(inputs)
    branch_pool = conv(pooled, filters_pool_projection, 1, "pool_projection")
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(
        [branch_1x1, branch_3x3, branch_5x5, branch_pool]
    )


SMALL_INCEPTION_MODULES = ((16, 16, 24, 4, 8, 8), (32, 24, 48, 8, 16, 16))


def inception_net(
    input_shape,
    num_classes,
    *,
    stem_filters=32,
    modules=SMALL_INCEPTION_MODULES,
    dropout=0.2,
    head="gap_dense",
    output_activation="softmax",
    name="inception_net",
):
    """A small Inception-style network: a 3x3 stem, Inception modules separated by 2x2 max
    pooling, global average pooling (``kerasnn.layers.GlobalAveragePooling2D``) and a softmax
    classifier.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        stem_filters: filters of the 3x3 stem convolution.
        modules: one tuple of the six ``inception_module`` filter counts per module.
        dropout: dropout rate before the classifier.
        head: ``"gap_dense"`` (GAP -> Dropout -> Dense), ``"gap"`` (the notes' GAP head: a 1x1
            convolution to one map per class, GAP, softmax; no FC layer), ``"cam"`` (GAP -> FC
            -> softmax as a ``ClassActivationMapping`` layer) or ``"flatten"``; see
            ``classification_head``.
        output_activation: ``"softmax"`` for posteriors, ``None`` for scores.
    """
    input_shape = _check_input_shape(input_shape)
    arguments.positive_int("num_classes", num_classes)
    arguments.positive_int("stem_filters", stem_filters)
    arguments.rate("dropout", dropout)
    modules = tuple(tuple(module) for module in modules)
    if not modules or any(len(module) != 6 for module in modules):
        arguments.fail("modules", "at least one tuple of six filter counts", modules)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(stem_filters, 3, padding="same", activation="relu", name="stem")(inputs)
    height, width = input_shape[:2]
    for index, module in enumerate(modules, start=1):
        if index > 1 and min(height, width) >= 2:
            x = layers.MaxPooling2D(2, name=f"pool{index - 1}")(x)
            height, width = height // 2, width // 2
        x = inception_module(x, *module, name=f"inception{index}")
    outputs = classification_head(
        x, num_classes, head=head, dropout=dropout, output_activation=output_activation
    )
    return keras.Model(inputs, outputs, name=name)
