"""Sequence models: memoryless predictors on delay taps and recurrent networks built from our cells.

Course notes, "Memoryless Models for Sequences" ("Autoregressive Models", "Feed Forward NN"),
"Recurrent NN", "Backpropagation Through Time", "LSTM" and "Multiple Layer and Bidirectional LSTM".
"""

import keras
import numpy as np

from kerasnn import arguments
from kerasnn.layers.recurrent import CourseRNNCell, LSTMCell, TruncatedBPTTCell

CELLS = ("rnn", "lstm", "keras_rnn", "keras_lstm")


def delay_taps(series, order):
    """The p = ``order`` delay taps of a series: ``(batch, T)`` -> ``(batch, T, p)`` where entry
    ``[n, t]`` is ``(y_t, y_{t-1}, .., y_{t-p+1})`` (zeros before the series starts).

    Example:
        >>> delay_taps(np.array([[1.0, 2.0, 3.0]]), 2)[0].tolist()
        [[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]]
    """
    order = arguments.positive_int("order", order)
    series = np.asarray(series, dtype=np.float64)
    if series.ndim != 2:
        arguments.fail("series", "an array of shape (batch, T)", series.shape)
    padded = np.pad(series, ((0, 0), (order - 1, 0)))
    length = series.shape[1]
    return np.stack([padded[:, order - 1 - k : order - 1 - k + length] for k in range(order)],
                    axis=-1)


def autoregressive_least_squares(series, targets, order):
    """AR(p) by least squares ("Autoregressive Models"): ``y_{t+1} ~ sum_k a_k y_{t-k+1} + a_0``.

    Args:
        series: ``(batch, T)`` observed values.
        targets: ``(batch, T)`` the values to predict (the next ones).
        order: p, the number of delay taps.

    Returns:
        ``(coefficients (p,), intercept)``; predict with ``delay_taps(series, p) @ coefficients
        + intercept``.
    """
    taps = delay_taps(series, order).reshape(-1, order)
    design = np.concatenate([taps, np.ones((len(taps), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, np.asarray(targets, np.float64).reshape(-1), rcond=None)
    return solution[:-1], float(solution[-1])


def make_cell(cell, units, *, activation="tanh", hidden_units=0, recurrent_initializer=None,
              truncation=None, name=None):
    """A recurrent cell by name: ``rnn`` (``CourseRNNCell``), ``lstm`` (our ``LSTMCell``), or the
    Keras built-ins ``keras_rnn`` / ``keras_lstm`` (for comparisons); ``truncation`` wraps it in
    ``TruncatedBPTTCell``. ``activation`` applies to the RNNs only."""
    arguments.one_of("cell", cell, CELLS)
    kwargs = {"name": name}
    if recurrent_initializer is not None:
        kwargs["recurrent_initializer"] = recurrent_initializer
    if cell == "rnn":
        made = CourseRNNCell(units, hidden_units=hidden_units, activation=activation, **kwargs)
    elif cell == "keras_rnn":
        made = keras.layers.SimpleRNNCell(units, activation=activation, **kwargs)
    elif cell == "lstm":
        made = LSTMCell(units, **kwargs)
    else:
        made = keras.layers.LSTMCell(units, **kwargs)
    if truncation is not None:
        made = TruncatedBPTTCell(made, truncation)
    return made


def recurrent_network(
    input_shape,
    outputs,
    *,
    cell="lstm",
    units=32,
    num_layers=1,
    bidirectional=False,
    per_step=False,
    output_activation=None,
    truncation=None,
    vocabulary_size=None,
    embedding_dim=32,
    name="recurrent_network",
    **cell_kwargs,
):
    """Recurrent layers of ``cell`` and an output layer ``g`` (a ``Dense``) on top.

    ``num_layers`` stacks recurrent layers (each reads the sequence of the one below,
    "Multiple Layer and Bidirectional LSTM"); ``bidirectional`` runs every layer forwards and
    backwards and concatenates both. ``per_step`` gives one output per time step
    (many-to-many); otherwise the output reads the last step (many-to-one).

    Args:
        input_shape: ``(T, features)`` (T may be ``None``).
        outputs: units of the output layer.
        cell: ``rnn``, ``lstm``, ``keras_rnn`` or ``keras_lstm`` (``make_cell``).
        units: units of every recurrent layer.
        output_activation: activation of the output layer (``None``: regression or logits).
        truncation: U of truncated BPTT (``TruncatedBPTTCell``), or ``None`` for full BPTT.
        vocabulary_size: for token ids (``input_shape`` ``(T,)``): an ``Embedding`` of
            ``embedding_dim`` first, id 0 being padding (masked).
        cell_kwargs: ``activation``, ``hidden_units``, ``recurrent_initializer`` (``make_cell``).

    The recurrent layers are named ``recurrent_0``, ``recurrent_1``, ... (wrapped in
    ``bidirectional_0``, ... when bidirectional) and the output layer ``output``.

    Example:
        >>> model = recurrent_network((20, 2), 1, cell="rnn", units=8)
        >>> model.output_shape
        (None, 1)
    """
    num_layers = arguments.positive_int("num_layers", num_layers)
    units = arguments.positive_int("units", units)
    inputs = keras.Input(shape=tuple(input_shape), name="sequence",
                         dtype="int32" if vocabulary_size else None)
    x = inputs
    if vocabulary_size:
        x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True,
                                   name="embedding")(x)
    for index in range(num_layers):
        layer = keras.layers.RNN(
            make_cell(cell, units, truncation=truncation, **cell_kwargs),
            return_sequences=per_step or index < num_layers - 1,
            name=f"recurrent_{index}",
        )
        if bidirectional:  # the backward copy is rebuilt from the layer's config
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{index}")
        x = layer(x)
    outputs = keras.layers.Dense(outputs, activation=output_activation, name="output")(x)
    return keras.Model(inputs, outputs, name=name)
