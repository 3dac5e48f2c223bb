"""kerasnn.models.sequence: delay taps, AR least squares, the recurrent network builder."""

import keras
import numpy as np
import pytest

from kerasnn import models
from kerasnn.layers import CourseRNNCell, LSTMCell, TruncatedBPTTCell


def test_delay_taps_hold_the_past_values():
    taps = models.delay_taps(np.array([[1.0, 2.0, 3.0, 4.0]]), 3)
    np.testing.assert_array_equal(taps[0], [[1, 0, 0], [2, 1, 0], [3, 2, 1], [4, 3, 2]])


def test_least_squares_recovers_ar_coefficients_of_noiseless_data():
    # y_{t+1} = 0.5 y_t - 0.2 y_{t-1} + 0.1 from a random y_1 and y_0 = 0 (the taps' zero padding)
    series = np.zeros((4, 41))
    series[:, 1] = np.random.default_rng(0).normal(size=4)
    for t in range(2, 41):
        series[:, t] = 0.5 * series[:, t - 1] - 0.2 * series[:, t - 2] + 0.1
    coefficients, intercept = models.autoregressive_least_squares(series[:, 1:-1], series[:, 2:], 2)
    np.testing.assert_allclose(coefficients, [0.5, -0.2], atol=1e-8)
    np.testing.assert_allclose(intercept, 0.1, atol=1e-8)


@pytest.mark.parametrize(
    "kwargs, cell_type, shape",
    [
        ({"cell": "rnn", "hidden_units": 2}, CourseRNNCell, (None, 1)),
        ({"cell": "lstm", "num_layers": 2, "per_step": True}, LSTMCell, (None, 7, 1)),
        ({"cell": "lstm", "bidirectional": True, "per_step": True}, LSTMCell, (None, 7, 1)),
        ({"cell": "rnn", "truncation": 3}, TruncatedBPTTCell, (None, 1)),
    ],
    ids=["course_rnn", "stacked", "bidirectional", "truncated"],
)
def test_recurrent_network_uses_our_cells(kwargs, cell_type, shape):
    model = models.recurrent_network((7, 2), 1, units=4, **kwargs)
    assert model.output_shape == shape
    cells = [layer.cell for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    cells += [layer.forward_layer.cell for layer in model.layers
              if isinstance(layer, keras.layers.Bidirectional)]
    assert cells and all(isinstance(cell, cell_type) for cell in cells)
    assert len(cells) == kwargs.get("num_layers", 1)


def test_bad_cell_name_raises():
    message = "Argument `cell` must be one of 'rnn'.*Received: cell='gru'"
    with pytest.raises(ValueError, match=message):
        models.recurrent_network((5, 1), 1, cell="gru")


def test_token_inputs_are_embedded_and_padding_is_masked():
    model = models.recurrent_network((6,), 1, cell="lstm", units=4, vocabulary_size=9)
    padded = np.array([[3, 1, 4, 0, 0, 0]])  # id 0 is padding: the state holds after step 3
    shorter = models.recurrent_network((3,), 1, cell="lstm", units=4, vocabulary_size=9)
    shorter.set_weights(model.get_weights())
    np.testing.assert_allclose(model(padded), shorter(padded[:, :3]), atol=1e-6)
    assert not np.allclose(model(padded), model(np.array([[3, 1, 4, 1, 5, 8]])))
