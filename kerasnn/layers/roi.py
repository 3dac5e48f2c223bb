"""Region-of-interest feature extraction: RoIPooling (Fast R-CNN) and RoIAlign (Mask R-CNN).

Course notes: "Fast R-CNN" (step 3: *each RoI in the feature maps is divided in a H x W grid and
then max-pooling over this provides the feature vector*), "Faster R-CNN" (second stage: *crop
features through RoI pooling (with alignment)*) and "Instance Segmentation".

Both layers follow torchvision's ``roi_pool`` / ``roi_align`` arithmetic exactly (same argument
names: ``output_size``, ``spatial_scale``, ``sampling_ratio``, ``aligned``), but take channels-last
feature maps ``(batch, height, width, channels)`` and boxes ``(batch, num_boxes, 4)`` as
``[y1, x1, y2, x2]`` in input-image pixels (box ``k`` of image ``b`` pools from feature map ``b``),
and return ``(batch, num_boxes, output_height, output_width, channels)``.

Both are vectorized over boxes and bins: no Python loop depends on the number of boxes.
"""

import math

import keras
import numpy as np
from keras import ops

from kerasnn import arguments


def _normalize_output_size(output_size):
    """``(output_height, output_width)`` from an int or a pair of positive ints."""
    return arguments.int_or_tuple("output_size", output_size, 2)


def _check_input_shapes(features_shape, boxes_shape):
    features_shape = tuple(features_shape)
    boxes_shape = tuple(boxes_shape)
    if len(features_shape) != 4:
        raise ValueError(
            "`features` must have rank 4 (batch, height, width, channels). "
            f"Received: features.shape={features_shape}"
        )
    if len(boxes_shape) != 3 or boxes_shape[-1] != 4:
        raise ValueError(
            "`boxes` must have shape (batch, num_boxes, 4) with [y1, x1, y2, x2] on the last axis. "
            f"Received: boxes.shape={boxes_shape}"
        )
    if (
        features_shape[0] is not None
        and boxes_shape[0] is not None
        and features_shape[0] != boxes_shape[0]
    ):
        raise ValueError(
            "`features` and `boxes` must have the same batch size. Received: "
            f"features.shape={features_shape}, boxes.shape={boxes_shape}"
        )
    return features_shape, boxes_shape


def _valid_boxes(boxes):
    """(mask of usable boxes, boxes with unusable ones zeroed so no NaN reaches the arithmetic)."""
    finite = ops.all(ops.isfinite(boxes), axis=-1)
    ordered = ops.logical_and(boxes[..., 2] >= boxes[..., 0], boxes[..., 3] >= boxes[..., 1])
    valid = ops.logical_and(finite, ordered)
    return valid, ops.where(valid[..., None], boxes, ops.zeros_like(boxes))


def _round_half_away_from_zero(x):
    # C's round(), which torchvision uses; ops.round would round half to even.
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


def _check_finite_boxes(boxes):
    """Raise ``ValueError`` for NaN/infinite coordinates when the boxes' values are known (NumPy
    or eager tensors); inside a compiled graph they are not, and such boxes give zeros."""
    if isinstance(boxes, keras.KerasTensor):
        return
    try:
        # NumPy or an eager tensor of any backend (JAX arrays have no `.numpy()`).
        values = np.asarray(ops.convert_to_numpy(boxes))
    except (TypeError, NotImplementedError):
        # Symbolic: a TensorFlow graph tensor (NotImplementedError) or a JAX tracer
        # (TracerArrayConversionError, a TypeError) has no values to check.
        return
    bad = np.argwhere(~np.all(np.isfinite(values), axis=-1))
    if len(bad):
        where = ", ".join(f"box {k} of image {b}" for b, k in bad[:5].tolist())
        raise ValueError(
            f"`boxes` must be finite (NaN or infinite coordinates in {where}). "
            f"Received: boxes.shape={tuple(values.shape)}"
        )


def _prepare(features, boxes, compute_dtype):
    _check_input_shapes(features.shape, boxes.shape)
    _check_finite_boxes(boxes)
    features = ops.convert_to_tensor(features)
    if compute_dtype is not None:
        features = ops.cast(features, compute_dtype)
    # Box coordinates stay float32 even under mixed precision: float16 has 0.5-pixel spacing
    # above 512 pixels, which would move the bins.
    boxes = ops.cast(ops.convert_to_tensor(boxes), "float32")
    return features, boxes


def _check_sampling_ratio(sampling_ratio):
    # Samples per bin along each axis; <= 0 is torchvision's adaptive ceil(roi / output) per box.
    return arguments.integer("sampling_ratio", sampling_ratio)


def _adaptive_cap(size, bins):
    """The static number of samples per bin that adaptive sampling evaluates along one axis.

    A box inside the map spans at most ``size`` cells, so ``ceil(size / bins)`` samples suffice;
    one more cell covers an input size that is not a multiple of the stride.
    """
    if size is None:
        raise ValueError(
            "RoIAlign with adaptive sampling (`sampling_ratio <= 0`) needs the feature map's "
            "height and width to be known when it is called. Received: features.shape=(..., "
            "None, ...)"
        )
    return max(math.ceil((size + 1) / bins), 1)


def roi_align(
    features, boxes, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=False, dtype=None
):
    """Functional RoIAlign; see :class:`RoIAlign` for the exact rules."""
    output_height, output_width = _normalize_output_size(output_size)
    _check_sampling_ratio(sampling_ratio)
    features, boxes = _prepare(features, boxes, dtype)
    valid, boxes = _valid_boxes(boxes)
    height, width = ops.shape(features)[1], ops.shape(features)[2]
    offset = 0.5 if aligned else 0.0
    boxes = boxes * spatial_scale - offset

    def axis_weights(start, end, size, static_size, bins):
        # (batch, boxes, bins, size): the bin-averaged bilinear weights along one axis.
        extent = end - start
        if not aligned:
            extent = ops.maximum(extent, 1.0)
        bin_size = (extent / bins)[..., None, None]
        if sampling_ratio > 0:
            num_samples, count = sampling_ratio, float(sampling_ratio)
        else:
            # Adaptive: ceil(extent / bins) samples for this box (torchvision), evaluated at the
            # static maximum and masked; 0 samples (an empty aligned box) gives 0, as there.
            num_samples = _adaptive_cap(static_size, bins)
            count = ops.minimum(ops.ceil(extent / bins), num_samples)[..., None, None]
        bin_index = ops.arange(bins, dtype="float32")[:, None]
        sample_index = ops.arange(num_samples, dtype="float32")[None, :]
        samples = (
            start[..., None, None]
            + bin_index * bin_size
            + (sample_index + 0.5) * bin_size / ops.maximum(count, 1.0)
        )  # (batch, boxes, bins, num_samples)
        inside = ops.logical_and(samples >= -1.0, samples <= ops.cast(size, "float32"))
        if sampling_ratio <= 0:
            inside = ops.logical_and(inside, sample_index < count)
        samples = ops.clip(samples, 0.0, ops.cast(size - 1, "float32"))
        pixels = ops.arange(size, dtype="float32")
        # Bilinear interpolation along one axis is the tent kernel max(0, 1 - |s - pixel|).
        weights = ops.relu(1.0 - ops.abs(samples[..., None] - pixels))
        weights = weights * ops.cast(inside, "float32")[..., None]
        return ops.sum(weights, axis=-2) / ops.maximum(count, 1.0)

    static_height, static_width = features.shape[1], features.shape[2]
    row_weights = axis_weights(boxes[..., 0], boxes[..., 2], height, static_height, output_height)
    col_weights = axis_weights(boxes[..., 1], boxes[..., 3], width, static_width, output_width)
    row_weights = row_weights * ops.cast(valid, "float32")[..., None, None]
    row_weights = ops.cast(row_weights, features.dtype)
    col_weights = ops.cast(col_weights, features.dtype)
    # Separable: the sampling grid is a product of rows and columns, so RoIAlign is two
    # contractions with dense weight matrices instead of 4 gathers per sample. Written as plain
    # batched matmuls on reshaped tensors (no transposes): ~3x faster than einsum on CPU.
    batch, num_boxes, channels = ops.shape(features)[0], ops.shape(boxes)[1], ops.shape(features)[3]
    rows = ops.matmul(
        ops.reshape(row_weights, (batch, num_boxes * output_height, height)),
        ops.reshape(features, (batch, height, width * channels)),
    )  # (batch, boxes * out_h, W * C)
    rows = ops.reshape(rows, (batch, num_boxes, output_height, width, channels))
    return ops.matmul(col_weights[:, :, None], rows)  # (batch, boxes, out_h, out_w, C)


def _power_of_two_level(lengths, num_levels):
    """floor(log2(length)) for int lengths >= 1, computed exactly with comparisons."""
    powers = ops.convert_to_tensor([2**k for k in range(1, num_levels)], "int32")
    if num_levels == 1:
        return ops.zeros_like(lengths)
    return ops.sum(ops.cast(lengths[..., None] >= powers, "int32"), axis=-1)


def _shifted_max(table, shift, axis):
    """max(table[i], table[i + shift]) along `axis`; the last `shift` entries are never queried."""

    def cut(start, stop):
        index = [slice(None)] * len(table.shape)
        index[axis] = slice(start, stop)
        return table[tuple(index)]

    ahead = ops.concatenate([cut(shift, None), cut(-shift, None)], axis=axis)
    return ops.maximum(table, ahead)


def roi_pool(features, boxes, output_size, spatial_scale=1.0, dtype=None):
    """Functional RoIPooling; see :class:`RoIPooling` for the exact rules."""
    output_height, output_width = _normalize_output_size(output_size)
    features, boxes = _prepare(features, boxes, dtype)
    height, width, channels = features.shape[1], features.shape[2], features.shape[3]
    if height is None or width is None or channels is None:
        raise ValueError(
            "RoIPooling needs the feature map's height, width and channels to be known when it is "
            f"called. Received: features.shape={tuple(features.shape)}"
        )
    valid, boxes = _valid_boxes(boxes)
    boxes = _round_half_away_from_zero(boxes * spatial_scale)
    levels_y = height.bit_length()  # 2**(levels - 1) <= height
    levels_x = width.bit_length()

    # Clip before the integer cast so absurd coordinates cannot overflow int64.
    boxes = ops.cast(ops.clip(boxes, -(2.0**40), 2.0**40), "int64")

    def bin_edges(start, end, size, bins):
        # Exact integer arithmetic: floor(i * extent / bins) and ceil((i + 1) * extent / bins).
        # Float arithmetic here is not stable: graph optimizations may reassociate
        # (i + 1) * (extent / bins) and move a bin edge by one cell.
        extent = ops.maximum(end - start + 1, 1)[..., None]
        index = ops.arange(bins, dtype="int64")
        low = ops.floor_divide(index * extent, bins) + start[..., None]
        high = ops.floor_divide((index + 1) * extent + bins - 1, bins) + start[..., None]
        low = ops.cast(ops.clip(low, 0, size), "int32")
        high = ops.cast(ops.clip(high, 0, size), "int32")
        return low, high  # (batch, boxes, bins)

    row_low, row_high = bin_edges(boxes[..., 0], boxes[..., 2], height, output_height)
    col_low, col_high = bin_edges(boxes[..., 1], boxes[..., 3], width, output_width)
    # Range maximum in O(1) per bin with a 2-D sparse table: level (ky, kx) holds the max over
    # the 2**ky x 2**kx window starting at each pixel, and any h x w range is covered by four
    # such windows (overlap is harmless for a max).
    row_level = _power_of_two_level(ops.maximum(row_high - row_low, 1), levels_y)
    col_level = _power_of_two_level(ops.maximum(col_high - col_low, 1), levels_x)
    powers = ops.convert_to_tensor([2**k for k in range(max(levels_y, levels_x))], "int32")
    row_last = ops.maximum(row_high - ops.take(powers, row_level), 0)
    col_last = ops.maximum(col_high - ops.take(powers, col_level), 0)

    column_tables = [features]
    for k in range(1, levels_x):
        column_tables.append(_shifted_max(column_tables[-1], 2 ** (k - 1), axis=2))
    tables = []
    for ky in range(levels_y):
        if ky > 0:
            column_tables = [_shifted_max(t, 2 ** (ky - 1), axis=1) for t in column_tables]
        tables.extend(column_tables)
    table = ops.reshape(ops.stack(tables, axis=0), (-1, channels))

    batch = ops.shape(features)[0]
    batch_index = ops.arange(batch, dtype="int32")[:, None, None, None]
    level = (row_level[..., :, None] * levels_x + col_level[..., None, :]) * batch + batch_index
    base = level * (height * width)  # (batch, boxes, out_h, out_w)

    def lookup(rows, cols):
        index = base + rows[..., :, None] * width + cols[..., None, :]
        return ops.take(table, index, axis=0)

    pooled = ops.maximum(
        ops.maximum(lookup(row_low, col_low), lookup(row_low, col_last)),
        ops.maximum(lookup(row_last, col_low), lookup(row_last, col_last)),
    )
    non_empty = ops.logical_and(
        (row_high > row_low)[..., :, None], (col_high > col_low)[..., None, :]
    )
    non_empty = ops.logical_and(non_empty, valid[..., None, None])
    return ops.where(non_empty[..., None], pooled, ops.zeros_like(pooled))


class _RoILayerBase(keras.layers.Layer):
    def __init__(self, output_size, spatial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _normalize_output_size(output_size)
        # Feature-map cells per input pixel, e.g. 1/16.
        self.spatial_scale = arguments.positive_number("spatial_scale", spatial_scale, finite=True)
        # Boxes must not be cast to float16 under mixed precision; call() casts the features.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True  # NumPy arrays are converted in call()
        self.supports_masking = False

    def build(self, features_shape=None, boxes_shape=None):
        # Keras passes no shapes when called on NumPy arrays; call() validates them then.
        if features_shape is not None and boxes_shape is not None:
            _check_input_shapes(features_shape, boxes_shape)
        self.built = True

    def compute_output_shape(self, features_shape, boxes_shape):
        features_shape, boxes_shape = _check_input_shapes(features_shape, boxes_shape)
        return (features_shape[0], boxes_shape[1], *self.output_size, features_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"output_size": self.output_size, "spatial_scale": self.spatial_scale})
        return config


_SHARED_DOC = """
    Boxes: a box is *unusable* when a coordinate is NaN or infinite, or when ``y2 < y1`` or
    ``x2 < x1``; its output is all zeros. NaN or infinite coordinates raise ``ValueError`` when
    the boxes' values are known (NumPy arrays, eager execution); inside a compiled graph
    (``fit``, ``predict``, ``tf.function``) no error can be raised and such boxes give zeros.
    Zero boxes (``num_boxes == 0``) give an empty ``(batch, 0, output_height, output_width,
    channels)`` output. Wrong ranks, a last box dimension other than 4, mismatched batch sizes,
    a non-positive ``output_size`` or ``spatial_scale`` raise ``ValueError``.

"""


_CALL_DOC = """
    Call arguments:
        features: ``(batch, H, W, channels)`` feature maps.
        boxes: ``(batch, num_boxes, 4)`` boxes ``[y1, x1, y2, x2]`` in input-image pixels.

    Returns:
        ``(batch, num_boxes, output_height, output_width, channels)``.

    Example:
"""


def _fill_shared_docs(cls):
    cls.__doc__ = cls.__doc__.replace("    {shared_rules}\n", _SHARED_DOC).replace(
        "    {call_arguments}", _CALL_DOC
    )
    return cls


@keras.saving.register_keras_serializable(package="kerasnn")
@_fill_shared_docs
class RoIPooling(_RoILayerBase):
    """Fast R-CNN RoI max pooling (torchvision ``roi_pool`` semantics).

    Course notes, "Fast R-CNN": each region proposal, projected onto the feature map, is divided
    into an ``output_size`` grid and max-pooled per bin, giving a fixed-size feature per region.

    Rounding rules, for a box ``[y1, x1, y2, x2]`` (same along x with ``W`` and ``output_width``):

    1. ``start = round(y1 * spatial_scale)``, ``end = round(y2 * spatial_scale)`` with C's
       ``round`` (halves away from zero): the box snaps to whole feature cells.
    2. ``roi_height = max(end - start + 1, 1)`` cells (the end cell is included; an empty or
       one-cell box pools one cell).
    3. Bin ``i`` covers rows ``[start + floor(i * roi_height / output_height),
       start + ceil((i + 1) * roi_height / output_height))``, each edge clipped to ``[0, H]``;
       bins may overlap by one row. The quotients are computed exactly (integers), so eager,
       graph and XLA runs agree. torchvision computes ``(i + 1) * (roi_height / output_height)``
       in float32, which in rare cases lands just above a whole number and adds one row (e.g.
       ``roi_height = 188``, ``output_height = 11``, last bin); that artefact is not reproduced.
    4. The output is the maximum over the bin's cells; a bin that is empty after clipping (a box
       partly or wholly outside the map) outputs 0.

    The gradient of each output goes to one cell holding the bin's maximum.
    Implementation: a 2-D sparse table of window maxima answers every bin with four lookups,
    so the height, width and channels of the features must be static. The table holds
    ``(floor(log2 H) + 1) * (floor(log2 W) + 1)`` max-filtered copies of the feature map (36 for
    a 50 x 50 map), about 3.6 times the size of a 512-box 7 x 7 output.
    {shared_rules}
    Args:
        output_size: int or ``(output_height, output_width)``, positive.
        spatial_scale: feature-map cells per input pixel (``1 / stride``), positive.
        **kwargs: base ``Layer`` arguments (``name``, ``dtype``, ...).
    {call_arguments}
    >>> features = keras.random.normal((2, 50, 50, 256))
    >>> boxes = keras.random.uniform((2, 16, 4), maxval=400)
    >>> boxes = keras.ops.concatenate(
    ...     [keras.ops.minimum(boxes[..., :2], boxes[..., 2:]),
    ...      keras.ops.maximum(boxes[..., :2], boxes[..., 2:])], axis=-1)
    >>> tuple(RoIPooling(7, spatial_scale=1 / 16)(features, boxes).shape)
    (2, 16, 7, 7, 256)
    """

    def call(self, features, boxes):
        return roi_pool(
            features, boxes, self.output_size, self.spatial_scale, dtype=self.compute_dtype
        )


@keras.saving.register_keras_serializable(package="kerasnn")
@_fill_shared_docs
class RoIAlign(_RoILayerBase):
    """Mask R-CNN RoIAlign (torchvision ``roi_align`` semantics): RoI pooling without quantization.

    Course notes, "Faster R-CNN" (second stage: crop features through RoI pooling *with
    alignment*) and "Instance Segmentation": coordinates are never rounded; each bin averages
    ``sampling_ratio x sampling_ratio`` bilinear samples.

    Rules, for a box ``[y1, x1, y2, x2]`` (same along x with ``W`` and ``output_width``):

    1. ``start = y1 * spatial_scale - offset`` and ``end = y2 * spatial_scale - offset`` with
       ``offset = 0.5`` if ``aligned`` else 0 (``aligned=True`` puts pixel centres at half-integer
       coordinates, so a box exactly covering the map samples it without a half-pixel shift).
    2. ``roi_height = end - start``; if not ``aligned`` it is raised to at least 1 (torchvision's
       legacy behaviour). ``bin = roi_height / output_height``.
    3. Bin ``i`` samples rows ``y = start + i * bin + (s + 0.5) * bin / sampling_ratio`` for
       ``s = 0 .. sampling_ratio - 1`` (and the same for columns); the output is the mean of the
       ``sampling_ratio**2`` bilinear samples.
    4. Bilinear sample at ``(y, x)``: 0 if ``y < -1``, ``y > H``, ``x < -1`` or ``x > W``;
       otherwise ``y`` and ``x`` are clamped to ``[0, H - 1]`` and ``[0, W - 1]`` and the four
       neighbouring cells are weighted by ``(1 - |y - row|)(1 - |x - col|)``.

    ``sampling_ratio <= 0`` is torchvision's adaptive mode (its default, ``-1``): box by box,
    ``ceil(roi_height / output_height)`` rows and ``ceil(roi_width / output_width)`` columns of
    samples per bin (``roi_height`` after step 2; a count of 0, an empty aligned box, outputs 0).
    Fixed-shape (``jit_compile``) graphs cannot have a data-dependent number of samples, so every
    box is sampled at the static maximum ``ceil((H + 1) / output_height)`` (and likewise along x)
    and the extra samples are masked out: exact for every box that spans at most ``H + 1`` cells;
    a larger box (mostly outside the map) uses that many samples instead of more. It needs the
    feature map's height and width to be static.
    Implementation: bilinear sampling on a product grid is separable, so the layer builds one
    ``(output_height, H)`` and one ``(output_width, W)`` weight matrix per box and contracts the
    features with both (two batched matmuls); it is differentiable with respect to the features
    (and the box coordinates, almost everywhere).
    {shared_rules}
    Args:
        output_size: int or ``(output_height, output_width)``, positive.
        spatial_scale: feature-map cells per input pixel (``1 / stride``), positive.
        sampling_ratio: samples per bin along each axis (default 2, as Mask R-CNN); an int
            ``<= 0`` means adaptive, as torchvision.
        aligned: whether to apply the half-pixel offset (default False, as torchvision).
        **kwargs: base ``Layer`` arguments (``name``, ``dtype``, ...).
    {call_arguments}
    >>> features = keras.random.normal((2, 50, 50, 256))
    >>> boxes = keras.ops.convert_to_tensor([[[0.0, 0.0, 320.0, 480.0]]] * 2)
    >>> tuple(RoIAlign(7, spatial_scale=1 / 16, aligned=True)(features, boxes).shape)
    (2, 1, 7, 7, 256)
    """

    def __init__(self, output_size, spatial_scale=1.0, sampling_ratio=2, aligned=False, **kwargs):
        super().__init__(output_size, spatial_scale, **kwargs)
        self.sampling_ratio = _check_sampling_ratio(sampling_ratio)
        self.aligned = arguments.boolean("aligned", aligned)

    def call(self, features, boxes):
        return roi_align(
            features,
            boxes,
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.aligned,
            dtype=self.compute_dtype,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"sampling_ratio": self.sampling_ratio, "aligned": self.aligned})
        return config
