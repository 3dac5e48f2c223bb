"""CourseRNNCell, TruncatedBPTTCell and the gradient-through-time diagnostics of
kerasnn.layers.recurrent, against Keras' SimpleRNNCell, NumPy equations and finite differences."""

import keras
import numpy as np
import pytest
from keras import ops
from layer_harness import run_layer_test
from test_recurrent import _numpy_lstm, _padding_mask, _random_weights

from kerasnn import backend
from kerasnn.layers import CourseRNNCell, LSTMCell, TruncatedBPTTCell, recurrent

BATCH, TIME, FEATURES, UNITS, HIDDEN = 3, 5, 4, 6, 3

# Tensors of any backend to NumPy (np.asarray fails on torch tensors that require grad).
_to_numpy = keras.ops.convert_to_numpy


def _weight_gradients(layer, loss_of_outputs, *args):
    """``d loss / d layer.trainable_variables`` on any backend: the built layer made a pure
    function of its weights by ``stateless_call`` (as the layer harness does)."""
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_of_weights(weights):
        outputs, _ = layer.stateless_call(weights, non_trainable, *args)
        return loss_of_outputs(outputs)

    weights = [v.value for v in layer.trainable_variables]
    _, gradients = backend.value_and_gradient(loss_of_weights, weights)
    return [_to_numpy(g) for g in gradients]


def _input_gradient(function, x):
    """``d function(x) / d x`` as NumPy (``None`` when x is not used: TensorFlow, PyTorch)."""
    _, gradient = backend.value_and_gradient(function, ops.convert_to_tensor(x))
    return None if gradient is None else _to_numpy(gradient)


def _sequences(seed=0, time=TIME):
    return np.random.default_rng(seed).normal(size=(BATCH, time, FEATURES)).astype("float32")


def _numpy_course_rnn(x, kernel, recurrent_kernel, bias, hidden_units, mask=None,
                      hidden_activation=np.tanh, context_perturbations=None):
    """The notes' equations: h^t = h(W_h x^t + V_h c^{t-1} + b_h), c^t = tanh(W_c x^t +
    V_c c^{t-1} + b_c); returns the outputs [h^t, c^t] and the last context. ``context_
    perturbations[:, t]`` is added to c^t before step t+1 reads it."""
    batch, time, _ = x.shape
    context = np.zeros((batch, recurrent_kernel.shape[0]))
    outputs = []
    for t in range(time):
        if context_perturbations is not None:
            context = context + context_perturbations[:, t]
        z = x[:, t] @ kernel + context @ recurrent_kernel + bias
        new_context = np.tanh(z[:, hidden_units:])
        output = np.concatenate([hidden_activation(z[:, :hidden_units]), new_context], axis=1)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t : t + 1]
        outputs.append(np.where(keep, output, outputs[-1] if outputs else 0.0))
        context = np.where(keep, new_context, context)
    return np.stack(outputs, axis=1), context


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_elman_case_matches_keras_simple_rnn(masked):
    x, mask = _sequences(), (_padding_mask() if masked else None)
    builtin = keras.layers.RNN(keras.layers.SimpleRNNCell(UNITS), return_sequences=True,
                               return_state=True)
    builtin(x)
    builtin.set_weights(_random_weights(builtin))
    ours = keras.layers.RNN(CourseRNNCell(UNITS), return_sequences=True, return_state=True)
    ours(x)
    ours.set_weights(builtin.get_weights())
    expected_outputs, expected_state = builtin(x, mask=mask)
    outputs, state = ours(x, mask=mask)
    np.testing.assert_allclose(_to_numpy(outputs), _to_numpy(expected_outputs), atol=1e-6)
    np.testing.assert_allclose(_to_numpy(state), _to_numpy(expected_state), atol=1e-6)


# Keras 3.15 bug: the JAX backend's masked RNN loop (keras/src/backend/jax/rnn.py, unroll=False)
# outputs the cell's first *state* at a masked step, assuming output == states[0]; here the output
# is [h, c] (9 units) and the state c (6 units): a broadcasting error. unroll=True is right.
_KERAS_JAX_MASKED_RNN_BUG = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="Keras 3.15 bug: on JAX a masked keras.layers.RNN (unroll=False) outputs the cell's "
    "first state at masked steps (assumes output == states[0]): 'Incompatible shapes for "
    "broadcasting: shapes=[(3, 1), (3, 6), (3, 9)]'; the masked_unrolled case covers JAX",
)


@pytest.mark.parametrize(
    "masked, unroll",
    [
        (False, False),
        pytest.param(True, False, marks=_KERAS_JAX_MASKED_RNN_BUG),
        (True, True),
    ],
    ids=["unmasked", "masked", "masked_unrolled"],
)
def test_full_case_follows_the_course_equations(masked, unroll):
    x, mask = _sequences(), (_padding_mask() if masked else None)
    cell = CourseRNNCell(UNITS, hidden_units=HIDDEN, hidden_activation="relu")
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True, unroll=unroll)
    rnn(x)
    weights = _random_weights(rnn)
    rnn.set_weights(weights)
    assert [w.shape for w in weights] == [
        (FEATURES, HIDDEN + UNITS), (UNITS, HIDDEN + UNITS), (HIDDEN + UNITS,)]
    outputs, state = rnn(x, mask=mask)
    expected_outputs, expected_state = _numpy_course_rnn(
        x, *weights, HIDDEN, mask, hidden_activation=lambda z: np.maximum(z, 0.0))
    assert outputs.shape == (BATCH, TIME, HIDDEN + UNITS)
    np.testing.assert_allclose(_to_numpy(outputs), expected_outputs, atol=1e-5)
    np.testing.assert_allclose(_to_numpy(state), expected_state, atol=1e-5)


@keras.saving.register_keras_serializable(package="kerasnn_tests")
class CourseRNNSequence(keras.layers.RNN):
    """``keras.layers.RNN(CourseRNNCell(...))`` configured by the cell's arguments (the harness
    runs layers; a cell lives inside an RNN)."""

    def __init__(self, units, hidden_units=0, truncation=None, return_sequences=True, **kwargs):
        cell = CourseRNNCell(units, hidden_units=hidden_units)
        if truncation is not None:
            cell = TruncatedBPTTCell(cell, truncation)
        super().__init__(cell, return_sequences=return_sequences, **kwargs)
        self.units, self.hidden_units, self.truncation = units, hidden_units, truncation

    def get_config(self):
        config = super().get_config()
        config.pop("cell")
        return {**config, "units": self.units, "hidden_units": self.hidden_units,
                "truncation": self.truncation}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_course_rnn_cell_passes_the_harness():
    outputs = run_layer_test(
        CourseRNNSequence,
        init_kwargs={"units": UNITS, "hidden_units": HIDDEN, "truncation": 2},
        input_data=_sequences(),
        expected_output_shape=(None, TIME, HIDDEN + UNITS),
    )
    assert np.all(np.abs(outputs) < 1.0)  # both groups are tanh


def test_truncated_bptt_stops_gradients_after_u_steps():
    x = _sequences(time=10)
    cell = CourseRNNCell(UNITS)
    full = keras.layers.RNN(cell)
    truncated = keras.layers.RNN(TruncatedBPTTCell(cell, truncation=4))

    def squared_sum(outputs):
        return ops.sum(outputs**2)

    np.testing.assert_allclose(  # same forward pass (this also builds both layers)
        _to_numpy(squared_sum(full(x))), _to_numpy(squared_sum(truncated(x))), rtol=1e-6
    )
    per_step = np.abs(_input_gradient(lambda x: squared_sum(truncated(x)), x)).sum(axis=(0, 2))
    # windows [0, 4), [4, 8), [8, 10): the loss at step 9 reaches steps 8 and 9 only
    assert np.all(per_step[:8] == 0.0) and np.all(per_step[8:] > 0.0)
    full_per_step = np.abs(_input_gradient(lambda x: squared_sum(full(x)), x)).sum(axis=(0, 2))
    assert np.all(full_per_step > 0.0)

    # The weight gradient equals an explicit loop that cuts the gradient at the window starts.
    non_trainable = [v.value for v in cell.non_trainable_variables]

    def loop_loss(weights):
        state = [ops.zeros((BATCH, UNITS))]
        for t in range(10):
            if t % 4 == 0:
                state = [ops.stop_gradient(s) for s in state]
            (output, state), _ = cell.stateless_call(weights, non_trainable, x[:, t], state)
        return squared_sum(output)

    _, expected = backend.value_and_gradient(loop_loss, [v.value for v in cell.trainable_variables])
    assert [v.path for v in truncated.trainable_variables] == [
        v.path for v in cell.trainable_variables
    ]
    got = _weight_gradients(truncated, squared_sum, ops.convert_to_tensor(x))
    for got_gradient, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(got_gradient, _to_numpy(want), rtol=1e-5, atol=1e-6)


def test_state_gradients_match_finite_differences():
    x = _sequences(seed=3)
    cell = CourseRNNCell(UNITS, hidden_units=HIDDEN)
    rnn = keras.layers.RNN(cell)
    rnn(x)
    weights = _random_weights(rnn, seed=4)
    rnn.set_weights(weights)
    target = np.random.default_rng(5).normal(size=(BATCH, HIDDEN + UNITS))
    target_tensor = ops.convert_to_tensor(target, "float32")

    def loss(outputs):
        return keras.ops.mean((outputs - target_tensor) ** 2)

    gradients = recurrent.state_gradients(cell, x, loss)
    assert gradients.shape == (BATCH, TIME, UNITS)

    def numpy_loss(perturbations):
        outputs, _ = _numpy_course_rnn(x.astype("float64"), *weights, HIDDEN,
                                       context_perturbations=perturbations)
        return np.mean((outputs[:, -1] - target) ** 2)

    epsilon, expected = 1e-5, np.zeros(gradients.shape)
    for index in np.ndindex(*gradients.shape):
        step = np.zeros(gradients.shape)
        step[index] = epsilon
        expected[index] = (numpy_loss(step) - numpy_loss(-step)) / (2 * epsilon)
    np.testing.assert_allclose(gradients, expected, atol=2e-5)
    norms = recurrent.gradient_norms_through_time(cell, x, loss)
    np.testing.assert_allclose(norms, np.linalg.norm(expected, axis=(0, 2)), rtol=1e-3)


def test_carousel_gradient_is_the_product_of_forget_gates():
    x, mask = _sequences(), _padding_mask()
    cell = LSTMCell(UNITS)
    rnn = keras.layers.RNN(cell)
    rnn(x)
    weights = _random_weights(rnn)
    rnn.set_weights(weights)
    forget = _numpy_lstm(x, *weights, mask=mask)["f"]
    forget = np.where(mask[..., None], forget, 1.0)  # held steps keep c
    expected = np.stack([np.prod(forget[:, t:], axis=1) for t in range(TIME)], axis=1)
    np.testing.assert_allclose(_to_numpy(recurrent.carousel_gradient(cell, x, mask=mask)),
                               expected, rtol=1e-5)

    # Without recurrent weights the gates ignore h: the carousel is the whole dc_T/dc_0.
    weights[1] = np.zeros_like(weights[1])
    rnn.set_weights(weights)

    def total_last_memory(c_0):
        return ops.sum(cell.gate_activations(x, [ops.zeros((BATCH, UNITS)), c_0])["memory"][:, -1])

    np.testing.assert_allclose(_input_gradient(total_last_memory, np.zeros((BATCH, UNITS))),
                               _to_numpy(recurrent.carousel_gradient(cell, x)[:, 0]), rtol=1e-5)


def test_replica_gradients_sum_to_the_shared_weight_gradient():
    x = _sequences(seed=6)
    cell = CourseRNNCell(UNITS, hidden_units=HIDDEN)
    rnn = keras.layers.RNN(cell)
    rnn(x)
    rnn.set_weights(_random_weights(rnn, seed=7))

    def loss(outputs):
        return keras.ops.sum(outputs**2)

    replicas = recurrent.replica_gradients(cell, x, loss)
    autodiff = _weight_gradients(rnn, loss, ops.convert_to_tensor(x))
    learning_rate = 0.1
    for replica, gradient in zip(replicas, autodiff):
        assert replica.shape == (TIME, *gradient.shape)
        # the notes' update, eta * mean over the replicas, is autodiff's with eta / U
        np.testing.assert_allclose(learning_rate * replica.mean(axis=0),
                                   learning_rate / TIME * gradient, rtol=1e-4, atol=1e-6)
    assert not np.allclose(replicas[0][0], replicas[0][-1])  # replicas differ step by step


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: CourseRNNCell(0),
         "Argument `units` must be a positive integer. Received: units=0"),
        (lambda: CourseRNNCell(3, hidden_units=-1),
         "Argument `hidden_units` must be a non-negative integer. Received: hidden_units=-1"),
        (lambda: TruncatedBPTTCell(CourseRNNCell(3), truncation=0),
         "Argument `truncation` must be a positive integer. Received: truncation=0"),
        (lambda: CourseRNNCell(3).build((2, 5, 4)),
         r"one time step of shape \(batch, input_dim\).*Received: input_shape=\(2, 5, 4\)"),
        (lambda: keras.layers.RNN(CourseRNNCell(3))(
            np.zeros((2, 5, 4)), initial_state=[np.zeros((2, 4))]),
         r"a state of 3 units \(its `units`\). Received: state.shape=\(2, 4\)"),
        (lambda: recurrent.state_gradients(CourseRNNCell(3), np.zeros((2, 4)), keras.ops.sum),
         r"\(batch, timesteps, input_dim\). Received: sequences.shape=\(2, 4\)"),
    ],
    ids=["units", "hidden_units", "truncation", "input_rank", "state_size", "sequence_rank"],
)
def test_bad_inputs_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
