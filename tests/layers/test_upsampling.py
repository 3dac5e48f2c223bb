"""Tests of kerasnn.layers.upsampling: max unpooling (hand-computed 4x4 case, NumPy reference,
round trip with MaxPoolingWithArgmax2D), bed-of-nails upsampling, the harness, bad-input
messages."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn import backend
from kerasnn.layers.pooling import MaxPoolingWithArgmax2D
from kerasnn.layers.upsampling import BedOfNailsUpsampling2D, MaxUnpooling2D


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _numpy_unpool(values, indices, output_shape):
    """Zeros of `output_shape`; each example's flat position indices[i] receives values[i]."""
    out = np.zeros(output_shape, values.dtype)
    for b in range(values.shape[0]):
        flat = out[b].reshape(-1)
        flat[indices[b].reshape(-1)] = values[b].reshape(-1)
        out[b] = flat.reshape(output_shape[1:])
    return out


def _pool(x, **kwargs):
    values, indices = MaxPoolingWithArgmax2D(**kwargs)(x)
    return keras.ops.convert_to_numpy(values), keras.ops.convert_to_numpy(indices)


# --------------------------------------------------------------------------------- MaxUnpooling2D


def test_max_unpooling_hand_computed_4x4():
    x = np.array([[1, 2, 6, 5], [3, 4, 7, 8], [9, 0, 1, 1], [2, 2, 1, 3]], "float32").reshape(
        1, 4, 4, 1
    )
    values, indices = _pool(x)
    unpooled = keras.ops.convert_to_numpy(MaxUnpooling2D()([values, indices]))[0, :, :, 0]
    np.testing.assert_array_equal(
        unpooled, [[0, 0, 0, 0], [0, 4, 0, 8], [9, 0, 0, 0], [0, 0, 0, 3]]
    )


def test_max_unpooling_hand_computed_from_given_indices():
    # Two channels, interleaved flat positions (y * 4 + x) * 2 + c.
    values = np.array([[[[1, 10], [2, 20]], [[3, 30], [4, 40]]]], "float32")
    indices = np.array([[[[0, 3], [4, 13]], [[16, 19], [30, 31]]]], "int32")
    unpooled = keras.ops.convert_to_numpy(MaxUnpooling2D()([values, indices]))[0]
    expected = np.zeros((4, 4, 2), "float32")
    expected[0, 0, 0], expected[0, 1, 1], expected[0, 2, 0], expected[1, 2, 1] = 1, 10, 2, 20
    expected[2, 0, 0], expected[2, 1, 1], expected[3, 3, 0], expected[3, 3, 1] = 3, 30, 4, 40
    np.testing.assert_array_equal(unpooled, expected)


@pytest.mark.parametrize(
    "shape, pool_kwargs, unpool_kwargs",
    [
        ((2, 6, 4, 3), {}, {}),
        ((2, 5, 7, 2), {}, {"output_size": (5, 7)}),  # odd sizes
        (
            (2, 5, 7, 2),
            {"pool_size": 3, "strides": 2, "padding": "same"},
            {"pool_size": 3, "strides": 2, "output_size": (5, 7)},
        ),  # overlapping windows
        ((2, 3, 4, 4), {"data_format": "channels_first"}, {"data_format": "channels_first"}),
    ],
)
def test_max_unpooling_against_numpy(shape, pool_kwargs, unpool_kwargs):
    x = _data(*shape)
    values, indices = _pool(x, **pool_kwargs)
    unpooled = MaxUnpooling2D(**unpool_kwargs)([values, indices])
    np.testing.assert_allclose(unpooled, _numpy_unpool(values, indices, x.shape), rtol=1e-6)
    # Every kept value is the input's value at that place: unpooling keeps the spatial information.
    kept = keras.ops.convert_to_numpy(unpooled) != 0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(unpooled)[kept], x[kept])


def test_max_unpooling_gradient_is_the_gather_of_the_output_gradient():
    x = _data(1, 4, 4, 2)
    values, indices = _pool(x)
    weights = _data(1, 4, 4, 2, seed=5)
    layer = MaxUnpooling2D()
    _, grad = backend.value_and_gradient(
        lambda v: keras.ops.sum(layer([v, indices]) * keras.ops.convert_to_tensor(weights)),
        keras.ops.convert_to_tensor(values),
    )
    grad = keras.ops.convert_to_numpy(grad)
    expected = np.take_along_axis(weights.reshape(1, -1), indices.reshape(1, -1), axis=1)
    np.testing.assert_allclose(grad.reshape(1, -1), expected, rtol=1e-6)


def test_max_unpooling_passes_harness():
    x = _data(2, 4, 6, 3)
    values, indices = _pool(x)
    run_layer_test(
        MaxUnpooling2D, {"pool_size": 2}, [values, indices], expected_output_shape=(None, 4, 6, 3)
    )


def test_max_unpooling_rejects_bad_input():
    values = np.zeros((2, 2, 2, 3), "float32")
    with pytest.raises(
        ValueError,
        match=r"expects `indices` of the same shape as the values \(2, 2, 2, 3\). "
        r"Received: indices shape \(2, 2, 2, 4\)",
    ):
        MaxUnpooling2D()([values, np.zeros((2, 2, 2, 4), "int32")])
    with pytest.raises(ValueError, match=r"expects integer `indices`. Received: indices dtype"):
        MaxUnpooling2D()([values, np.zeros((2, 2, 2, 3), "float32")])
    with pytest.raises(
        ValueError, match=r"expects a 4-D values .* Received: values shape \(2, 2, 3\) \(rank 3\)"
    ):
        MaxUnpooling2D()([values[0], np.zeros((2, 2, 3), "int32")])
    with pytest.raises(ValueError, match=r"expects a list of two inputs \[values, indices\]"):
        MaxUnpooling2D().compute_output_shape((2, 2, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"`output_size` must be a positive integer or a tuple of 2 positive "
        r"integers. Received: output_size=\(0, 4\)",
    ):
        MaxUnpooling2D(output_size=(0, 4))
    with pytest.raises(ValueError, match=r"`pool_size` must be .* Received: pool_size=-2"):
        MaxUnpooling2D(pool_size=-2)
    with pytest.raises(ValueError, match=r"needs a known output size"):
        MaxUnpooling2D()(
            [keras.Input((None, None, 3)), keras.Input((None, None, 3), dtype="int32")]
        )


# ------------------------------------------------------------------------- BedOfNailsUpsampling2D


def test_bed_of_nails_hand_computed():
    x = np.array([[1, 2], [3, 4]], "float32").reshape(1, 2, 2, 1)
    y = keras.ops.convert_to_numpy(BedOfNailsUpsampling2D(size=(2, 3))(x))[0, :, :, 0]
    np.testing.assert_array_equal(
        y, [[1, 0, 0, 2, 0, 0], [0, 0, 0, 0, 0, 0], [3, 0, 0, 4, 0, 0], [0, 0, 0, 0, 0, 0]]
    )


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_bed_of_nails_against_numpy_and_nearest_neighbour(data_format):
    x = _data(2, 3, 4, 5)
    y = keras.ops.convert_to_numpy(BedOfNailsUpsampling2D(size=(3, 2), data_format=data_format)(x))
    expected = np.zeros_like(
        keras.ops.convert_to_numpy(keras.layers.UpSampling2D((3, 2), data_format=data_format)(x))
    )
    if data_format == "channels_last":
        expected[:, ::3, ::2, :] = x
    else:
        expected[:, :, ::3, ::2] = x
    np.testing.assert_array_equal(y, expected)
    # Keeping only the top-left of each block of nearest-neighbour upsampling gives the same.
    nearest = keras.ops.convert_to_numpy(
        keras.layers.UpSampling2D((3, 2), data_format=data_format)(x)
    )
    np.testing.assert_array_equal(np.where(expected != 0, nearest, 0), y)


def test_bed_of_nails_passes_harness():
    run_layer_test(
        BedOfNailsUpsampling2D,
        {"size": (2, 3)},
        _data(2, 3, 3, 4),
        expected_output_shape=(None, 6, 9, 4),
    )


def test_bed_of_nails_rejects_bad_input():
    with pytest.raises(
        ValueError,
        match=r"`size` must be a positive integer or a tuple of 2 positive integers. "
        r"Received: size=\(2, 0\)",
    ):
        BedOfNailsUpsampling2D(size=(2, 0))
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=2"):
        BedOfNailsUpsampling2D()(np.zeros((2, 3), "float32"))
