"""Pooling layers written from scratch in ``keras.ops``: GAP, the CAM head, max pooling with argmax.

Course notes, sections "GAP Layers" / "Global Averaging Pooling Layer", "The GAP revisited - CAM"
and "Upsampling" (max unpooling needs to know where each maximum came from).
"""

import keras
import numpy as np
from keras import ops

from kerasnn import arguments

_DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format):
    """``data_format`` or Keras' global image data format; ValueError on anything else."""
    return arguments.one_of(
        "data_format", data_format or keras.config.image_data_format(), _DATA_FORMATS
    )


def standardize_pair(name, value, allow_none=False):
    """An int or a pair of ints, all positive, as a tuple of two ints (ValueError otherwise)."""
    return arguments.int_or_tuple(name, value, 2, allow_none=allow_none)


def check_image_shape(layer_name, input_shape, what="input"):
    """ValueError unless ``input_shape`` is 4-D (batch + 2 spatial dims + channels)."""
    if len(input_shape) != 4:
        raise ValueError(
            f"{layer_name} expects a 4-D {what} (batch, height, width, channels) or "
            f"(batch, channels, height, width). Received: {what} shape {tuple(input_shape)} "
            f"(rank {len(input_shape)})"
        )


def spatial_axes(data_format):
    """The (height, width) axes of a 4-D tensor in ``data_format``."""
    return (1, 2) if data_format == "channels_last" else (2, 3)


def channel_axis(data_format):
    """The channels axis of a 4-D tensor in ``data_format``."""
    return -1 if data_format == "channels_last" else 1


@keras.saving.register_keras_serializable(package="kerasnn")
class GlobalAveragePooling2D(keras.layers.Layer):
    """Global average pooling over the two spatial dimensions (course notes, "GAP Layers").

    Each feature map ``f_k`` is replaced by its average ``F_k = 1/(H W) * sum_{x,y} f_k(x, y)``:
    no parameters, robust to shifts, and the network accepts images of any size. Same arguments
    and outputs as ``keras.layers.GlobalAveragePooling2D``.

    Args:
        data_format: ``"channels_last"`` (default from ``keras.config.image_data_format()``) or
            ``"channels_first"``.
        keepdims: if True, keep the spatial dimensions with size 1.

    Call arguments:
        inputs: 4-D tensor.

    Returns:
        ``(batch, channels)``, or ``(batch, 1, 1, channels)`` / ``(batch, channels, 1, 1)`` with
        ``keepdims``.

    Example:

    >>> tuple(GlobalAveragePooling2D()(keras.ops.ones((2, 7, 7, 16))).shape)
    (2, 16)
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = keras.layers.InputSpec(ndim=4)
        # Stateless: built at construction, as Keras' own stateless layers are (the input spec
        # checks the rank on call) -- unless a subclass overrides `build` to add state.
        if type(self).build is keras.layers.Layer.build:
            self.built = True

    def call(self, inputs):
        return ops.mean(inputs, axis=spatial_axes(self.data_format), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        check_image_shape(type(self).__name__, input_shape)
        shape = list(input_shape)
        for axis in spatial_axes(self.data_format):
            shape[axis] = 1
        if not self.keepdims:
            shape = [d for a, d in enumerate(shape) if a not in spatial_axes(self.data_format)]
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@keras.saving.register_keras_serializable(package="kerasnn")
class ClassActivationMapping(keras.layers.Layer):
    """The CAM head: GAP, a dense layer to class scores, and the class activation maps.

    Course notes, "The GAP revisited - CAM". With ``n`` feature maps ``f_k(x, y)`` of the last
    convolution, ``F_k`` their spatial averages and ``w_k^c`` the weights of the FC layer::

        S_c    = sum_k w_k^c F_k + b_c                  (class scores, GAP -> Dense)
        M_c(x, y) = sum_k w_k^c f_k(x, y)               (class activation map of class c)

    so that ``S_c = mean_{x,y} M_c(x, y) + b_c``: ``M_c`` shows how much each location
    contributed to class ``c``. The scores equal ``GlobalAveragePooling2D`` followed by
    ``keras.layers.Dense(num_classes)`` with the same weights (``kernel`` of shape
    ``(channels, num_classes)``, then ``bias``): ``set_weights(dense.get_weights())`` works.
    The maps may be resized (``map_size``) to the input image's resolution, as the notes say
    ("Upsampling may be necessary to match the input image").

    Args:
        num_classes: positive integer, number of classes.
        activation: activation applied to the scores only (e.g. ``"softmax"``); maps stay raw.
        use_bias: whether the dense layer has a bias ``b_c``.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as ``keras.layers.Dense``.
        return_maps: if True the layer returns ``(scores, maps)``; otherwise only the scores.
            ``class_activation_maps(features)`` gives the maps in either case.
        map_size: None (maps at the feature resolution) or ``(height, width)`` to resize to.
        interpolation: resizing method for ``map_size`` (as ``keras.ops.image.resize``).
        data_format: ``"channels_last"`` or ``"channels_first"`` (of features and maps).

    Call arguments:
        inputs: feature maps, 4-D tensor.

    Returns:
        ``scores`` of shape ``(batch, num_classes)``; with ``return_maps``, also ``maps`` of shape
        ``(batch, height, width, num_classes)`` (channels-first: ``(batch, num_classes, h, w)``).

    Example:

    >>> features = keras.random.normal((2, 7, 7, 32))
    >>> scores, maps = ClassActivationMapping(10, return_maps=True, map_size=(28, 28))(features)
    >>> tuple(scores.shape), tuple(maps.shape)
    ((2, 10), (2, 28, 28, 10))
    """

    def __init__(
        self,
        num_classes,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        return_maps=False,
        map_size=None,
        interpolation="bilinear",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.return_maps = bool(return_maps)
        self.map_size = standardize_pair("map_size", map_size, allow_none=True)
        self.interpolation = interpolation
        self.data_format = standardize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        check_image_shape(type(self).__name__, input_shape, "feature map")
        channels = input_shape[channel_axis(self.data_format)]
        if channels is None:
            raise ValueError(
                "ClassActivationMapping needs a known number of channels. "
                f"Received: feature map shape {tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            shape=(channels, self.num_classes),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.num_classes,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={channel_axis(self.data_format): channels}
        )

    def class_activation_maps(self, features):
        """``M_c(x, y) = sum_k w_k^c f_k(x, y)`` for every class, resized to ``map_size`` if set."""
        kernel = ops.cast(self.kernel, features.dtype)
        if self.data_format == "channels_last":
            maps = ops.matmul(features, kernel)
        else:
            maps = ops.einsum("bkhw,kc->bchw", features, kernel)
        if self.map_size is not None:
            maps = ops.image.resize(
                maps, self.map_size, interpolation=self.interpolation, data_format=self.data_format
            )
            maps = ops.cast(maps, features.dtype)
        return maps

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=spatial_axes(self.data_format))
        scores = ops.matmul(pooled, ops.cast(self.kernel, pooled.dtype))
        if self.use_bias:
            scores = scores + ops.cast(self.bias, scores.dtype)
        if self.activation is not None:
            scores = self.activation(scores)
        if not self.return_maps:
            return scores
        return scores, self.class_activation_maps(inputs)

    def compute_output_shape(self, input_shape):
        check_image_shape(type(self).__name__, input_shape, "feature map")
        scores_shape = (input_shape[0], self.num_classes)
        if not self.return_maps:
            return scores_shape
        height, width = (
            self.map_size
            if self.map_size is not None
            else tuple(input_shape[a] for a in spatial_axes(self.data_format))
        )
        if self.data_format == "channels_last":
            maps_shape = (input_shape[0], height, width, self.num_classes)
        else:
            maps_shape = (input_shape[0], self.num_classes, height, width)
        return scores_shape, maps_shape

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "activation": serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "bias_constraint": serialize(self.bias_constraint),
            "return_maps": self.return_maps,
            "map_size": self.map_size,
            "interpolation": self.interpolation,
            "data_format": self.data_format,
        }


def _pooled_size(size, pool, stride, padding):
    if padding == "valid":
        return (size - pool) // stride + 1
    return -(-size // stride)


def _pad_before(size, pool, stride, padding):
    """Rows (or columns) TensorFlow-style "same" padding puts before the input."""
    if padding == "valid":
        return 0
    total = max((_pooled_size(size, pool, stride, padding) - 1) * stride + pool - size, 0)
    return total // 2


@keras.saving.register_keras_serializable(package="kerasnn")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """2-D max pooling that also returns where each maximum came from.

    The pooled values are those of ``keras.layers.MaxPooling2D`` (same arguments). The indices are
    what the notes' "Max Unpooling" (section "Upsampling") needs to put each value back where it
    came from: for each output position, the flat index of the winning input element *within its
    example*, in the input's own layout::

        channels_last:  index = (y * width + x) * channels + c      (as tf.nn.max_pool_with_argmax)
        channels_first: index = (c * height + y) * width + x

    Ties go to the first element of the window in row-major order. Padding (``"same"``) never wins.
    The indices are integers and carry no gradient; the values' gradient is max pooling's.

    Args:
        pool_size: int or pair of ints, the window.
        strides: int or pair of ints; None means ``pool_size``.
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Call arguments:
        inputs: 4-D tensor with known height, width and channels.

    Returns:
        ``(values, indices)``, both of the pooled shape; ``indices`` is ``int32``.

    Example:

    >>> values, indices = MaxPoolingWithArgmax2D()(keras.random.normal((1, 4, 4, 3)))
    >>> tuple(values.shape), keras.backend.standardize_dtype(indices.dtype)
    ((1, 2, 2, 3), 'int32')
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_pair("pool_size", pool_size)
        self.strides = standardize_pair("strides", strides, allow_none=True) or self.pool_size
        padding = padding.lower() if isinstance(padding, str) else padding
        self.padding = arguments.one_of("padding", padding, ("valid", "same"))
        self.data_format = standardize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _check_shape(self, input_shape):
        name = type(self).__name__
        check_image_shape(name, input_shape)
        if any(input_shape[a] is None for a in (1, 2, 3)):
            raise ValueError(
                f"{name} needs known height, width and channels to compute indices. "
                f"Received: input shape {tuple(input_shape)}"
            )
        height, width = (input_shape[a] for a in spatial_axes(self.data_format))
        if self.padding == "valid" and (height < self.pool_size[0] or width < self.pool_size[1]):
            raise ValueError(
                f"{name}: with padding='valid' the input must be at least as large as "
                f"pool_size={self.pool_size}. Received: input shape {tuple(input_shape)}"
            )

    def build(self, input_shape):
        self._check_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        shape = list(input_shape)
        for i, axis in enumerate(spatial_axes(self.data_format)):
            shape[axis] = _pooled_size(
                shape[axis], self.pool_size[i], self.strides[i], self.padding
            )
        return tuple(shape), tuple(shape)

    def compute_output_spec(self, inputs):
        values_shape, indices_shape = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(values_shape, dtype=self.compute_dtype),
            keras.KerasTensor(indices_shape, dtype="int32"),
        )

    def _argmax_indices(self, inputs):
        """Flat index of each window's maximum, in the input's layout (int32, pooled shape).

        One view per window offset ``(dy, dx)`` (a handful: ``pool_h * pool_w``) and a running
        elementwise "strictly greater" update, so the first maximum in row-major order wins ties.
        A view is a contiguous crop reshaped to ``(out, stride)`` blocks and indexed at one
        in-block offset: much faster than strided slicing, a gather or an argmax over a middle
        axis on CPU. Nothing is padded in the common non-overlapping "valid" case.
        """
        inputs = ops.stop_gradient(inputs)
        row_axis, col_axis = spatial_axes(self.data_format)
        height, width = inputs.shape[row_axis], inputs.shape[col_axis]
        channels = inputs.shape[channel_axis(self.data_format)]
        (pool_h, pool_w), (stride_h, stride_w) = self.pool_size, self.strides
        out_h = _pooled_size(height, pool_h, stride_h, self.padding)
        out_w = _pooled_size(width, pool_w, stride_w, self.padding)
        top = _pad_before(height, pool_h, stride_h, self.padding)
        left = _pad_before(width, pool_w, stride_w, self.padding)
        # Rows needed: window offset dy = q * stride + r reads rows
        # [q * stride, (q + out) * stride).
        bottom = max(((pool_h - 1) // stride_h + out_h) * stride_h - height - top, 0)
        right = max(((pool_w - 1) // stride_w + out_w) * stride_w - width - left, 0)
        if top or bottom or left or right:
            padding = [[0, 0]] * 4
            padding[row_axis], padding[col_axis] = [top, bottom], [left, right]
            # Padding must never win: -inf, not the zeros of a convolution.
            inputs = ops.pad(inputs, padding, constant_values=float("-inf"))
        # Flat position of element (y, x, c) in the input:
        # y * row_step + x * col_step + c * ch_step.
        if self.data_format == "channels_last":
            row_step, col_step, channel_step = width * channels, channels, 1
            blocks_shape = (-1, out_h, stride_h, out_w, stride_w, channels)
        else:
            row_step, col_step, channel_step = width, 1, height * width
            blocks_shape = (-1, channels, out_h, stride_h, out_w, stride_w)
        best, offset = None, None
        for dy in range(pool_h):
            for dx in range(pool_w):
                (q_y, r_y), (q_x, r_x) = divmod(dy, stride_h), divmod(dx, stride_w)
                crop = [slice(None)] * 4
                crop[row_axis] = slice(q_y * stride_h, (q_y + out_h) * stride_h)
                crop[col_axis] = slice(q_x * stride_w, (q_x + out_w) * stride_w)
                blocks = ops.reshape(inputs[tuple(crop)], blocks_shape)
                pick = [slice(None)] * 6
                pick[row_axis + 1], pick[col_axis + 2] = r_y, r_x
                candidate = blocks[tuple(pick)]
                step = dy * row_step + dx * col_step
                if best is None:
                    best, offset = candidate, ops.zeros_like(candidate, dtype="int32")
                    continue
                better = ops.greater(candidate, best)
                best = ops.where(better, candidate, best)
                offset = ops.where(better, step, offset)
        # Window origins (in unpadded coordinates) and channels, as a static int32 array.
        origin = (np.arange(out_h) * stride_h - top)[:, None] * row_step + (
            np.arange(out_w) * stride_w - left
        )[None, :] * col_step
        channel = np.arange(channels) * channel_step
        if self.data_format == "channels_last":
            base = origin[:, :, None] + channel[None, None, :]
        else:
            base = channel[:, None, None] + origin[None, :, :]
        return offset + base[None].astype("int32")

    def call(self, inputs):
        values = ops.max_pool(
            inputs,
            self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
        )
        return values, self._argmax_indices(inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
        }
