"""Autoencoders (course notes, "Autoencoders", "Neural Autoencoder Recall").

An autoencoder ``D(E(s))`` is trained to reconstruct its input: ``E`` maps ``s in R^d`` to a code
``z = E(s) in R^n`` with ``n < d`` and ``D`` maps it back, the loss being the reconstruction error
(``keras.losses.MeanSquaredError``; the notes' ``sum ||s - D(E(s))||`` up to the norm's power).
A regularization term ``+ lambda R`` steers the code; the sparse autoencoder's is

    lambda * sum_j |h_j|            ("Neural Autoencoder Recall", h the code of one example)

added as the code layer's activity regularizer (``keras.regularizers.L1``: Keras divides the
batch's sum by the batch size, so the loss gets the per-example penalty averaged over the batch).

- ``dense_autoencoder``: Flatten -> Dense(hidden, relu)... -> Dense(n) | Dense(hidden, relu)...
  -> Dense(d, sigmoid) -> Reshape;
- ``conv_autoencoder``: [3x3 conv, stride 2, relu]... -> Dense(n) | Dense -> Reshape ->
  [3x3 *transpose* conv, stride 2, relu]... -> 3x3 transpose conv (sigmoid), as in the notes'
  figure ("ReLU CNN" / "ReLU CNN (upconv)").

Both return the autoencoder with its two halves reachable as models of their own:
``model.get_layer("encoder")`` (image -> code) and ``model.get_layer("decoder")`` (code -> image),
so the encoder can initialize a classifier ("Weight Initialization") and the decoder can decode
random codes ("Generative Models"). Inputs are images in ``[0, 1]`` (hence the sigmoid output).
"""

import math

import keras

from kerasnn import arguments


def _code_layer(code_size, code_activation, sparsity):
    sparsity = arguments.non_negative_number("sparsity", sparsity)
    return keras.layers.Dense(
        code_size, activation=code_activation, name="code",
        activity_regularizer=keras.regularizers.L1(sparsity) if sparsity else None)


def _assemble(encoder, decoder, name):
    inputs = keras.Input(encoder.inputs[0].shape[1:], name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name=name)


def dense_autoencoder(input_shape, code_size, hidden_units=(128,), *, sparsity=0.0,
                      code_activation=None, name="autoencoder"):
    """A fully connected autoencoder (the decoder mirrors the encoder's hidden layers).

    Args:
        input_shape: shape of one input, e.g. ``(8, 8, 1)``.
        code_size: ``n``, the size of the code ``z = E(s)``.
        hidden_units: widths of the encoder's hidden layers (the decoder's, reversed).
        sparsity: ``lambda`` of the penalty ``lambda * sum_j |h_j|`` on the code (0: none).
        code_activation: activation of the code (``None``: linear; ``"relu"`` lets the sparse
            penalty switch units off exactly).

    Example:
        >>> model = dense_autoencoder((8, 8, 1), 4)
        >>> tuple(model.get_layer("encoder").output.shape), tuple(model.output.shape)
        ((None, 4), (None, 8, 8, 1))
    """
    input_shape = tuple(arguments.positive_ints("input_shape", input_shape, allow_empty=False))
    code_size = arguments.positive_int("code_size", code_size)
    hidden_units = arguments.positive_ints("hidden_units", hidden_units)
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"encoder_dense{index + 1}")(x)
    encoder = keras.Model(inputs, _code_layer(code_size, code_activation, sparsity)(x),
                          name="encoder")
    codes = keras.Input((code_size,), name="code")
    x = codes
    for index, units in enumerate(reversed(hidden_units)):
        x = keras.layers.Dense(units, activation="relu", name=f"decoder_dense{index + 1}")(x)
    x = keras.layers.Dense(math.prod(input_shape), activation="sigmoid", name="pixels")(x)
    decoder = keras.Model(codes, keras.layers.Reshape(input_shape, name="image")(x),
                          name="decoder")
    return _assemble(encoder, decoder, name)


def conv_autoencoder(input_shape, code_size, filters=(16, 32), *, sparsity=0.0,
                     code_activation=None, name="autoencoder"):
    """A convolutional autoencoder with transpose convolutions in the decoder.

    Each of ``filters`` is a 3x3 convolution of stride 2 (halving height and width) in the
    encoder and a 3x3 transpose convolution of stride 2 (doubling them) in the decoder.

    Args:
        input_shape: ``(height, width, channels)``, height and width divisible by
            ``2 ** len(filters)``.
        code_size, sparsity, code_activation: as for ``dense_autoencoder``.
        filters: filters of the encoder's convolutions (the decoder's, reversed).

    Example:
        >>> model = conv_autoencoder((8, 8, 1), 4)
        >>> tuple(model.get_layer("decoder").output.shape)
        (None, 8, 8, 1)
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    code_size = arguments.positive_int("code_size", code_size)
    filters = arguments.positive_ints("filters", filters, allow_empty=False)
    scale = 2 ** len(filters)
    height, width, channels = input_shape
    if height % scale or width % scale:
        arguments.fail("input_shape", f"height and width divisible by 2 ** len(filters) = {scale}",
                       input_shape)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for index, width_ in enumerate(filters):
        x = keras.layers.Conv2D(width_, 3, strides=2, padding="same", activation="relu",
                                name=f"encoder_conv{index + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    encoder = keras.Model(inputs, _code_layer(code_size, code_activation, sparsity)(x),
                          name="encoder")
    codes = keras.Input((code_size,), name="code")
    grid = (height // scale, width // scale, filters[-1])
    x = keras.layers.Dense(math.prod(grid), activation="relu", name="decoder_dense")(codes)
    x = keras.layers.Reshape(grid, name="grid")(x)
    for index, width_ in enumerate(reversed(filters)):
        x = keras.layers.Conv2DTranspose(width_, 3, strides=2, padding="same", activation="relu",
                                         name=f"decoder_upconv{index + 1}")(x)
    x = keras.layers.Conv2DTranspose(channels, 3, padding="same", activation="sigmoid",
                                     name="image")(x)
    decoder = keras.Model(codes, x, name="decoder")
    return _assemble(encoder, decoder, name)


def encoder_classifier(encoder, num_classes, *, trainable_encoder=False, name="classifier"):
    """The notes' "Weight Initialization": drop the decoder, plug a softmax FC layer on the code.

    Args:
        encoder: an autoencoder's ``get_layer("encoder")`` (pretrained), or a fresh one.
        num_classes: classes of the FC layer.
        trainable_encoder: fine-tune the encoder too (the notes: when there are enough labels).
    """
    num_classes = arguments.positive_int("num_classes", num_classes)
    encoder.trainable = arguments.boolean("trainable_encoder", trainable_encoder)
    inputs = keras.Input(encoder.inputs[0].shape[1:], name="image")
    # training=False: a frozen encoder stays in inference mode (matters once it has dropout/BN).
    codes = encoder(inputs, training=None if trainable_encoder else False)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="class")(codes)
    return keras.Model(inputs, outputs, name=name)
