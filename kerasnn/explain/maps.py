"""Class activation maps: CAM from a GAP network's weights, Grad-CAM from gradients.

Course notes, "The GAP revisited - CAM" and "Grad-CAM". Both weigh the ``K`` feature maps
``f_k(x, y)`` of a convolutional layer and sum them; they differ in where the weights come from.

- CAM (Zhou et al., 2016): the network ends ``conv -> GAP -> Dense``, whose weights ``w_k^c``
  score class ``c`` from the averages ``F_k``: ``S_c = sum_k w_k^c F_k + b_c``. Moving the sum
  inside the average gives the map ``M_c(x, y) = sum_k w_k^c f_k(x, y)``, with
  ``S_c = mean_{x,y} M_c(x, y) + b_c``.
- Grad-CAM (Selvaraju et al., 2017): any convolutional network. The weights are the averaged
  gradients of the class score ``y^c`` (before the softmax) with respect to the feature maps,
  ``alpha_k^c = (1/Z) sum_{x,y} dy^c / df_k(x, y)`` (``Z`` = number of locations), and the map is
  ``L^c = ReLU(sum_k alpha_k^c f_k)``. The notes describe this in words only ("the weights ... are
  the gradient of the predicted class with respect to the activations of the last convolutional
  layer"); the formula is the paper's. On a GAP -> Dense network ``dy^c/df_k(x, y) = w_k^c / Z``,
  so ``alpha_k^c = w_k^c / Z`` and Grad-CAM is ``ReLU(M_c) / Z``: CAM up to a positive scale.

Both return one map per image (the predicted class by default), bilinearly upsampled to the
image ("Upsampling may be necessary to match the input image"). Images are channels-last batches.
"""

import contextlib

import keras
import numpy as np
from keras import ops

from kerasnn import backend
from kerasnn.layers.pooling import ClassActivationMapping

_GAP_LAYERS = ("GlobalAveragePooling2D",)
# Layers a GAP -> Dense head may have between the two (identity at inference).
_PASS_THROUGH = (keras.layers.Dropout,)


def check_images(images):
    """``images`` as a float32 NumPy batch ``(batch, height, width, channels)``; ValueError else."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(
            "Argument `images` must be a 4-D batch (batch, height, width, channels); for one "
            f"image pass images[None]. Received: images.shape={images.shape}"
        )
    return images


def upsample(maps, size):
    """Bilinear resize of maps ``(batch, h, w)`` to ``size = (height, width)`` (NumPy)."""
    resized = ops.image.resize(
        np.asarray(maps, np.float32)[..., None], tuple(size), interpolation="bilinear"
    )
    return ops.convert_to_numpy(resized)[..., 0]


def _producer(tensor):
    """The layer whose call produced the symbolic ``tensor``."""
    return tensor._keras_history.operation


def _inputs(model):
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _single_output(model):
    if len(model.outputs) != 1 and not isinstance(
        _producer(model.outputs[0]), ClassActivationMapping
    ):
        raise ValueError(
            "Argument `model` must have a single output (the class scores or posteriors). "
            f"Received: model {model.name!r} with {len(model.outputs)} outputs"
        )
    return model.outputs[0]


def _select_classes(class_index, scores):
    """Per-image class ids: the argmax of ``scores`` (None), one int for all, or one per image."""
    batch, num_classes = scores.shape
    if class_index is None:
        return np.argmax(scores, axis=-1)
    classes = (
        np.broadcast_to(np.asarray(class_index), (batch,))
        if np.ndim(class_index) == 0
        else np.asarray(class_index)
    )
    if (
        classes.shape != (batch,)
        or not np.issubdtype(classes.dtype, np.integer)
        or classes.min() < 0
        or classes.max() >= num_classes
    ):
        raise ValueError(
            f"Argument `class_index` must be None, an int in [0, {num_classes}) or one such int "
            f"per image ({batch}). Received: class_index={class_index!r}"
        )
    return classes.astype(np.int64)


# ----------------------------------------------------------------------------------------- CAM


def gap_head(model):
    """``(features, kernel, bias)`` of ``model``'s ``conv -> GAP -> Dense`` head.

    ``features`` is the symbolic tensor of the feature maps ``f_k`` entering the GAP, ``kernel``
    the ``(K, num_classes)`` weights ``w_k^c`` and ``bias`` the ``b_c`` (zeros without one). The
    head is a ``kerasnn.layers.ClassActivationMapping`` or a global average pooling layer (ours or
    Keras') followed, possibly through dropout, by the output ``Dense``.
    """
    output = _single_output(model)
    head = _producer(output)
    if isinstance(head, ClassActivationMapping):
        if head.data_format != "channels_last":
            raise ValueError(
                "`cam` needs channels-last feature maps. Received: "
                f"layer {head.name!r} with data_format={head.data_format!r}"
            )
        features = head.input
    else:
        if isinstance(head, (keras.layers.Activation, keras.layers.Softmax)):
            head = _producer(head.input)
        pooled = head.input if isinstance(head, keras.layers.Dense) else None
        while pooled is not None and isinstance(_producer(pooled), _PASS_THROUGH):
            pooled = _producer(pooled).input
        gap = _producer(pooled) if pooled is not None else None
        if (
            gap is None
            or type(gap).__name__ not in _GAP_LAYERS
            or gap.keepdims
            or gap.data_format != "channels_last"
        ):
            fed_by = head if gap is None else gap
            raise ValueError(
                "`cam` needs a model whose last feature maps go through global average pooling "
                "(channels-last) and then a Dense output layer, or a "
                "kerasnn.layers.ClassActivationMapping head; use `grad_cam` for other models. "
                f"Received: model {model.name!r} whose output layer {head.name!r} is fed by "
                f"{fed_by.name!r} ({type(fed_by).__name__})"
            )
        features = gap.input
    kernel = ops.convert_to_numpy(head.kernel)
    bias = ops.convert_to_numpy(head.bias) if head.bias is not None else np.zeros(kernel.shape[1])
    return features, kernel, bias


def cam(model, images, class_index=None, *, upsample_to_image=True):
    """Class activation maps ``M_c(x, y) = sum_k w_k^c f_k(x, y)`` of a GAP network.

    Args:
        model: a single-output model whose last feature maps go through global average pooling
            and a Dense layer (``gap_head``), or end in ``ClassActivationMapping``.
        images: ``(batch, height, width, channels)``.
        class_index: ``None`` (each image's predicted class), one class for all images, or one
            class per image.
        upsample_to_image: bilinearly resize the maps to the images' size; ``False`` keeps the
            feature maps' resolution, where ``mean(M_c) + b_c`` is the score ``S_c``.

    Returns:
        NumPy ``(batch, height, width)`` maps (raw, not rectified: negative evidence stays).

    Example:
        >>> maps = cam(model, images)                 # doctest: +SKIP
        >>> boxes = heatmaps_to_boxes(maps)           # doctest: +SKIP
    """
    images = check_images(images)
    features_tensor, kernel, _ = gap_head(model)
    features_model = keras.Model(_inputs(model), [features_tensor, model.outputs[0]])
    features, scores = (ops.convert_to_numpy(t) for t in features_model(images, training=False))
    classes = _select_classes(class_index, scores)
    maps = np.einsum("bhwk,kb->bhw", features, kernel[:, classes])
    return upsample(maps, images.shape[1:3]) if upsample_to_image else maps


# ------------------------------------------------------------------------------------ Grad-CAM


def feature_layer(model, layer=None):
    """The layer whose feature maps Grad-CAM weighs: ``layer`` (a name or a layer of ``model``)
    or, by default, the last layer with a 4-D output (the last convolutional feature maps)."""
    if layer is None:
        candidates = [lay for lay in model.layers if _is_feature_layer(lay)]
        if not candidates:
            raise ValueError(
                "`grad_cam` needs a convolutional model: no layer of model "
                f"{model.name!r} outputs 4-D feature maps"
            )
        return candidates[-1]
    if isinstance(layer, str):
        names = [lay.name for lay in model.layers]
        if layer not in names:
            raise ValueError(
                f"Argument `layer` must name a layer of model {model.name!r}. "
                f"Received: layer={layer!r} (layers: {', '.join(names)})"
            )
        layer = model.get_layer(layer)
    if not _is_feature_layer(layer):
        raise ValueError(
            "Argument `layer` must be a convolutional layer (4-D feature maps "
            f"(batch, height, width, channels)). Received: layer={layer.name!r} with output "
            f"shape {tuple(getattr(layer.output, 'shape', ()))}"
        )
    return layer


def _is_feature_layer(layer):
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # not called, or called more than once
        return False
    return len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer)


@contextlib.contextmanager
def class_scores(model):
    """Yield the symbolic class scores ``y^c`` before the softmax of a single-output model.

    An output ``Activation``/``Softmax`` layer is skipped; an output layer with its own
    ``activation`` (``Dense(..., activation="softmax")``) computes linearly while the context is
    open (the keras.io Grad-CAM example's trick, undone on exit).
    """
    output = _single_output(model)
    layer = _producer(output)
    if isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)):
        yield layer.input
        return
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        yield output
        return
    layer.activation = keras.activations.linear
    try:
        yield output
    finally:
        layer.activation = activation


def grad_cam(
    model,
    images,
    layer=None,
    class_index=None,
    *,
    upsample_to_image=True,
    relu=True,
    return_weights=False,
):
    """Grad-CAM maps ``L^c = ReLU(sum_k alpha_k^c f_k)`` with ``alpha_k^c`` the averaged gradients.

    Args:
        model: any single-output convolutional model (GAP or Flatten -> Dense heads alike); the
            score differentiated is the output before its softmax (``class_scores``).
        images: ``(batch, height, width, channels)``.
        layer: the convolutional layer (name or layer) whose maps ``f_k`` are weighed; default the
            last layer with a 4-D output.
        class_index: ``None`` (each image's predicted class), one class, or one per image.
        upsample_to_image: resize the maps bilinearly to the images' size (after the ReLU).
        relu: apply the ReLU (``False`` keeps the signed map ``sum_k alpha_k^c f_k``).
        return_weights: also return ``alpha`` ``(batch, K)``.

    Returns:
        NumPy ``(batch, height, width)`` maps, and ``alpha`` with ``return_weights``. The one
        backend-specific step, the gradient, is ``kerasnn.backend.intermediate_gradients``.
    """
    images = check_images(images)
    layer = feature_layer(model, layer)
    chosen = None if class_index is None else np.asarray(class_index)

    def target(scores):
        if chosen is None:
            classes = ops.argmax(scores, axis=-1)
        else:
            classes = ops.convert_to_tensor(np.broadcast_to(chosen, (images.shape[0],)))
        return ops.take_along_axis(scores, ops.expand_dims(ops.cast(classes, "int32"), -1), axis=-1)

    with class_scores(model) as scores_tensor:
        gradient_model = keras.Model(_inputs(model), [layer.output, scores_tensor])
        if chosen is not None:  # validated before differentiating
            num_classes = scores_tensor.shape[-1]
            _select_classes(class_index, np.zeros((images.shape[0], num_classes)))
        features, _, gradients = backend.intermediate_gradients(gradient_model, images, target)
    alpha = gradients.mean(axis=(1, 2))  # (1/Z) sum over the Z locations
    maps = np.einsum("bhwk,bk->bhw", features, alpha)
    if relu:
        maps = np.maximum(maps, 0.0)
    if upsample_to_image:
        maps = upsample(maps, images.shape[1:3])
    return (maps, alpha) if return_weights else maps
