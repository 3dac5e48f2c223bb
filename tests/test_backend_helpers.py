"""kerasnn.backend's gradient helpers against hand-derived gradients, on every backend.

For ``y = x W + b`` and ``L = sum(y**2)``: ``dL/dW = 2 x^T y``, ``dL/db = 2 sum_rows(y)``,
``dL/dx = 2 y W^T``. ``.ci/run`` runs this file on TensorFlow, JAX and PyTorch.
"""

import keras
import numpy as np
import pytest

from kerasnn import backend

X = np.array([[1.0, -2.0, 0.5], [0.0, 1.5, -1.0]], "float32")
W = np.array([[0.2, -0.1], [0.4, 0.3], [-0.5, 0.1]], "float32")
B = np.array([0.1, -0.2], "float32")
Y = X @ W + B


def _dense():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    layer.set_weights([W, B])
    return layer


def test_value_and_gradient_of_one_input_and_of_a_list():
    w, b = keras.ops.convert_to_tensor(W), keras.ops.convert_to_tensor(B)
    value, gradient = backend.value_and_gradient(
        lambda x: keras.ops.sum(keras.ops.square(keras.ops.matmul(x, w) + b)),
        keras.ops.convert_to_tensor(X))
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(value)), np.sum(Y**2), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gradient), 2 * Y @ W.T, rtol=1e-5)

    inputs = [keras.ops.convert_to_tensor(v) for v in (X, W, B)]
    _, (dx, dw, unused) = backend.value_and_gradient(
        lambda values: keras.ops.sum(keras.ops.square(keras.ops.matmul(values[0], values[1]))),
        inputs)
    y = X @ W
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dx), 2 * y @ W.T, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dw), 2 * X.T @ y, rtol=1e-5)
    # An input the value does not read: None (TensorFlow, PyTorch) or zeros (JAX).
    assert unused is None or not np.any(keras.ops.convert_to_numpy(unused))


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the JAX refusal")
def test_variable_gradients_are_refused_on_jax():
    layer = _dense()
    with pytest.raises(NotImplementedError, match="No variable-gradient helper for the 'jax'"):
        backend.loss_and_gradients(lambda: keras.ops.sum(layer(X)), layer.trainable_variables)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="stateful gradients: not on JAX")
def test_loss_and_gradients_of_a_layer_s_variables():
    layer = _dense()
    loss, (kernel, bias) = backend.loss_and_gradients(
        lambda: keras.ops.sum(keras.ops.square(layer(X))), layer.trainable_variables)
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(loss)), np.sum(Y**2), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), 2 * X.T @ Y, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bias), 2 * Y.sum(0), rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="stateful gradients: not on JAX")
def test_minimize_takes_one_sgd_step_including_variables_built_by_the_loss():
    model = keras.Sequential([keras.layers.Dense(2)])  # built by the loss's first call
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    model.build((None, 3))
    model.set_weights([W, B])
    backend.minimize(model, lambda: keras.ops.sum(keras.ops.square(model(X))))
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, W - 0.1 * 2 * X.T @ Y, rtol=1e-5)
    np.testing.assert_allclose(bias, B - 0.1 * 2 * Y.sum(0), rtol=1e-5)

    lazy = keras.Sequential([keras.layers.Dense(2, kernel_initializer="zeros")])
    lazy.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    backend.minimize(lazy, lambda: keras.ops.sum(lazy(X)))  # dL/dW = column sums of X
    np.testing.assert_allclose(lazy.get_weights()[0], -0.1 * np.repeat(X.sum(0)[:, None], 2, 1),
                               rtol=1e-6)
