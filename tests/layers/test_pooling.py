"""Tests of kerasnn.layers.pooling: GAP vs Keras, the CAM head vs GAP -> Dense and its map identity,
max pooling with argmax vs a NumPy reference, the harness, and bad-input messages."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers.pooling import (
    ClassActivationMapping,
    GlobalAveragePooling2D,
    MaxPoolingWithArgmax2D,
)


def _np(value):
    """NumPy array of a tensor (PyTorch outputs that require grad included) or an array."""
    return keras.ops.convert_to_numpy(value)


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ----------------------------------------------------------------------- GlobalAveragePooling2D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_gap_matches_keras(data_format, keepdims):
    x = _data(2, 5, 3, 4)
    ours = GlobalAveragePooling2D(data_format=data_format, keepdims=keepdims)(x)
    theirs = keras.layers.GlobalAveragePooling2D(data_format=data_format, keepdims=keepdims)(x)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    np.testing.assert_allclose(ours, x.mean(axis=axes, keepdims=keepdims), atol=1e-6)


def test_gap_passes_harness():
    run_layer_test(
        GlobalAveragePooling2D,
        {"keepdims": True},
        _data(3, 4, 4, 5),
        expected_output_shape=(None, 1, 1, 5),
    )


def test_gap_is_built_at_construction_unless_a_subclass_overrides_build():
    assert GlobalAveragePooling2D().built

    class WithState(GlobalAveragePooling2D):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones")

    layer = WithState()
    assert not layer.built
    layer(_data(2, 3, 3, 4))
    assert layer.built and len(layer.weights) == 1


def test_gap_rejects_wrong_rank_and_data_format():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        GlobalAveragePooling2D()(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(
        ValueError, match=r"expects a 4-D input .* Received: input shape \(2, 3, 4\) \(rank 3\)"
    ):
        GlobalAveragePooling2D().compute_output_shape((2, 3, 4))
    with pytest.raises(
        ValueError, match=r"`data_format` must be one of .* Received: data_format='nhwc'"
    ):
        GlobalAveragePooling2D(data_format="nhwc")


# ----------------------------------------------------------------------- ClassActivationMapping


def test_cam_scores_equal_gap_then_dense_with_the_same_weights():
    features = _data(3, 5, 6, 8)
    dense = keras.layers.Dense(4, activation="softmax")
    reference = dense(keras.layers.GlobalAveragePooling2D()(features))
    cam = ClassActivationMapping(4, activation="softmax")
    cam.build(features.shape)
    assert [w.shape for w in cam.weights] == [w.shape for w in dense.weights]
    cam.set_weights(dense.get_weights())
    np.testing.assert_allclose(_np(cam(features)), _np(reference), atol=1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cam_maps_follow_the_course_formula(data_format):
    features = _data(2, 4, 5, 6)
    cam = ClassActivationMapping(
        3, return_maps=True, bias_initializer="random_normal", data_format=data_format
    )
    scores, maps = (keras.ops.convert_to_numpy(t) for t in cam(features))
    kernel, bias = cam.get_weights()
    # M_c(x, y) = sum_k w_k^c f_k(x, y), written out with explicit indices.
    if data_format == "channels_last":
        expected = np.einsum("bxyk,kc->bxyc", features, kernel)
        spatial = (1, 2)
    else:
        expected = np.einsum("bkxy,kc->bcxy", features, kernel)
        spatial = (2, 3)
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    # S_c = mean over (x, y) of M_c + b_c.
    np.testing.assert_allclose(scores, maps.mean(axis=spatial) + bias, atol=1e-5)


def test_cam_upsampled_maps_match_resizing_the_raw_maps():
    features = _data(2, 4, 4, 6)
    cam = ClassActivationMapping(3, return_maps=True, map_size=(16, 12))
    _, maps = cam(features)
    raw = np.einsum("bxyk,kc->bxyc", features, cam.get_weights()[0])
    expected = keras.ops.image.resize(raw, (16, 12), interpolation="bilinear")
    assert tuple(maps.shape) == (2, 16, 12, 3)
    np.testing.assert_allclose(_np(maps), _np(expected), atol=1e-5)


def test_cam_passes_harness_with_maps():
    run_layer_test(
        ClassActivationMapping,
        {"num_classes": 3, "return_maps": True, "map_size": (8, 8), "bias_initializer": "ones"},
        _data(2, 4, 4, 5),
        expected_output_shape=((None, 3), (None, 8, 8, 3)),
    )


def test_cam_passes_harness_scores_only_channels_first():
    run_layer_test(
        ClassActivationMapping,
        {"num_classes": 2, "activation": "softmax", "data_format": "channels_first"},
        _data(2, 5, 3, 3),
        expected_output_shape=(None, 2),
    )


def test_cam_rejects_bad_arguments_and_inputs():
    with pytest.raises(
        ValueError, match=r"`num_classes` must be a positive integer. Received: num_classes=0"
    ):
        ClassActivationMapping(0)
    with pytest.raises(
        ValueError,
        match=r"`map_size` must be a positive integer or a tuple of 2 positive "
        r"integers. Received: map_size=\(8, -1\)",
    ):
        ClassActivationMapping(3, map_size=(8, -1))
    with pytest.raises(
        ValueError, match=r"expects a 4-D feature map .* Received: feature map shape \(2, 5\)"
    ):
        ClassActivationMapping(3).build((2, 5))


# ------------------------------------------------------------------------ MaxPoolingWithArgmax2D


def _numpy_max_pool_with_argmax(x, pool, strides, padding):
    """Loops over every window of a channels-last input: values and flat (y*W + x)*C + c indices."""
    batch, height, width, channels = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "valid":
        out_h, out_w, top, left = (height - ph) // sh + 1, (width - pw) // sw + 1, 0, 0
    else:
        out_h, out_w = -(-height // sh), -(-width // sw)
        top = max((out_h - 1) * sh + ph - height, 0) // 2
        left = max((out_w - 1) * sw + pw - width, 0) // 2
    values = np.zeros((batch, out_h, out_w, channels), x.dtype)
    indices = np.zeros((batch, out_h, out_w, channels), "int32")
    for b in range(batch):
        for i in range(out_h):
            for j in range(out_w):
                for c in range(channels):
                    best = None
                    for dy in range(ph):
                        for dx in range(pw):
                            y, xx = i * sh + dy - top, j * sw + dx - left
                            if (
                                0 <= y < height
                                and 0 <= xx < width
                                and (best is None or x[b, y, xx, c] > best[0])
                            ):
                                best = (x[b, y, xx, c], (y * width + xx) * channels + c)
                    values[b, i, j, c], indices[b, i, j, c] = best
    return values, indices


@pytest.mark.parametrize(
    "shape, pool, strides, padding",
    [
        ((2, 4, 4, 3), (2, 2), None, "valid"),
        ((2, 5, 7, 2), (2, 2), None, "valid"),  # odd sizes: last row/column dropped
        ((2, 5, 7, 2), (3, 3), (2, 2), "same"),  # overlapping windows with padding
        ((1, 6, 5, 2), (2, 3), (1, 2), "valid"),
    ],
)
def test_max_pooling_with_argmax_against_numpy_and_keras(shape, pool, strides, padding):
    x = -np.abs(_data(*shape))  # all negative: zero padding would win, -inf padding must not
    values, indices = MaxPoolingWithArgmax2D(pool, strides, padding)(x)
    expected_values, expected_indices = _numpy_max_pool_with_argmax(
        x, pool, strides or pool, padding
    )
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(values, expected_values)
    np.testing.assert_allclose(values, keras.layers.MaxPooling2D(pool, strides, padding)(x))
    assert keras.backend.standardize_dtype(indices.dtype) == "int32"


def test_max_pooling_with_argmax_hand_computed_4x4():
    x = np.array([[1, 2, 6, 5], [3, 4, 7, 8], [9, 0, 1, 1], [2, 2, 1, 3]], "float32").reshape(
        1, 4, 4, 1
    )
    values, indices = MaxPoolingWithArgmax2D()(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(values)[0, :, :, 0], [[4, 8], [9, 3]])
    # Flat positions y * 4 + x (one channel): 4 at (1, 1), 8 at (1, 3), 9 at (2, 0), 3 at (3, 3).
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(indices)[0, :, :, 0], [[5, 7], [8, 15]]
    )


def test_max_pooling_with_argmax_channels_first_indices_point_at_the_maxima():
    x = _data(2, 3, 6, 4)
    values, indices = MaxPoolingWithArgmax2D(data_format="channels_first")(x)
    picked = np.take_along_axis(
        x.reshape(2, -1), keras.ops.convert_to_numpy(indices).reshape(2, -1), axis=1
    )
    np.testing.assert_array_equal(picked, keras.ops.convert_to_numpy(values).reshape(2, -1))
    np.testing.assert_allclose(values, keras.layers.MaxPooling2D(data_format="channels_first")(x))


def test_max_pooling_with_argmax_passes_harness():
    run_layer_test(
        MaxPoolingWithArgmax2D,
        {"pool_size": 3, "strides": 2, "padding": "same"},
        _data(2, 5, 5, 3),
        expected_output_shape=((None, 3, 3, 3), (None, 3, 3, 3)),
        # float16 rounding can merge two close values of a window and move the argmax.
        run_mixed_precision=False,
    )


def test_max_pooling_with_argmax_mixed_precision_on_well_separated_values():
    values = (
        np.random.default_rng(0).permutation(2 * 4 * 4 * 2).reshape(2, 4, 4, 2).astype("float32")
    )
    run_layer_test(
        MaxPoolingWithArgmax2D, {}, values, run_training=False, run_jit=False, run_saving=False
    )


def test_max_pooling_with_argmax_rejects_bad_input():
    with pytest.raises(
        ValueError,
        match=r"`pool_size` must be a positive integer or a tuple of 2 positive "
        r"integers. Received: pool_size=0",
    ):
        MaxPoolingWithArgmax2D(pool_size=0)
    with pytest.raises(ValueError, match=r"`strides` must be .* Received: strides=\(2, -1\)"):
        MaxPoolingWithArgmax2D(strides=(2, -1))
    with pytest.raises(
        ValueError, match=r"`padding` must be one of 'valid', 'same'. Received: padding='full'"
    ):
        MaxPoolingWithArgmax2D(padding="full")
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        MaxPoolingWithArgmax2D()(np.zeros((2, 4, 4), "float32"))
    with pytest.raises(
        ValueError,
        match=r"needs known height, width and channels .* "
        r"Received: input shape \(None, None, None, 3\)",
    ):
        MaxPoolingWithArgmax2D()(keras.Input((None, None, 3)))
    with pytest.raises(
        ValueError,
        match=r"at least as large as pool_size=\(3, 3\). Received: input shape \(1, 2, 2, 1\)",
    ):
        MaxPoolingWithArgmax2D(pool_size=3)(np.zeros((1, 2, 2, 1), "float32"))
