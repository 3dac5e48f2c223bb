"""Tests of the shared layer-test harness itself: it passes good layers and catches broken ones."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_harness import run_layer_test


@keras.saving.register_keras_serializable(package="kerasnn_harness_test")
class _Scale(keras.layers.Layer):
    """y = factor * w * x, with a complete config."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs):
        return self.factor * inputs * ops.cast(self.w, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="kerasnn_harness_test")
class _ForgetfulScale(_Scale):
    """Same layer, but get_config forgets `factor`: from_config silently resets it to 1."""

    def get_config(self):
        return keras.layers.Layer.get_config(self)


@keras.saving.register_keras_serializable(package="kerasnn_harness_test")
class _DeadWeight(_Scale):
    """A trainable weight that never reaches the output."""

    def build(self, input_shape):
        super().build(input_shape)
        self.unused = self.add_weight(shape=(1,), initializer="ones", name="unused")


@keras.saving.register_keras_serializable(package="kerasnn_harness_test")
class _SumAndArgmax(keras.layers.Layer):
    """Two inputs in, (a + b, argmax over the last axis of a + b) out: one float, one int output."""

    def call(self, inputs):
        total = inputs[0] + inputs[1]
        return total, ops.argmax(total, axis=-1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return shape, shape[:-1]

    def compute_output_spec(self, inputs):
        # The int output needs its dtype declared: compute_output_shape alone implies float.
        total_shape, index_shape = self.compute_output_shape([inputs[0].shape, inputs[1].shape])
        return (
            keras.KerasTensor(total_shape, dtype=self.compute_dtype),
            keras.KerasTensor(index_shape, dtype="int32"),
        )


def _data(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype("float32")


def test_harness_passes_keras_dense_and_returns_its_outputs():
    x = _data(4, 5)
    outputs = run_layer_test(
        keras.layers.Dense,
        {"units": 3, "kernel_initializer": "ones", "bias_initializer": "zeros"},
        x,
        expected_output_shape=(None, 3),
    )
    np.testing.assert_allclose(outputs, np.repeat(x.sum(-1, keepdims=True), 3, axis=-1), rtol=1e-5)


def test_harness_catches_incomplete_get_config():
    with pytest.raises(
        AssertionError, match=r"does not return the constructor argument\(s\) \['factor'\]"
    ):
        run_layer_test(
            _ForgetfulScale,
            {"factor": 3.0},
            _data(2, 3),
            run_training=False,
            run_jit=False,
            run_mixed_precision=False,
        )


def test_harness_catches_trainable_weight_without_gradient():
    with pytest.raises(AssertionError, match="no gradient reaches trainable weight .*unused"):
        run_layer_test(
            _DeadWeight, {"factor": 2.0}, _data(2, 3), run_jit=False, run_mixed_precision=False
        )
    # ... unless the test says that weight legitimately gets none.
    run_layer_test(
        _DeadWeight,
        {"factor": 2.0},
        _data(2, 3),
        run_jit=False,
        run_mixed_precision=False,
        skip_gradient_weights=("unused",),
    )


def test_harness_catches_wrong_expected_shape():
    with pytest.raises(AssertionError, match=r"eager shape \(2, 3\), expected \(None, 4\)"):
        run_layer_test(
            _Scale,
            {"factor": 2.0},
            _data(2, 3),
            expected_output_shape=(None, 4),
            run_training=False,
            run_jit=False,
            run_mixed_precision=False,
            run_saving=False,
        )


def test_harness_handles_multiple_inputs_and_an_integer_output():
    a, b = _data(3, 4), _data(3, 4)
    total, index = run_layer_test(
        _SumAndArgmax,
        {},
        [a, b],
        expected_output_shape=((None, 4), (None,)),
        # Mixed precision may flip an argmax between near-equal values; compare float output only.
        run_mixed_precision=False,
    )
    np.testing.assert_allclose(total, a + b, rtol=1e-6)
    np.testing.assert_array_equal(index, np.argmax(a + b, axis=-1))
