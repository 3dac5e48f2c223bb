"""kerasnn.layers.LSTMCell and LSTM: parity with keras.layers.LSTM, gate equations, harness."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import LSTM, LSTMCell

# Tensors of any backend to NumPy (np.asarray fails on torch tensors that require grad).
_to_numpy = keras.ops.convert_to_numpy

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 6


def _sequences(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def _padding_mask():
    mask = np.ones((BATCH, TIME), dtype=bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    return mask


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _numpy_lstm(x, kernel, recurrent_kernel, bias, mask=None):
    """The course's gate equations in NumPy; gates in i, f, c, o order like Keras' weights."""
    batch, time, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    recorded = {name: [] for name in ("i", "f", "g", "o", "c", "h")}
    for t in range(time):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i = _sigmoid(z[:, :units])
        f = _sigmoid(z[:, units : 2 * units])
        g = np.tanh(z[:, 2 * units : 3 * units])
        o = _sigmoid(z[:, 3 * units :])
        new_c = f * c + i * g
        new_h = o * np.tanh(new_c)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t : t + 1]
        c = np.where(keep, new_c, c)
        h = np.where(keep, new_h, h)
        for name, value in zip("ifgoch", (i, f, g, o, c, h)):
            recorded[name].append(value)
    return {name: np.stack(values, axis=1) for name, values in recorded.items()}


def _random_weights(layer, seed=1):
    """Non-trivial weights (the default zero bias would hide gate-order mistakes)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_rnn_of_our_cell_matches_keras_lstm(masked):
    x = _sequences()
    mask = _padding_mask() if masked else None
    builtin = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    ours = keras.layers.RNN(LSTMCell(UNITS), return_sequences=True, return_state=True)
    builtin(x)
    ours(x)
    builtin.set_weights(_random_weights(builtin))
    ours.set_weights(builtin.get_weights())
    expected = builtin(x, mask=mask)
    got = ours(x, mask=mask)
    for name, a, b in zip(("sequences", "h", "c"), got, expected):
        np.testing.assert_allclose(_to_numpy(a), _to_numpy(b), atol=1e-6, err_msg=name)


def test_bidirectional_and_stacked_match_keras():
    x = _sequences()
    mask = _padding_mask()
    builtin = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    ours = keras.layers.Bidirectional(keras.layers.RNN(LSTMCell(UNITS), return_sequences=True))
    builtin(x)
    ours(x)
    builtin.set_weights(_random_weights(builtin))
    ours.set_weights(builtin.get_weights())
    np.testing.assert_allclose(
        _to_numpy(ours(x, mask=mask)), _to_numpy(builtin(x, mask=mask)), atol=1e-6
    )

    # A stack of cells in one RNN equals two stacked keras LSTM layers.
    stacked_builtin = keras.Sequential(
        [keras.layers.LSTM(UNITS, return_sequences=True), keras.layers.LSTM(UNITS + 1)]
    )
    stacked_ours = keras.layers.RNN([LSTMCell(UNITS), LSTMCell(UNITS + 1)])
    stacked_builtin(x)
    stacked_ours(x)
    stacked_builtin.set_weights(_random_weights(stacked_builtin))
    stacked_ours.set_weights(stacked_builtin.get_weights())
    np.testing.assert_allclose(
        _to_numpy(stacked_ours(x)), _to_numpy(stacked_builtin(x)), atol=1e-6
    )


def test_gate_activations_follow_the_course_equations():
    x = _sequences()
    mask = _padding_mask()
    cell = LSTMCell(UNITS)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    rnn(x)
    rnn.set_weights(_random_weights(rnn))
    kernel, recurrent_kernel, bias = rnn.get_weights()
    expected = _numpy_lstm(x, kernel, recurrent_kernel, bias, mask)
    gates = {key: _to_numpy(value) for key, value in cell.gate_activations(x, mask=mask).items()}
    names = {
        "i": "input_gate",
        "f": "forget_gate",
        "g": "candidate_memory",
        "o": "output_gate",
        "c": "memory",
        "h": "hidden",
    }
    for short, name in names.items():
        assert gates[name].shape == (BATCH, TIME, UNITS)
        np.testing.assert_allclose(gates[name], expected[short], atol=1e-5, err_msg=name)
    # The recorded states are those the RNN layer carries.
    _, h_final, c_final = rnn(x, mask=mask)
    np.testing.assert_allclose(gates["hidden"][:, -1], _to_numpy(h_final), atol=1e-6)
    np.testing.assert_allclose(gates["memory"][:, -1], _to_numpy(c_final), atol=1e-6)


def test_unit_forget_bias_and_dropout():
    cell = LSTMCell(2)
    keras.layers.RNN(cell)(np.zeros((1, 2, 3), "float32"))
    np.testing.assert_array_equal(_to_numpy(cell.bias), [0, 0, 1, 1, 0, 0, 0, 0])

    x = _sequences()
    plain = keras.layers.RNN(LSTMCell(UNITS), return_sequences=True)
    dropped = keras.layers.RNN(
        LSTMCell(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=3), return_sequences=True
    )
    plain(x)
    dropped(x)
    dropped.set_weights(plain.get_weights())
    # Dropout is off at inference and on in training.
    np.testing.assert_allclose(_to_numpy(dropped(x)), _to_numpy(plain(x)), atol=1e-6)
    assert np.abs(_to_numpy(dropped(x, training=True)) - _to_numpy(plain(x))).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "`units` must be a positive integer. Received: units=0"),
        (
            {"units": 4, "dropout": 1.5},
            "`dropout` must be a float in \\[0, 1\\). Received: dropout=1.5",
        ),
        ({"units": 4, "recurrent_dropout": -0.1}, "`recurrent_dropout` must be a float"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMCell(**kwargs)


def test_bad_gate_sequence_shape_raises():
    with pytest.raises(
        ValueError, match=r"\(batch, timesteps, input_dim\). Received: sequences.shape=\(3, 4\)"
    ):
        LSTMCell(2).gate_activations(np.zeros((3, 4), "float32"))


def test_lstm_layer_passes_the_harness():
    # The cell is only used inside an RNN layer: the harness runs it inside our LSTM (config
    # round trip, `.keras` saving, fit, XLA and mixed precision all go through our cell).
    outputs = run_layer_test(
        LSTM,
        init_kwargs={"units": UNITS, "dropout": 0.1, "seed": 1, "return_sequences": True},
        input_data=_sequences(),
        expected_output_shape=(None, TIME, UNITS),
    )
    assert np.all(np.abs(outputs) < 1.0)  # h = o * tanh(c) lies in (-1, 1)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_lstm_layer_is_a_drop_in_for_keras_lstm(go_backwards):
    x, mask = _sequences(), _padding_mask()
    kwargs = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards}
    builtin, ours = keras.layers.LSTM(UNITS, **kwargs), LSTM(UNITS, **kwargs)
    builtin(x)
    ours(x)
    assert [(w.name, w.shape) for w in ours.weights] == [
        (w.name, w.shape) for w in builtin.weights
    ]
    builtin.set_weights(_random_weights(builtin))
    ours.set_weights(builtin.get_weights())
    initial_state = [np.full((BATCH, UNITS), v, "float32") for v in (0.3, -0.2)]
    expected = builtin(x, mask=mask, initial_state=initial_state)
    got = ours(x, mask=mask, initial_state=initial_state)
    for name, a, b in zip(("sequences", "h", "c"), got, expected):
        np.testing.assert_allclose(_to_numpy(a), _to_numpy(b), atol=1e-6, err_msg=name)
    # The course's equations in NumPy (zero initial state) give the same last h.
    reference = _numpy_lstm(x[:, ::-1] if go_backwards else x, *ours.get_weights(), mask=None)
    np.testing.assert_allclose(_to_numpy(ours(x)[1]), reference["h"][:, -1], atol=1e-5)
    # Same configuration keys as Keras' (plus use_cudnn), and a Keras config builds ours.
    assert set(ours.get_config()) - set(builtin.get_config()) == {"use_cudnn"}
    clone = LSTM.from_config(builtin.get_config())
    assert clone.units == UNITS and clone.go_backwards == go_backwards


def test_lstm_layer_rejects_bad_use_cudnn():
    with pytest.raises(ValueError, match=r"`use_cudnn` must be one of 'auto', True, False"):
        LSTM(2, use_cudnn="yes")
