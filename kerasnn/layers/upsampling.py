"""Fixed (non-learned) upsampling from scratch in ``keras.ops``: max unpooling, bed of nails.

Course notes, section "Upsampling". Nearest-neighbour upsampling and transpose convolution are
Keras built-ins (``keras.layers.UpSampling2D``, ``keras.layers.Conv2DTranspose``); the two layers
here are the ones Keras lacks:

- Bed of nails: "pixels are filled with 0 values instead of the closest number";
- Max unpooling: "used in combination with max pooling, it also keeps the spatial information
  about the original reduced feature map in the upsampled one".
"""

import keras
import numpy as np
from keras import ops

from kerasnn.layers.pooling import (
    check_image_shape,
    spatial_axes,
    standardize_data_format,
    standardize_pair,
)


@keras.saving.register_keras_serializable(package="kerasnn")
class MaxUnpooling2D(keras.layers.Layer):
    """Max unpooling: each value goes back where its maximum came from, zeros elsewhere.

    Course notes, "Upsampling" ("Max Unpooling"). Takes the ``(values, indices)`` pair of
    ``MaxPoolingWithArgmax2D`` (indices are flat positions within each example of the pooled
    tensor's input, in its data format) and builds the unpooled tensor ``u`` of the input's size::

        u[b].flat[indices[b, i]] = values[b, i]          and 0 everywhere else

    With overlapping windows (``strides < pool_size``) one position may be the maximum of several
    windows; it receives its value once (the duplicates carry the same value), not their sum.
    The gradient flows to ``values`` (a gather of the output gradient); ``indices`` get none.

    Args:
        pool_size: int or pair, the pooling window the indices come from.
        strides: int or pair; None means ``pool_size``.
        output_size: None or ``(height, width)`` of the unpooled tensor. None means
            ``(pooled - 1) * strides + pool_size`` in each dimension, the input size of a
            ``"valid"`` pooling that used every row and column; give it explicitly otherwise
            (odd sizes, ``"same"`` padding).
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Call arguments:
        inputs: list ``[values, indices]`` of two 4-D tensors of the same shape; ``indices``
            integer.

    Returns:
        The unpooled 4-D tensor ``(batch, height, width, channels)`` (or channels-first).

    Example:

    >>> x = keras.random.normal((1, 4, 4, 3))
    >>> from kerasnn.layers import MaxPoolingWithArgmax2D
    >>> values, indices = MaxPoolingWithArgmax2D()(x)
    >>> tuple(MaxUnpooling2D()([values, indices]).shape)
    (1, 4, 4, 3)
    """

    def __init__(
        self, pool_size=(2, 2), strides=None, output_size=None, data_format=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.pool_size = standardize_pair("pool_size", pool_size)
        self.strides = standardize_pair("strides", strides, allow_none=True) or self.pool_size
        self.output_size = standardize_pair("output_size", output_size, allow_none=True)
        self.data_format = standardize_data_format(data_format)

    def _check_shapes(self, input_shape):
        name = type(self).__name__
        if not (
            isinstance(input_shape, (list, tuple))
            and len(input_shape) == 2
            and all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{name} expects a list of two inputs [values, indices]. Received: {input_shape!r}"
            )
        values_shape, indices_shape = (tuple(s) for s in input_shape)
        check_image_shape(name, values_shape, "values")
        compatible = len(indices_shape) == len(values_shape) and all(
            a is None or b is None or a == b for a, b in zip(values_shape, indices_shape)
        )
        if not compatible:
            raise ValueError(
                f"{name} expects `indices` of the same shape as the values {values_shape}. "
                f"Received: indices shape {indices_shape}"
            )
        return values_shape

    def _unpooled_size(self, values_shape):
        if self.output_size is not None:
            return self.output_size
        pooled = [values_shape[a] for a in spatial_axes(self.data_format)]
        return tuple(
            None if p is None else (p - 1) * s + k
            for p, s, k in zip(pooled, self.strides, self.pool_size)
        )

    def build(self, input_shape):
        values_shape = self._check_shapes(input_shape)
        if None in self._unpooled_size(values_shape):
            raise ValueError(
                "MaxUnpooling2D needs a known output size: give `output_size` or inputs with known "
                f"height and width. Received: values shape {values_shape}"
            )

    def compute_output_shape(self, input_shape):
        values_shape = self._check_shapes(input_shape)
        height, width = self._unpooled_size(values_shape)
        if self.data_format == "channels_last":
            return (values_shape[0], height, width, values_shape[3])
        return (values_shape[0], values_shape[1], height, width)

    def call(self, inputs):
        values, indices = inputs
        if "int" not in keras.backend.standardize_dtype(indices.dtype):
            raise ValueError(
                f"MaxUnpooling2D expects integer `indices`. Received: indices dtype {indices.dtype}"
            )
        self._check_shapes([tuple(values.shape), tuple(indices.shape)])
        output_shape = self.compute_output_shape([tuple(values.shape), tuple(indices.shape)])
        per_example = int(np.prod(output_shape[1:]))
        batch = ops.shape(values)[0]
        flat_values = ops.reshape(values, (-1,))
        # Flat positions in the whole batch: example b owns
        # [b * per_example, (b + 1) * per_example).
        offsets = ops.arange(batch, dtype="int32") * per_example
        positions = ops.reshape(
            ops.cast(indices, "int32") + ops.reshape(offsets, (-1, 1, 1, 1)), (-1, 1)
        )
        total = (batch * per_example,)
        unpooled = ops.scatter(positions, flat_values, total)
        if any(s < k for s, k in zip(self.strides, self.pool_size)):
            # Overlapping windows may pick the same position twice: scatter sums, so divide.
            hits = ops.scatter(positions, ops.ones_like(flat_values), total)
            unpooled = unpooled / ops.maximum(hits, ops.ones_like(hits))
        return ops.reshape(unpooled, (-1,) + tuple(output_shape[1:]))

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "output_size": self.output_size,
            "data_format": self.data_format,
        }


@keras.saving.register_keras_serializable(package="kerasnn")
class BedOfNailsUpsampling2D(keras.layers.Layer):
    """Bed-of-nails upsampling: each value at the top-left of its block, zeros elsewhere.

    Course notes, "Upsampling": like nearest neighbour, but "pixels are filled with 0 values
    instead of the closest number". With ``size = (s_h, s_w)``::

        u[b, i * s_h, j * s_w, c] = x[b, i, j, c]        and 0 everywhere else

    Args:
        size: int or pair of positive ints, the upsampling factors for rows and columns.
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Call arguments:
        inputs: 4-D tensor.

    Returns:
        4-D tensor ``(batch, height * s_h, width * s_w, channels)`` (or channels-first).

    Example:

    >>> upsampled = BedOfNailsUpsampling2D(size=2)(keras.ops.ones((1, 2, 2, 1)))
    >>> keras.ops.convert_to_numpy(upsampled)[0, :, :, 0]
    array([[1., 0., 1., 0.],
           [0., 0., 0., 0.],
           [1., 0., 1., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    """

    def __init__(self, size=(2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_pair("size", size)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        check_image_shape(type(self).__name__, input_shape)

    def compute_output_shape(self, input_shape):
        check_image_shape(type(self).__name__, input_shape)
        shape = list(input_shape)
        for factor, axis in zip(self.size, spatial_axes(self.data_format)):
            shape[axis] = None if shape[axis] is None else shape[axis] * factor
        return tuple(shape)

    def call(self, inputs):
        row_axis, col_axis = spatial_axes(self.data_format)
        # Give every value its own (s_h, s_w) block, the value at [0, 0], zeros after it.
        blocks = ops.expand_dims(ops.expand_dims(inputs, col_axis + 1), row_axis + 1)
        padding = [[0, 0]] * 6
        padding[row_axis + 1] = [0, self.size[0] - 1]
        padding[col_axis + 2] = [0, self.size[1] - 1]
        blocks = ops.pad(blocks, padding)
        shape = ops.shape(inputs)
        output_shape = list(shape)
        output_shape[row_axis] = shape[row_axis] * self.size[0]
        output_shape[col_axis] = shape[col_axis] * self.size[1]
        output_shape[0] = -1
        return ops.reshape(blocks, output_shape)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}
