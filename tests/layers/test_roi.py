"""Tests of RoIPooling and RoIAlign against hand-computed cases and per-box NumPy references."""

import json

import keras
import numpy as np
import pytest
from layer_harness import XLA_JIT, run_layer_test

from kerasnn import backend
from kerasnn.layers import RoIAlign, RoIPooling
from kerasnn.layers.roi import roi_align, roi_pool

# --------------------------------------------------------------------------------------------------
# Straightforward per-box NumPy references (torchvision's CPU kernels, channels-last)
# --------------------------------------------------------------------------------------------------


def _c_round(value):
    return float(np.sign(value) * np.floor(np.abs(value) + 0.5))


def reference_roi_pool(features, boxes, output_size, spatial_scale):
    batch, height, width, channels = features.shape
    out_h, out_w = output_size
    out = np.zeros((batch, boxes.shape[1], out_h, out_w, channels), features.dtype)
    scale = np.float32(spatial_scale)
    for b in range(batch):
        for n in range(boxes.shape[1]):
            y1, x1, y2, x2 = (np.float32(v) for v in boxes[b, n])
            if not np.all(np.isfinite(boxes[b, n])) or y2 < y1 or x2 < x1:
                continue  # documented rule: unusable boxes give zeros
            start_y, start_x = int(_c_round(y1 * scale)), int(_c_round(x1 * scale))
            end_y, end_x = int(_c_round(y2 * scale)), int(_c_round(x2 * scale))
            roi_h, roi_w = max(end_y - start_y + 1, 1), max(end_x - start_x + 1, 1)
            for p in range(out_h):
                # Exact rational bin edges (the documented rule), with Python's unbounded ints.
                h0 = min(max(p * roi_h // out_h + start_y, 0), height)
                h1 = min(max(-(-(p + 1) * roi_h // out_h) + start_y, 0), height)
                for q in range(out_w):
                    w0 = min(max(q * roi_w // out_w + start_x, 0), width)
                    w1 = min(max(-(-(q + 1) * roi_w // out_w) + start_x, 0), width)
                    if h1 > h0 and w1 > w0:
                        out[b, n, p, q] = features[b, h0:h1, w0:w1].max(axis=(0, 1))
    return out


def _bilinear(feature_map, y, x):
    height, width = feature_map.shape[:2]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(feature_map.shape[-1])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * feature_map[y_low, x_low]
        + hy * lx * feature_map[y_low, x_high]
        + ly * hx * feature_map[y_high, x_low]
        + ly * lx * feature_map[y_high, x_high]
    )


def reference_roi_align(
    features, boxes, output_size, spatial_scale, sampling_ratio, aligned, max_grid=None
):
    batch, _, _, channels = features.shape
    out_h, out_w = output_size
    out = np.zeros((batch, boxes.shape[1], out_h, out_w, channels))
    offset = 0.5 if aligned else 0.0
    for b in range(batch):
        for n in range(boxes.shape[1]):
            y1, x1, y2, x2 = (float(v) for v in boxes[b, n])
            if not np.all(np.isfinite(boxes[b, n])) or y2 < y1 or x2 < x1:
                continue
            start_y, start_x = y1 * spatial_scale - offset, x1 * spatial_scale - offset
            roi_h = y2 * spatial_scale - offset - start_y
            roi_w = x2 * spatial_scale - offset - start_x
            if not aligned:
                roi_h, roi_w = max(roi_h, 1.0), max(roi_w, 1.0)
            bin_h, bin_w = roi_h / out_h, roi_w / out_w
            # torchvision: sampling_ratio <= 0 means ceil(roi / output) samples, per box
            grid_h, grid_w = sampling_ratio, sampling_ratio
            if sampling_ratio <= 0:
                grid_h = int(np.ceil(np.float32(roi_h / out_h)))
                grid_w = int(np.ceil(np.float32(roi_w / out_w)))
            if max_grid is not None:  # kerasnn's documented cap for boxes far beyond the map
                grid_h, grid_w = min(grid_h, max_grid[0]), min(grid_w, max_grid[1])
            for p in range(out_h):
                for q in range(out_w):
                    total = np.zeros(channels)
                    for iy in range(grid_h):
                        y = start_y + p * bin_h + (iy + 0.5) * bin_h / grid_h
                        for ix in range(grid_w):
                            x = start_x + q * bin_w + (ix + 0.5) * bin_w / grid_w
                            total += _bilinear(features[b], y, x)
                    out[b, n, p, q] = total / max(grid_h * grid_w, 1)
    return out


def compiled_outputs(layer, features, boxes, jit_compile):
    """The layer in a functional model run by ``predict``: a compiled graph (TensorFlow) or the
    eager loop (JAX, PyTorch) with ``jit_compile=False``, XLA (TensorFlow, JAX) with ``True``."""
    features_in = keras.Input(features.shape[1:], batch_size=features.shape[0])
    boxes_in = keras.Input(boxes.shape[1:], batch_size=boxes.shape[0])
    model = keras.Model([features_in, boxes_in], layer(features_in, boxes_in))
    model.compile(jit_compile=jit_compile)
    return model.predict([features, boxes], batch_size=features.shape[0], verbose=0)


JIT_MODES = (False, True) if XLA_JIT else (False,)


def random_boxes(rng, batch, num_boxes, low, high):
    corners = rng.uniform(low, high, size=(batch, num_boxes, 2, 2))
    corners.sort(axis=2)
    return np.stack(
        [corners[..., 0, 0], corners[..., 0, 1], corners[..., 1, 0], corners[..., 1, 1]], axis=-1
    ).astype("float32")


# --------------------------------------------------------------------------------------------------
# RoIPooling
# --------------------------------------------------------------------------------------------------


def test_roi_pool_6x6_hand_placed_maxima():
    features = np.zeros((1, 6, 6, 1), "float32")
    features[0, 1, 1, 0] = 5.0
    features[0, 0, 4, 0] = 9.0
    features[0, 4, 1, 0] = 7.0
    features[0, 3, 3, 0] = 8.0
    features[0, 5, 5, 0] = 1.0
    boxes = np.array([[[0.0, 0.0, 5.0, 5.0]]], "float32")  # rows/cols 0..5 -> bins [0,3), [3,6)
    out = RoIPooling(2)(features, boxes)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(out)[0, 0, ..., 0], [[5, 9], [7, 8]])


def test_roi_pool_overlapping_bins_and_spatial_scale():
    features = np.arange(36, dtype="float32").reshape(1, 6, 6, 1)
    # Box [2, 2, 8, 8] at scale 0.5 -> cells 1..4 (4 x 4), bins of 4/3 cells:
    # [floor(0), ceil(4/3)) = [0, 2), [1, 3), [2, 4) offset by 1 -> rows {1,2}, {2,3}, {3,4}.
    boxes = np.array([[[2.0, 2.0, 8.0, 8.0]]], "float32")
    out = keras.ops.convert_to_numpy(RoIPooling(3, spatial_scale=0.5)(features, boxes))
    np.testing.assert_array_equal(out[0, 0, ..., 0], [[14, 15, 16], [20, 21, 22], [26, 27, 28]])


def test_roi_pool_rounds_halves_away_from_zero():
    features = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    # 2.5 * 1 rounds to 3 (C round), not 2 (banker's rounding): the box is the single cell (3, 3).
    boxes = np.array([[[2.5, 2.5, 2.5, 2.5]]], "float32")
    out = keras.ops.convert_to_numpy(RoIPooling(1)(features, boxes))
    assert out[0, 0, 0, 0, 0] == 15.0


@pytest.mark.parametrize(
    "spatial_scale,output_size", [(1.0, (3, 4)), (0.5, (2, 2)), (0.25, (5, 3))]
)
def test_roi_pool_matches_numpy_reference_on_random_boxes(spatial_scale, output_size):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((2, 9, 11, 3)).astype("float32")
    # Boxes reach outside the feature map on every side, so clipping and empty bins occur.
    boxes = random_boxes(rng, 2, 12, -6.0 / spatial_scale, 16.0 / spatial_scale)
    out = keras.ops.convert_to_numpy(RoIPooling(output_size, spatial_scale)(features, boxes))
    expected = reference_roi_pool(features, boxes, output_size, spatial_scale)
    np.testing.assert_array_equal(out, expected)


def test_roi_pool_bin_edges_agree_in_eager_graph_and_xla():
    # roi_height = 7 cells in 3 bins: (i + 1) * (7 / 3) is not exactly 7 in float32 arithmetic
    # once a graph optimizer reassociates it; the integer rule keeps every mode on [4, 7).
    rng = np.random.default_rng(7)
    features = rng.standard_normal((1, 12, 12, 2)).astype("float32")
    boxes = np.array([[[0.0, 0.0, 100.0, 100.0], [16.0, 32.0, 150.0, 190.0]]], "float32")
    expected = reference_roi_pool(features, boxes, (3, 3), 1 / 16)
    results = [roi_pool(features, boxes, 3, 1 / 16)]
    results += [compiled_outputs(RoIPooling(3, 1 / 16), features, boxes, jit) for jit in JIT_MODES]
    for result in results:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(result), expected)


def test_roi_pool_gradient_goes_to_the_bin_maximum():
    features = keras.ops.convert_to_tensor(np.arange(36, dtype="float32").reshape(1, 6, 6, 1))
    boxes = keras.ops.convert_to_tensor([[[0.0, 0.0, 5.0, 5.0]]])
    weights = keras.ops.convert_to_tensor([[[[[1.0], [2.0]], [[3.0], [4.0]]]]])
    _, grad = backend.value_and_gradient(
        lambda values: keras.ops.sum(roi_pool(values, boxes, 2) * weights), features
    )
    grad = keras.ops.convert_to_numpy(grad)[0, ..., 0]
    expected = np.zeros((6, 6))
    expected[2, 2], expected[2, 5], expected[5, 2], expected[5, 5] = 1, 2, 3, 4
    np.testing.assert_array_equal(grad, expected)


# --------------------------------------------------------------------------------------------------
# RoIAlign
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [1, 2, 3])
def test_roi_align_matches_numpy_reference_on_random_boxes(aligned, sampling_ratio):
    rng = np.random.default_rng(1)
    features = rng.standard_normal((2, 7, 9, 3)).astype("float32")
    boxes = random_boxes(rng, 2, 10, -6.0, 22.0)
    boxes[0, 0] = [3.0, 3.0, 3.2, 3.1]  # smaller than one cell: the non-aligned minimum size
    layer = RoIAlign((3, 4), spatial_scale=0.5, sampling_ratio=sampling_ratio, aligned=aligned)
    out = keras.ops.convert_to_numpy(layer(features, boxes))
    expected = reference_roi_align(features, boxes, (3, 4), 0.5, sampling_ratio, aligned)
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, -1])
def test_adaptive_roi_align_matches_the_per_box_reference(aligned, sampling_ratio):
    rng = np.random.default_rng(2)
    features = rng.standard_normal((2, 7, 9, 3)).astype("float32")
    boxes = random_boxes(rng, 2, 12, 0.0, 14.0)  # inside the 7 x 9 map (scale 0.5)
    boxes[..., 3] *= 18.0 / 14.0
    boxes[0, 0] = [3.0, 3.0, 3.2, 3.1]  # below one cell: one sample per bin
    boxes[0, 1] = [0.0, 0.0, 14.0, 18.0]  # the whole map: ceil(7/3) x ceil(9/4) samples
    boxes[1, 0] = [4.0, 4.0, 4.0, 4.0]  # empty: 0 samples when aligned
    layer = RoIAlign((3, 4), spatial_scale=0.5, sampling_ratio=sampling_ratio, aligned=aligned)
    out = keras.ops.convert_to_numpy(layer(features, boxes))
    expected = reference_roi_align(features, boxes, (3, 4), 0.5, sampling_ratio, aligned)
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)
    for jit_compile in JIT_MODES:  # the static sample cap: compiled graphs and XLA agree
        compiled = compiled_outputs(layer, features, boxes, jit_compile)
        np.testing.assert_allclose(compiled, expected, atol=1e-5, rtol=1e-5)
    # samples differ from sampling_ratio=2 for some box: the mode is really adaptive
    fixed = RoIAlign((3, 4), spatial_scale=0.5, sampling_ratio=2, aligned=aligned)
    assert np.abs(keras.ops.convert_to_numpy(fixed(features, boxes)) - out).max() > 1e-3


def test_adaptive_roi_align_caps_the_samples_of_boxes_far_beyond_the_map():
    rng = np.random.default_rng(3)
    features = rng.standard_normal((1, 7, 9, 2)).astype("float32")
    boxes = np.array([[[-20.0, -30.0, 40.0, 50.0], [2.0, 2.0, 9.0, 11.0]]], "float32")
    out = keras.ops.convert_to_numpy(RoIAlign((3, 4), 0.5, sampling_ratio=-1)(features, boxes))
    # cap: ceil((7 + 1) / 3) = 3 rows, ceil((9 + 1) / 4) = 3 columns of samples per bin
    expected = reference_roi_align(features, boxes, (3, 4), 0.5, -1, False, max_grid=(3, 3))
    np.testing.assert_allclose(out, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"adaptive sampling .* needs the feature map's height"):
        roi_align(keras.KerasTensor((1, None, None, 2)), keras.KerasTensor((1, 2, 4)), 3,
                  sampling_ratio=0)


def test_roi_align_of_a_linear_ramp_is_exact():
    # Bilinear interpolation reproduces a linear function, so each bin's average is the ramp at
    # the bin centre: start + (i + 0.5) * bin.
    rows, cols = np.meshgrid(np.arange(16.0), np.arange(16.0), indexing="ij")
    features = (2.0 * rows - 3.0 * cols + 1.0)[None, :, :, None].astype("float32")
    boxes = np.array([[[4.0, 6.0, 20.0, 26.0]]], "float32")  # cells [2, 10] x [3, 13] at scale 1/2
    out = RoIAlign((4, 5), spatial_scale=0.5, sampling_ratio=3, aligned=True)(features, boxes)
    start_y, start_x = 2.0 - 0.5, 3.0 - 0.5
    centre_y = start_y + (np.arange(4) + 0.5) * (8.0 / 4)
    centre_x = start_x + (np.arange(5) + 0.5) * (10.0 / 5)
    expected = 2.0 * centre_y[:, None] - 3.0 * centre_x[None, :] + 1.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[0, 0, ..., 0], expected, atol=1e-4)


def test_roi_align_of_the_whole_map_at_its_own_size_is_the_identity():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((2, 5, 7, 3)).astype("float32")
    # aligned=True with one sample per bin puts every sample on a cell centre.
    boxes = np.array([[[0.0, 0.0, 10.0, 14.0]], [[0.0, 0.0, 10.0, 14.0]]], "float32")
    out = RoIAlign((5, 7), spatial_scale=0.5, sampling_ratio=1, aligned=True)(features, boxes)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out)[:, 0], features, atol=1e-6)


def test_roi_align_gradient_matches_finite_differences():
    # The finite differences are those of the float64 NumPy reference (the forward pass is checked
    # against it above), so they do not depend on the backend's float64 support: Keras promotes
    # float64 to float32 outside TensorFlow (`keras.ops.matmul` of two float64 tensors returns
    # float32 on PyTorch and JAX), and differences of float32 losses would be noise.
    rng = np.random.default_rng(3)
    features = rng.standard_normal((1, 5, 6, 2))
    boxes = np.array([[[0.7, 1.2, 7.9, 9.3], [-1.0, 3.0, 4.0, 12.5]]])
    weights = rng.standard_normal((1, 2, 3, 2, 2))

    def loss_fn(values):
        out = roi_align(values, boxes, (3, 2), 0.5, sampling_ratio=2, aligned=True, dtype="float64")
        # non-linear so the check is not trivially linear
        return keras.ops.sum(keras.ops.sin(out) * keras.ops.cast(weights, out.dtype))

    def reference_loss(values):
        out = reference_roi_align(values, boxes, (3, 2), 0.5, 2, True)
        return float(np.sum(np.sin(out) * weights))

    _, analytic = backend.value_and_gradient(
        loss_fn, keras.ops.convert_to_tensor(features, "float64")
    )
    analytic = keras.ops.convert_to_numpy(analytic)
    numeric = np.zeros_like(features)
    step = 1e-6
    for index in np.ndindex(features.shape):
        plus, minus = features.copy(), features.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (reference_loss(plus) - reference_loss(minus)) / (2 * step)
    assert np.abs(analytic).max() > 0.1
    np.testing.assert_allclose(analytic, numeric, atol=1e-7, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# Bad input: documented rules and ValueErrors
# --------------------------------------------------------------------------------------------------

LAYERS = [
    pytest.param(lambda: RoIPooling(2, spatial_scale=1.0), id="RoIPooling"),
    pytest.param(lambda: RoIAlign(2, spatial_scale=1.0, aligned=True), id="RoIAlign"),
]


@pytest.mark.parametrize("make_layer", LAYERS)
def test_unusable_boxes_give_zeros_and_leave_other_boxes_intact(make_layer):
    rng = np.random.default_rng(4)
    features = (rng.standard_normal((1, 6, 6, 2)) - 5.0).astype("float32")  # all negative
    good = [1.0, 1.0, 4.0, 5.0]
    boxes = np.array(
        [
            [
                good,
                [4.0, 1.0, 2.0, 5.0],
                [1.0, 4.0, 4.0, 2.0],
                [np.nan, 1.0, 4.0, 5.0],
                [1.0, 1.0, np.inf, 5.0],
                [20.0, 20.0, 30.0, 30.0],
                [-30.0, -30.0, -20.0, -20.0],
            ]
        ],
        "float32",
    )
    layer = make_layer()
    # Eagerly, on every backend, NaN/inf boxes are refused (tests/test_reliability.py too).
    with pytest.raises(ValueError, match=r"`boxes` must be finite \(NaN or infinite coordinates "
                       r"in box 3 of image 0, box 4 of image 0\)"):
        layer(features, boxes)
    # Compiled (predict): NaN/inf boxes cannot raise there and give zeros. PyTorch has no
    # compiled predict here (jit_compile=True is torch.compile): its eager predict refuses them,
    # so only the finite unusable boxes go through it.
    if keras.backend.backend() == "torch":
        boxes = boxes[:, [0, 1, 2, 5, 6]]
    features_in = keras.Input((6, 6, 2), batch_size=1)
    boxes_in = keras.Input(boxes.shape[1:], batch_size=1)
    model = keras.Model([features_in, boxes_in], layer(features_in, boxes_in))
    out = model.predict([features, boxes], verbose=0)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0, 1:], 0.0)  # inverted, NaN, inf, wholly outside
    alone = keras.ops.convert_to_numpy(layer(features, boxes[:, :1]))
    if isinstance(layer, RoIPooling):
        np.testing.assert_array_equal(out[0, 0], alone[0, 0])
    else:  # a matmul over all boxes: PyTorch's CPU kernel sums in a shape-dependent order (1 ulp)
        np.testing.assert_allclose(out[0, 0], alone[0, 0], rtol=1e-6, atol=0)
    assert np.all(out[0, 0] < 0)


def test_box_partly_outside_is_clipped_roi_pool():
    features = np.arange(16, dtype="float32").reshape(1, 4, 4, 1) + 1
    boxes = np.array([[[-4.0, 2.0, 1.0, 9.0]]], "float32")  # rows -4..1, cols 2..9
    out = keras.ops.convert_to_numpy(RoIPooling((2, 2))(features, boxes))[0, 0, ..., 0]
    # rows: 6 cells, bins [-4,-1) -> empty, [-1, 2) -> rows 0..1; cols: 8 cells, bins [2,6) -> 2..3,
    # [6, 10) -> empty after clipping to width 4.
    np.testing.assert_array_equal(out, [[0, 0], [8, 0]])


@pytest.mark.parametrize("make_layer", LAYERS)
def test_zero_boxes_give_an_empty_output_of_the_right_shape(make_layer):
    features = np.ones((2, 6, 6, 3), "float32")
    boxes = np.zeros((2, 0, 4), "float32")
    out = make_layer()(features, boxes)
    assert tuple(out.shape) == (2, 0, 2, 2, 3)


@pytest.mark.parametrize("cls", [RoIPooling, RoIAlign])
def test_bad_shapes_raise_value_error(cls):
    layer = cls(2)
    features = np.ones((1, 6, 6, 3), "float32")
    with pytest.raises(ValueError, match=r"last axis. Received: boxes.shape=\(1, 3, 5\)"):
        layer(features, np.ones((1, 3, 5), "float32"))
    with pytest.raises(ValueError, match=r"rank 4 .* Received: features.shape=\(6, 6, 3\)"):
        layer(features[0], np.ones((1, 3, 4), "float32"))
    with pytest.raises(
        ValueError,
        match=r"same batch size. Received: features.shape=\(1, 6, 6, 3\), "
        r"boxes.shape=\(2, 3, 4\)",
    ):
        layer(features, np.ones((2, 3, 4), "float32"))


@pytest.mark.parametrize("cls", [RoIPooling, RoIAlign])
def test_bad_constructor_arguments_raise(cls):
    for output_size in (0, -1, (2, 0), (2, 2, 2), 2.5):
        with pytest.raises(
            ValueError,
            match=r"Argument `output_size` must be a positive integer or a tuple of 2 positive "
            r"integers\. Received: output_size=",
        ):
            cls(output_size)
    for spatial_scale in (0.0, -0.5, float("nan"), float("inf")):
        with pytest.raises(
            ValueError,
            match=r"Argument `spatial_scale` must be a positive finite number\. Received: ",
        ):
            cls(2, spatial_scale=spatial_scale)


def test_numpy_integer_arguments_are_accepted_and_stored_as_int():
    layer = RoIAlign(np.int64(3), sampling_ratio=np.int32(2))
    config = layer.get_config()
    assert config["output_size"] == (3, 3) and type(config["output_size"][0]) is int
    assert type(config["sampling_ratio"]) is int
    json.dumps(config)


def test_bad_sampling_ratio_raises():
    for sampling_ratio in (1.5, "2", None):
        with pytest.raises(ValueError, match=rf"Received: sampling_ratio={sampling_ratio!r}"):
            RoIAlign(2, sampling_ratio=sampling_ratio)
    with pytest.raises(ValueError, match=r"`aligned` must be a bool. Received: aligned='yes'"):
        RoIAlign(2, aligned="yes")


def test_roi_pool_needs_static_spatial_dims():
    with pytest.raises(ValueError, match=r"height, width and channels to be known"):
        roi_pool(keras.KerasTensor((1, None, None, 2)), keras.KerasTensor((1, 3, 4)), 2)


@pytest.mark.tensorflow_only(
    "a tf.function input signature with unknown height and width: JAX and PyTorch trace "
    "concrete shapes only"
)
def test_roi_align_accepts_unknown_spatial_dims():
    import tensorflow as tf

    align = tf.function(
        lambda f, b: roi_align(f, b, 2, aligned=True),
        input_signature=[tf.TensorSpec((1, None, None, 2)), tf.TensorSpec((1, 3, 4))],
    )
    features = np.random.default_rng(5).standard_normal((1, 5, 6, 2)).astype("float32")
    boxes = np.array(
        [[[0.0, 0.0, 5.0, 6.0], [1.0, 2.0, 3.0, 5.0], [0.5, 0.5, 2.0, 2.0]]], "float32"
    )
    np.testing.assert_allclose(
        align(features, boxes).numpy(),
        reference_roi_align(features, boxes, (2, 2), 1.0, 2, True),
        atol=1e-5,
    )


@pytest.mark.parametrize("cls", [RoIPooling, RoIAlign])
def test_docstrings_carry_the_shared_rules(cls):
    assert "{" not in cls.__doc__
    assert "its output is all zeros" in cls.__doc__
    assert "Call arguments:" in cls.__doc__ and "Returns:" in cls.__doc__


# --------------------------------------------------------------------------------------------------
# Shared layer harness
# --------------------------------------------------------------------------------------------------


def _harness_data():
    rng = np.random.default_rng(6)
    features = rng.standard_normal((2, 8, 10, 3)).astype("float32")
    boxes = random_boxes(rng, 2, 5, -4.0, 40.0)
    return features, boxes


def test_roi_pool_passes_layer_harness():
    features, boxes = _harness_data()
    out = run_layer_test(
        RoIPooling,
        {"output_size": (3, 2), "spatial_scale": 0.25},
        [features, boxes],
        input_call_style="args",
        non_differentiable_inputs=[1],
        expected_output_shape=(None, 5, 3, 2, 3),
    )
    np.testing.assert_array_equal(out, reference_roi_pool(features, boxes, (3, 2), 0.25))


def test_roi_align_passes_layer_harness():
    features, boxes = _harness_data()
    out = run_layer_test(
        RoIAlign,
        {"output_size": 3, "spatial_scale": 0.25, "sampling_ratio": 2, "aligned": True},
        [features, boxes],
        input_call_style="args",
        non_differentiable_inputs=[1],
        expected_output_shape=(None, 5, 3, 3, 3),
    )
    np.testing.assert_allclose(
        out, reference_roi_align(features, boxes, (3, 3), 0.25, 2, True), atol=1e-5
    )
