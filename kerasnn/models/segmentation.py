"""Segmentation builders and transformations (course notes, "FCNN for Image Segmentation" to
"U-NET").

- ``convolutionalize``: a classifier ending in Flatten -> Dense... becomes fully convolutional
  ("Only Convolutions", "Patch Based" step 4): the first Dense on a k x k x C map becomes a
  k x k convolution, the later ones 1 x 1 convolutions, with the same weights;
- ``shift_and_stitch``: the f^2 shifted passes of a heatmap network interleaved into a full
  resolution map ("Shift and Stitch"); ``rarefy``: the equivalent network without the pooling
  stride and with dilated ("rarefied") later filters;
- ``fcn_backbone`` and ``fcn``: FCN-32s/16s/8s with the notes' skip connections and one of the
  four upsamplings of "Upsampling";
- ``unet``: the U-Net of "U-NET";
- ``patch_classifier``: the small classifier of patch-based training ("Patch Based"), ready for
  ``convolutionalize``; ``initialize_from``: FCN-16s from FCN-32s, FCN-8s from FCN-16s.
"""

import keras
import numpy as np

from kerasnn import arguments
from kerasnn.layers.normalization import BatchNormalization
from kerasnn.layers.pooling import MaxPoolingWithArgmax2D
from kerasnn.layers.upsampling import BedOfNailsUpsampling2D, MaxUnpooling2D

UPSAMPLINGS = ("nearest", "bed_of_nails", "max_unpooling", "transpose")
FCN_VARIANTS = ("32s", "16s", "8s")


def _clone(layer, **overrides):
    return type(layer).from_config({**layer.get_config(), **overrides})


def _model_with_weights(inputs, outputs, name, pairs):
    """The model ``inputs -> outputs`` after ``layer.set_weights(weights)`` for each pair."""
    model = keras.Model(inputs, outputs, name=name)
    for layer, weights in pairs:
        layer.set_weights(weights)
    return model


def convolutionalize(model):
    """The fully convolutional version of a classifier ``... -> Flatten -> Dense -> ... -> Dense``.

    The layers before ``Flatten`` are copied; the first ``Dense`` after it, on a ``k x k x C``
    map, becomes a ``k x k`` ``Conv2D`` ("valid") whose kernel is the Dense kernel reshaped to
    ``(k, k, C, units)`` (``Flatten`` orders features row, column, channel); each later
    ``Dense`` becomes a ``1 x 1`` convolution ("1 x 1 x N x L", section "Only Convolutions").
    Dropout, activation and batch-normalization layers after ``Flatten`` act on the last axis
    and are copied as they are. On an input of the training size the result outputs
    ``(batch, 1, 1, classes)``: the classifier's scores; on a larger input, a heatmap per class.

    Args:
        model: a built ``keras.Model`` whose layers form one chain (Sequential or a linear
            functional model), channels-last, with a ``Flatten`` followed by ``Dense`` layers.

    Returns:
        A new ``keras.Model`` on inputs of any size ``(None, None, channels)``.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    flatten = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Flatten)]
    if len(flatten) != 1:
        arguments.fail("model", "a classifier with one Flatten layer", None,
                       received=f"{len(flatten)} Flatten layers")
    head_allowed = (keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation,
                    keras.layers.ReLU, keras.layers.Softmax, keras.layers.BatchNormalization)
    for layer in layers[flatten[0] + 1:]:
        if not isinstance(layer, head_allowed) and type(layer).__name__ != "BatchNormalization":
            arguments.fail("model", "a head of Dense, Dropout, activation and batch-norm layers",
                           None, received=f"a {type(layer).__name__} layer after Flatten")
    feature_shape = layers[flatten[0]].input.shape[1:]
    if len(feature_shape) != 3 or None in feature_shape:
        arguments.shape_error("model", "a known (k, k, C) map before Flatten", feature_shape)
    inputs = keras.Input((None, None, model.inputs[0].shape[-1]))
    x, first_dense, pairs = inputs, True, []
    for layer in layers[:flatten[0]]:
        clone = _clone(layer)
        x = clone(x)
        pairs.append((clone, layer.get_weights()))
    for layer in layers[flatten[0] + 1:]:
        if isinstance(layer, keras.layers.Dense):
            kernel, *bias = layer.get_weights()
            window = feature_shape[:2] if first_dense else (1, 1)
            channels = feature_shape[2] if first_dense else kernel.shape[0]
            config = layer.get_config()
            clone = keras.layers.Conv2D(
                config["units"], window, activation=config["activation"],
                use_bias=config["use_bias"], name=f"{layer.name}_conv")
            x = clone(x)
            pairs.append((clone, [kernel.reshape(*window, channels, -1), *bias]))
            first_dense = False
        else:
            clone = _clone(layer)
            x = clone(x)
            pairs.append((clone, layer.get_weights()))
    return _model_with_weights(inputs, x, f"{model.name}_fully_convolutional", pairs)


def shift_and_stitch(model, images, factor):
    """Full-resolution heatmaps from a network that downsamples by ``factor`` ("Shift and
    Stitch"): run it on the ``factor^2`` shifted inputs ``images[:, r:, c:]`` (zero-padded back
    to size, ``0 <= r, c < factor``) and interleave: ``stitched[i f + r, j f + c] = out_rc[i, j]``.

    Every output pixel then comes from the receptive field whose top-left corner is at that
    pixel (a fixed offset from the receptive field's centre). The result equals the output of
    ``rarefy(model)`` where both are defined.

    Args:
        model: maps ``(batch, H, W, C)`` to ``(batch, H', W', K)`` heatmaps.
        images: ``(batch, H, W, C)`` array.
        factor: the network's total downsampling ratio ``f``.

    Returns:
        ``(batch, H' f, W' f, K)`` NumPy array.
    """
    factor = arguments.positive_int("factor", factor)
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        arguments.shape_error("images", "(batch, height, width, channels)", images.shape)
    outputs = []
    for r in range(factor):
        for c in range(factor):
            shifted = np.pad(images[:, r:, c:], ((0, 0), (0, r), (0, c), (0, 0)))
            outputs.append(keras.ops.convert_to_numpy(model(shifted, training=False)))
    outputs = np.stack(outputs).reshape(factor, factor, *outputs[0].shape)  # (r, c, b, h, w, k)
    batch, height, width, classes = outputs.shape[2:]
    stitched = outputs.transpose(2, 3, 0, 4, 1, 5)  # (b, h, r, w, c, k)
    return stitched.reshape(batch, height * factor, width * factor, classes)


def rarefy(model):
    """The shift-and-stitch network in one pass ("Shift and Stitch"): the strided max pooling
    keeps its window with stride 1, and every later convolution is dilated by the removed stride
    (its filters "rarefied" by zero insertion). Same weights; output at full resolution, equal
    to ``shift_and_stitch(model, images, stride)`` wherever both are defined.

    Supports a chain of ``Conv2D`` (stride 1, "valid") and one ``MaxPooling2D`` (window equal to
    its stride, "valid"); a second pooling would need dilated pooling, which Keras lacks.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    inputs = keras.Input((None, None, model.inputs[0].shape[-1]))
    x, dilation, pairs = inputs, 1, []
    for layer in layers:
        if isinstance(layer, keras.layers.MaxPooling2D):
            if dilation != 1:
                arguments.fail("model", "a network with one strided pooling layer", None,
                               received="a second MaxPooling2D")
            clone = _clone(layer, strides=(1, 1))
            dilation = layer.strides[0]
        elif isinstance(layer, keras.layers.Conv2D) and tuple(layer.strides) == (1, 1):
            clone = _clone(layer, dilation_rate=(dilation, dilation))
        else:
            arguments.fail("model", "a chain of stride-1 Conv2D and one MaxPooling2D", None,
                           received=f"a {type(layer).__name__} layer")
        x = clone(x)
        pairs.append((clone, layer.get_weights()))
    return _model_with_weights(inputs, x, f"{model.name}_rarefied", pairs)


def fcn_backbone(input_shape, filters=(16, 32, 64, 64, 64), batch_norm=False,
                 name="fcn_backbone"):
    """Five blocks of 3x3 conv (+ ``kerasnn.layers.BatchNormalization`` with ``batch_norm``) +
    ReLU and 2x2 max pooling with indices (``pool1``..``pool5``, ``MaxPoolingWithArgmax2D``: the
    values of ``MaxPooling2D``, plus the indices that max unpooling needs); total stride 32.
    Outputs ``pool5``'s values.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    filters = arguments.positive_ints("filters", filters)
    if len(filters) != 5:
        arguments.fail("filters", "5 positive integers (one per pooling block)", filters)
    inputs = keras.Input(input_shape)
    x = inputs
    for block, width in enumerate(filters, start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation=None if batch_norm else
                                "relu", name=f"block{block}_conv")(x)
        if batch_norm:
            x = BatchNormalization(name=f"block{block}_bn")(x)
            x = keras.layers.Activation("relu", name=f"block{block}_relu")(x)
        x, _ = MaxPoolingWithArgmax2D(name=f"pool{block}")(x)
    return keras.Model(inputs, x, name=name)


def _pool_outputs(backbone, block):
    try:
        layer = backbone.get_layer(f"pool{block}")
    except ValueError:
        arguments.fail("backbone", "a model with layers named pool1..pool5 (stride 2 each)", None,
                       received=f"no layer named pool{block}")
    output = layer.output
    return (output[0], output[1]) if isinstance(output, (list, tuple)) else (output, None)


def bilinear_kernel(factor, channels):
    """A ``Conv2DTranspose`` kernel ``(2f, 2f, channels, channels)`` that upsamples each channel
    bilinearly by ``factor`` (the FCN paper's initialization of its learned upsampling)."""
    size = 2 * factor
    center = factor - 0.5
    ramp = 1 - np.abs(np.arange(size) - center) / factor
    kernel = np.zeros((size, size, channels, channels), dtype="float32")
    kernel[:, :, np.arange(channels), np.arange(channels)] = np.outer(ramp, ramp)[..., None]
    return kernel


def _upsample(x, factor, method, name):
    if method == "nearest":
        return keras.layers.UpSampling2D(factor, interpolation="nearest", name=name)(x)
    if method == "bed_of_nails":
        return BedOfNailsUpsampling2D(factor, name=name)(x)
    channels = x.shape[-1]
    return keras.layers.Conv2DTranspose(
        channels, 2 * factor, strides=factor, padding="same", use_bias=False,
        kernel_initializer=keras.initializers.Constant(bilinear_kernel(factor, channels)),
        name=name)(x)


def fcn(backbone, num_classes, variant="8s", upsampling="transpose", name=None):
    """FCN-32s / 16s / 8s ("Skip Connections") on a backbone with layers ``pool1``..``pool5``.

    Scores (1x1 convolutions to ``num_classes``) of ``pool5`` (stride 32); FCN-16s adds the
    2x-upsampled stride-32 scores to the scores of ``pool4``, FCN-8s then adds the 2x-upsampled
    sum to the scores of ``pool3``; the result is upsampled to the input size (32x, 16x, 8x).
    ``upsampling`` is one of "Upsampling"'s four:

    - ``"nearest"`` (``UpSampling2D``), ``"bed_of_nails"`` (``BedOfNailsUpsampling2D``),
      ``"transpose"`` (learned ``Conv2DTranspose``, kernel 2f, stride f, initialized bilinear)
      act on the class scores as above;
    - ``"max_unpooling"`` needs the indices of the pooling that produced each map, whose
      channels are the backbone's, not the classes: the decoder unpools *features* through
      ``pool5``..``pool1`` (``MaxUnpooling2D``), projecting with a 1x1 convolution to each
      level's channels, adding ``pool4`` (16s, 8s) and ``pool3`` (8s) features as the skips,
      and scores at full resolution (SegNet's decoder with FCN's skips).

    Args:
        backbone: e.g. ``fcn_backbone(...)``; input height and width multiples of 32.
        num_classes: classes of the per-pixel softmax.

    Returns:
        ``keras.Model``: image -> ``(batch, H, W, num_classes)`` posteriors.
    """
    num_classes = arguments.positive_int("num_classes", num_classes)
    variant = arguments.one_of("variant", variant, FCN_VARIANTS)
    upsampling = arguments.one_of("upsampling", upsampling, UPSAMPLINGS)
    height, width = backbone.inputs[0].shape[1:3]
    if (height is None or width is None or height % 32 or width % 32):
        arguments.fail("backbone", "a model on inputs whose height and width are multiples of 32",
                       None, received=f"input shape {tuple(backbone.inputs[0].shape[1:])}")
    pools = {block: _pool_outputs(backbone, block) for block in range(1, 6)}
    skips = {"32s": (), "16s": (4,), "8s": (4, 3)}[variant]
    if upsampling == "max_unpooling":
        if any(indices is None for _, indices in pools.values()):
            arguments.fail("backbone", "pooling layers with indices (MaxPoolingWithArgmax2D) for "
                           "max unpooling", None, received="a pooling layer without indices")
        x = pools[5][0]
        for block in range(5, 0, -1):
            values, indices = pools[block]
            if x.shape[-1] != values.shape[-1]:
                x = keras.layers.Conv2D(values.shape[-1], 1, name=f"project{block}")(x)
            if block in skips:
                x = keras.layers.Add(name=f"skip{block}")([x, values])
            x = MaxUnpooling2D(name=f"unpool{block}")([x, indices])
        x = keras.layers.Conv2D(num_classes, 1, name="score")(x)
    else:
        x = keras.layers.Conv2D(num_classes, 1, name="score_pool5")(pools[5][0])
        for block in skips:
            x = _upsample(x, 2, upsampling, name=f"upsample_to_pool{block}")
            score = keras.layers.Conv2D(num_classes, 1, name=f"score_pool{block}")(pools[block][0])
            x = keras.layers.Add(name=f"skip{block}")([x, score])
        x = _upsample(x, 2 ** (5 - len(skips)), upsampling, name="upsample")
    outputs = keras.layers.Softmax(name="segmentation")(x)
    return keras.Model(backbone.inputs[0], outputs, name=name or f"fcn{variant}_{upsampling}")


def patch_classifier(input_shape, num_classes, filters=(16, 32), units=64, convs_per_block=2,
                     batch_norm=True, name="classifier"):
    """A small CNN classifier ``[[3x3 conv (valid) (+ batch normalization) + ReLU] x
    convs_per_block -> 2x2 max pooling] x len(filters) -> Flatten -> Dense(units, ReLU) ->
    Dense(num_classes, softmax)``
    ("Patch Based", steps 1-3); ``kerasnn.layers.BatchNormalization`` unless ``batch_norm`` is
    ``False`` (at inference a per-channel affine map, so sliding stays exact).

    Unpadded convolutions make ``convolutionalize(model)`` slide it exactly: on a larger image,
    heatmap cell ``(i, j)`` is the classifier on the window whose top-left corner is at
    ``(i f, j f)``, ``f = 2**len(filters)`` the total stride.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    num_classes = arguments.positive_int("num_classes", num_classes)
    filters = arguments.positive_ints("filters", filters)
    units = arguments.positive_int("units", units)
    convs_per_block = arguments.positive_int("convs_per_block", convs_per_block)
    model = keras.Sequential([keras.Input(input_shape)], name=name)
    for block, width in enumerate(filters, start=1):
        for index in range(1, convs_per_block + 1):
            model.add(keras.layers.Conv2D(width, 3, name=f"block{block}_conv{index}"))
            if batch_norm:
                model.add(BatchNormalization(name=f"block{block}_bn{index}"))
            model.add(keras.layers.Activation("relu", name=f"block{block}_relu{index}"))
        model.add(keras.layers.MaxPooling2D(2, name=f"block{block}_pool"))
    model.add(keras.layers.Flatten(name="flatten"))
    model.add(keras.layers.Dense(units, activation="relu", name="fc"))
    model.add(keras.layers.Dense(num_classes, activation="softmax", name="scores"))
    return model


def initialize_from(source, target):
    """Initialize FCN ``target`` from the coarser FCN ``source`` ("Skip Connections": FCN-16s
    from FCN-32s, then FCN-8s from FCN-16s): every layer of ``target`` whose name and weight
    shapes match a layer of ``source`` takes its weights; the skip layers ``target`` adds
    (``score_pool4``, ``score_pool3``) start at zero, as in the FCN paper, so that ``target``
    starts from the coarser net's scores. Returns the names of the copied layers."""
    copied = []
    for layer in target.layers:
        weights = layer.get_weights()
        try:
            before = source.get_layer(layer.name).get_weights()
        except ValueError:
            before = None
        if before is not None and [w.shape for w in before] == [w.shape for w in weights]:
            layer.set_weights(before)
            copied.append(layer.name)
        elif before is None and layer.name.startswith("score_pool"):
            layer.set_weights([np.zeros_like(w) for w in weights])
    return copied


def _center_crop(features, target):
    dh = features.shape[1] - target.shape[1]
    dw = features.shape[2] - target.shape[2]
    return keras.layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))(features)


def unet_output_size(size, depth, padding="same"):
    """The U-Net output height (or width) for an input of ``size``; ``None`` if the network cannot
    take it (a pooling on an odd size, or a map shrinking to nothing)."""
    if padding == "same":
        return size if size % 2**depth == 0 else None
    for _ in range(depth):  # contracting: two unpadded 3x3 convs (-4), then a 2x2 pooling
        if size - 4 <= 0 or (size - 4) % 2:
            return None
        size = (size - 4) // 2
    size -= 4  # the bottleneck's two convs
    for _ in range(depth):  # expanding: 2x2 transpose conv (x2), two convs (-4)
        size = 2 * size - 4
    return size if size > 0 else None


def unet(input_shape, num_classes, depth=3, filters=16, padding="same", name="unet"):
    """The U-Net of "U-NET": ``depth`` contracting blocks [3x3 conv + ReLU] x 2 -> 2x2 max
    pooling, filters doubling; a bottleneck of two convolutions; ``depth`` expanding blocks of a
    2x2 transpose convolution (stride 2, halving the filters), concatenation with the contracting
    block's features (center-cropped), [3x3 conv + ReLU] x 2; a final 1x1 convolution to
    ``num_classes`` with a per-pixel softmax.

    ``padding="same"`` (default, for 64 x 64 inputs) keeps every map's size, so the output is as
    large as the input and nothing is cropped: this differs from the paper, whose convolutions
    are unpadded (``padding="valid"``: each 3x3 conv loses 2 pixels, the skip features are
    cropped to the expanding map, and the output is smaller than the input, ``unet_output_size``).

    Args:
        input_shape: ``(height, width, channels)``; with "same", height and width multiples of
            ``2**depth``; with "valid", sizes the network can take (``unet_output_size``).
        num_classes: classes of the output.
        depth: number of poolings.
        filters: filters of the first block.
        padding: ``"same"`` or ``"valid"``.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    num_classes = arguments.positive_int("num_classes", num_classes)
    depth = arguments.positive_int("depth", depth)
    filters = arguments.positive_int("filters", filters)
    padding = arguments.one_of("padding", padding, ("same", "valid"))
    for size in input_shape[:2]:
        if unet_output_size(size, depth, padding) is None:
            expected = (f"multiples of {2**depth} (depth={depth})" if padding == "same" else
                        f"sizes a valid-padded U-Net of depth {depth} can take")
            arguments.fail("input_shape", f"a height and width that are {expected}", input_shape)

    def double_conv(x, width, prefix):
        for index in (1, 2):
            x = keras.layers.Conv2D(width, 3, padding=padding, activation="relu",
                                    name=f"{prefix}_conv{index}")(x)
        return x

    inputs = keras.Input(input_shape)
    x, contracting = inputs, []
    for level in range(depth):
        x = double_conv(x, filters * 2**level, f"down{level + 1}")
        contracting.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"down{level + 1}_pool")(x)
    x = double_conv(x, filters * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        width = filters * 2**level
        x = keras.layers.Conv2DTranspose(width, 2, strides=2, name=f"up{level + 1}_transpose")(x)
        skip = contracting[level]
        if skip.shape[1] != x.shape[1] or skip.shape[2] != x.shape[2]:
            skip = _center_crop(skip, x)
        x = keras.layers.Concatenate(name=f"up{level + 1}_concat")([skip, x])
        x = double_conv(x, width, f"up{level + 1}")
    outputs = keras.layers.Conv2D(num_classes, 1, activation="softmax", name="segmentation")(x)
    return keras.Model(inputs, outputs, name=name)
