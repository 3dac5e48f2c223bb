"""Image-classification model builders: linear classifier, MLP, LeNet-5, VGG, Inception, k-NN.

Course sections: "Linear Classifier", "Nearest Neighbor Classifiers", "Convolutional Neural
Networks", "Relevant CNN Architectures" (LeNet-5, VGG16, Inception Module).

Every builder is a plain function with explicit arguments that returns a ``keras.Model`` mapping
images ``(batch, height, width, channels)`` to class posteriors (``output_activation="softmax"``)
or raw class scores (``output_activation=None``).
"""

import keras
import numpy as np
from keras import layers, ops

from kerasnn.layers.arguments import check_rate


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer; received {name}={value!r}.")


def _check_input_shape(input_shape, rank=3):
    shape = tuple(input_shape)
    if len(shape) != rank or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise ValueError(
            f"Argument `input_shape` must be {rank} positive integers (height, width, channels); "
            f"received input_shape={input_shape!r}."
        )
    return shape


def _classifier_head(x, num_classes, output_activation):
    return layers.Dense(num_classes, activation=output_activation, name="output")(x)


def linear_classifier(input_shape, num_classes, *, l2=0.0, output_activation=None,
                      name="linear_classifier"):
    """The unrolled-image linear classifier ``s = W x + b`` (section "Linear Classifier").

    The image is unrolled into ``x`` of length ``d = H * W * C``; ``W`` has shape ``(L, d)`` and
    the predicted class is ``argmax_i s_i``. Keras stores ``W`` transposed: the ``scores`` layer's
    kernel is ``(d, L)`` and its column ``i`` reshaped to ``input_shape`` is the template of class
    ``i`` (section "Geometric Interpretation").

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: ``L``.
        l2: L2 weight-decay factor on ``W`` (0 disables it).
        output_activation: ``None`` returns the scores ``s``; ``"softmax"`` the posteriors.

    Example:
        >>> model = linear_classifier((8, 8, 1), 10)
        >>> model.count_params()  # 64 * 10 + 10
        650
    """
    input_shape = _check_input_shape(input_shape)
    _check_positive("num_classes", num_classes)
    if l2 < 0:
        raise ValueError(f"Argument `l2` must be >= 0; received l2={l2!r}.")
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="unroll")(inputs)
    scores = layers.Dense(
        num_classes,
        activation=output_activation,
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        name="scores",
    )(x)
    return keras.Model(inputs, scores, name=name)


def mlp_classifier(input_shape, num_classes, *, hidden_units=(128,), activation="relu", dropout=0.0,
                   output_activation="softmax", name="mlp"):
    """A fully connected network on the unrolled image (section "MLP, Fully connected").

    The baseline a CNN is compared with: every pixel is a separate input feature.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        hidden_units: width of each hidden ``Dense`` layer.
        activation: hidden activation.
        dropout: dropout rate after each hidden layer.
    """
    input_shape = _check_input_shape(input_shape)
    _check_positive("num_classes", num_classes)
    for units in hidden_units:
        _check_positive("hidden_units", units)
    check_rate("dropout", dropout)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="unroll")(inputs)
    for index, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation=activation, name=f"dense{index}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, output_activation), name=name)


def lenet5(input_shape=(32, 32, 1), num_classes=10, *, activation="tanh", pooling="average",
           output_activation="softmax", name="lenet5"):
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
    _check_positive("num_classes", num_classes)
    if pooling not in ("average", "max"):
        raise ValueError(f"Argument `pooling` must be 'average' or 'max'; received pooling={pooling!r}.")
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


def vgg(input_shape, num_classes, *, filters=VGG16_FILTERS, convs_per_block=VGG16_CONVS_PER_BLOCK,
        dense_units=(4096, 4096), dropout=0.5, batch_norm=False, global_pooling=False,
        output_activation="softmax", name="vgg"):
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
        dense_units: hidden dense layers of the classifier.
        dropout: dropout rate before each hidden dense layer (0 disables it).
        batch_norm: batch normalization after each convolution (before the ReLU).
        global_pooling: global average pooling instead of flattening the last feature maps.
    """
    input_shape = _check_input_shape(input_shape)
    _check_positive("num_classes", num_classes)
    filters = tuple(filters)
    if not filters:
        raise ValueError(f"Argument `filters` must name at least one block; received filters={filters!r}.")
    if isinstance(convs_per_block, int):
        convs_per_block = (convs_per_block,) * len(filters)
    convs_per_block = tuple(convs_per_block)
    if len(convs_per_block) != len(filters):
        raise ValueError(
            "Arguments `filters` and `convs_per_block` must have the same length; received "
            f"filters={filters!r}, convs_per_block={convs_per_block!r}."
        )
    for value in filters:
        _check_positive("filters", value)
    for value in convs_per_block:
        _check_positive("convs_per_block", value)
    check_rate("dropout", dropout)

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    height, width = input_shape[:2]
    for block, (block_filters, num_convs) in enumerate(zip(filters, convs_per_block), start=1):
        for conv in range(1, num_convs + 1):
            prefix = f"block{block}_conv{conv}"
            if batch_norm:
                x = layers.Conv2D(block_filters, 3, padding="same", use_bias=False, name=prefix)(x)
                x = layers.BatchNormalization(name=f"{prefix}_bn")(x)
                x = layers.Activation("relu", name=f"{prefix}_relu")(x)
            else:
                x = layers.Conv2D(block_filters, 3, padding="same", activation="relu", name=prefix)(x)
        if min(height, width) >= 2:
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            height, width = height // 2, width // 2
    if global_pooling:
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
    for index, units in enumerate(dense_units, start=1):
        _check_positive("dense_units", units)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{index}")(x)
        x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
    if dropout and not dense_units:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, output_activation), name=name)


def inception_module(inputs, filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                     filters_5x5, filters_pool_projection, *, name="inception"):
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
    arguments = dict(filters_1x1=filters_1x1, filters_3x3_reduce=filters_3x3_reduce,
                     filters_3x3=filters_3x3, filters_5x5_reduce=filters_5x5_reduce,
                     filters_5x5=filters_5x5, filters_pool_projection=filters_pool_projection)
    for argument, value in arguments.items():
        _check_positive(argument, value)
    if len(inputs.shape) != 4:
        raise ValueError(
            f"`inputs` must be a 4-D tensor (batch, height, width, channels); received shape {inputs.shape}."
        )

    def conv(x, filters, size, suffix):
        return layers.Conv2D(filters, size, padding="same", activation="relu", name=f"{name}_{suffix}")(x)

    branch_1x1 = conv(inputs, filters_1x1, 1, "1x1")
    branch_3x3 = conv(conv(inputs, filters_3x3_reduce, 1, "3x3_reduce"), filters_3x3, 3, "3x3")
    branch_5x5 = conv(conv(inputs, filters_5x5_reduce, 1, "5x5_reduce"), filters_5x5, 5, "5x5")
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(inputs)
    branch_pool = conv(pooled, filters_pool_projection, 1, "pool_projection")
    return layers.Concatenate(axis=-1, name=f"{name}_concat")(
        [branch_1x1, branch_3x3, branch_5x5, branch_pool]
    )


SMALL_INCEPTION_MODULES = ((16, 16, 24, 4, 8, 8), (32, 24, 48, 8, 16, 16))


def inception_net(input_shape, num_classes, *, stem_filters=32, modules=SMALL_INCEPTION_MODULES,
                  dropout=0.2, output_activation="softmax", name="inception_net"):
    """A small Inception-style network: a 3x3 stem, Inception modules separated by 2x2 max
    pooling, global average pooling and a softmax classifier.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of classes.
        stem_filters: filters of the 3x3 stem convolution.
        modules: one tuple of the six ``inception_module`` filter counts per module.
        dropout: dropout rate before the classifier.
    """
    input_shape = _check_input_shape(input_shape)
    _check_positive("num_classes", num_classes)
    _check_positive("stem_filters", stem_filters)
    check_rate("dropout", dropout)
    modules = tuple(tuple(module) for module in modules)
    if not modules or any(len(module) != 6 for module in modules):
        raise ValueError(
            "Argument `modules` must hold at least one tuple of six filter counts; "
            f"received modules={modules!r}."
        )
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(stem_filters, 3, padding="same", activation="relu", name="stem")(inputs)
    height, width = input_shape[:2]
    for index, module in enumerate(modules, start=1):
        if index > 1 and min(height, width) >= 2:
            x = layers.MaxPooling2D(2, name=f"pool{index - 1}")(x)
            height, width = height // 2, width // 2
        x = inception_module(x, *module, name=f"inception{index}")
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _classifier_head(x, num_classes, output_activation), name=name)


@keras.saving.register_keras_serializable(package="kerasnn")
class NearestNeighbors(layers.Layer):
    """k-nearest-neighbour voting over a stored training set (section "Nearest Neighbor Classifiers").

    Each query ``x`` is compared with every stored example ``x_i`` by the pixel-wise distance

        L1: d(x, x_i) = sum_k |x_k - x_ik|        L2: d(x, x_i) = sqrt(sum_k (x_k - x_ik)^2)

    and receives the votes of its ``k`` nearest stored examples. The output is a vector of class
    frequencies that sums to one: ``(votes + 0.5 * onehot(nearest)) / (k + 0.5)``. The half vote
    of the single nearest neighbour breaks ties between classes with equally many votes in its
    favour and can never overturn a strict majority.

    The training set lives in non-trainable weights (``examples`` of shape ``(N, d)``,
    ``labels`` of shape ``(N,)``), so a saved model carries it. Fill them with ``set_weights``.

    Args:
        num_examples: ``N``, the number of stored training examples.
        num_classes: number of classes.
        k: number of neighbours that vote (``1 <= k <= N``).
        distance: ``"l1"`` or ``"l2"``.

    Call arguments:
        inputs: ``(batch, ...)`` queries with ``d`` values each (flattened here).

    Returns:
        ``(batch, num_classes)`` vote frequencies.

    Example:
        >>> layer = NearestNeighbors(num_examples=2, num_classes=2, k=1, distance="l1")
        >>> layer.build((None, 2))
        >>> layer.set_weights([np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0.0, 1.0])])
        >>> layer(np.array([[0.9, 0.8]])).numpy().argmax(-1)
        array([1])
    """

    def __init__(self, num_examples, num_classes, k=1, distance="l2", **kwargs):
        super().__init__(**kwargs)
        _check_positive("num_examples", num_examples)
        _check_positive("num_classes", num_classes)
        _check_positive("k", k)
        if k > num_examples:
            raise ValueError(f"Argument `k` must be at most num_examples={num_examples}; received k={k}.")
        if distance not in ("l1", "l2"):
            raise ValueError(f"Argument `distance` must be 'l1' or 'l2'; received distance={distance!r}.")
        self.num_examples = num_examples
        self.num_classes = num_classes
        self.k = k
        self.distance = distance

    def build(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            features *= dim
        self.examples = self.add_weight(shape=(self.num_examples, features), initializer="zeros",
                                        trainable=False, name="examples")
        self.labels = self.add_weight(shape=(self.num_examples,), initializer="zeros",
                                      trainable=False, name="labels")

    def distances(self, inputs):
        """``(batch, N)`` distances between the queries and every stored example."""
        queries = ops.reshape(ops.cast(inputs, self.compute_dtype), (ops.shape(inputs)[0], -1))
        examples = ops.cast(self.examples, self.compute_dtype)
        if self.distance == "l1":
            return ops.sum(ops.abs(queries[:, None, :] - examples[None, :, :]), axis=-1)
        squared = (ops.sum(queries**2, axis=-1, keepdims=True) - 2 * queries @ ops.transpose(examples)
                   + ops.sum(examples**2, axis=-1)[None, :])
        return ops.sqrt(ops.maximum(squared, 0.0))

    def call(self, inputs):
        _, nearest = ops.top_k(-self.distances(inputs), k=self.k)
        neighbour_labels = ops.cast(ops.take(self.labels, nearest), "int32")
        votes = ops.sum(ops.one_hot(neighbour_labels, self.num_classes, dtype=self.compute_dtype), axis=1)
        tie_break = 0.5 * ops.one_hot(neighbour_labels[:, 0], self.num_classes, dtype=self.compute_dtype)
        return (votes + tie_break) / (self.k + 0.5)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_examples": self.num_examples,
                "num_classes": self.num_classes, "k": self.k, "distance": self.distance}


def nearest_neighbor_classifier(train_inputs, train_labels, num_classes, *, k=1, distance="l2",
                                name="nearest_neighbor"):
    """A k-NN classifier as a ``keras.Model`` holding ``train_inputs`` / ``train_labels``.

    "Training" is storing the training set; all the work happens at test time (one distance per
    stored example and query), which is what makes k-NN slow to evaluate.

    Args:
        train_inputs: ``(N, height, width, channels)`` array.
        train_labels: ``(N,)`` integer class ids.
        num_classes, k, distance: see ``NearestNeighbors``.
    """
    train_inputs = np.asarray(train_inputs, dtype="float32")
    train_labels = np.asarray(train_labels)
    if len(train_inputs) != len(train_labels):
        raise ValueError(
            f"`train_inputs` and `train_labels` must have the same length; received "
            f"{len(train_inputs)} and {len(train_labels)}."
        )
    inputs = keras.Input(train_inputs.shape[1:], name="image")
    voting = NearestNeighbors(len(train_inputs), num_classes, k=k, distance=distance, name="neighbors")
    model = keras.Model(inputs, voting(inputs), name=name)
    voting.set_weights([train_inputs.reshape(len(train_inputs), -1), train_labels.astype("float32")])
    return model
