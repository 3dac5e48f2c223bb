"""A Neural Turing Machine cell: an LSTM controller reading and writing an N x M memory.

Course section "Neural Turing Machines" describes the machine in words: a controller, a memory
matrix, read and write heads whose weights are soft attention over the memory rows, a read that
is the weighted sum of the rows, and a write that makes each row "a convex combination of the
old memory content and the write value". The addressing equations below are Graves et al.
(2014), "Neural Turing Machines", section 3.3; each stage is a function of its own:

    content       w^c_i = softmax_i(beta * cos(k, M_i))                     (beta > 0)
    interpolation w^g   = g * w^c + (1 - g) * w_{t-1}                      (g in [0, 1])
    shift         w~_i  = sum_j w^g_j * s_{(i - j) mod N}                   (s over -S..S)
    sharpening    w_i   = w~_i^gamma / sum_j w~_j^gamma                     (gamma >= 1)
    read          r     = sum_i w_i M_i
    write         M_i  <- M_i * (1 - w_i e) + w_i a        (erase e in [0, 1]^M, add a)

With ``e = 1`` the write is the notes' convex combination ``M_i <- (1 - w_i) M_i + w_i a``.
Every function works on a batch (leading axis) and is written with ``keras.ops``.
"""

import keras
from keras import ops

from kerasnn import arguments
from kerasnn.layers.recurrent import LSTMCell

EPSILON = 1e-8


def _tensors(*values):
    """The arguments as backend tensors: NumPy arrays are accepted too, and on PyTorch
    ``ndarray * Tensor`` raises a TypeError (the array's operator does not defer to the tensor)."""
    return [ops.convert_to_tensor(value) for value in values]


def content_addressing(memory, key, strength):
    """``softmax_i(beta * cos(k, M_i))``: memory ``(B, N, M)``, key ``(B, M)``, beta ``(B, 1)``."""
    memory, key, strength = _tensors(memory, key, strength)
    dot = ops.einsum("bnm,bm->bn", memory, key)
    norms = ops.sqrt(ops.sum(memory**2, axis=-1) * ops.sum(key**2, axis=-1, keepdims=True))
    return ops.softmax(strength * dot / (norms + EPSILON), axis=-1)


def interpolate(content_weights, previous_weights, gate):
    """``g * w^c + (1 - g) * w_{t-1}``, gate ``(B, 1)``."""
    content_weights, previous_weights, gate = _tensors(content_weights, previous_weights, gate)
    return gate * content_weights + (1.0 - gate) * previous_weights


def circular_shift(weights, shift):
    """``w~_i = sum_j w_j s_{(i - j) mod N}``: a circular convolution with the shift weighting.

    Args:
        weights: ``(B, N)``.
        shift: ``(B, 2S + 1)`` weights of the offsets ``-S, ..., S``.
    """
    weights, shift = _tensors(weights, shift)
    size, span = weights.shape[-1], shift.shape[-1]
    radius = span // 2
    # rows[i, k] = index of the weight that offset k - S moves onto position i: (i - k + S) mod N
    rows = (ops.arange(size)[:, None] - ops.arange(span)[None, :] + radius) % size
    gathered = ops.take(weights, rows, axis=1)  # (B, N, 2S + 1)
    return ops.einsum("bnk,bk->bn", gathered, shift)


def sharpen(weights, gamma):
    """``w^gamma / sum w^gamma``, gamma ``(B, 1)`` >= 1: undoes the shift's blurring."""
    weights, gamma = _tensors(weights, gamma)
    powered = ops.power(weights + EPSILON, gamma)
    return powered / ops.sum(powered, axis=-1, keepdims=True)


def read(memory, weights):
    """``r = sum_i w_i M_i``: ``(B, M)``."""
    memory, weights = _tensors(memory, weights)
    return ops.einsum("bn,bnm->bm", weights, memory)


def write(memory, weights, erase, add):
    """``M_i <- M_i * (1 - w_i e) + w_i a``: erase ``(B, M)`` in [0, 1], add ``(B, M)``."""
    memory, weights, erase, add = _tensors(memory, weights, erase, add)
    erased = memory * (1.0 - weights[:, :, None] * erase[:, None, :])
    return erased + weights[:, :, None] * add[:, None, :]


def address(memory, previous_weights, key, strength, gate, shift, gamma):
    """The four addressing stages in order: the head's new weights ``(B, N)``."""
    content = content_addressing(memory, key, strength)
    return sharpen(circular_shift(interpolate(content, previous_weights, gate), shift), gamma)


@keras.saving.register_keras_serializable(package="kerasnn")
class NTMCell(keras.layers.Layer):
    """A Neural Turing Machine cell for ``keras.layers.RNN``: one read and one write head.

    Each step the controller (``kerasnn.layers.LSTMCell``) reads ``[x_t; r_{t-1}]``; from its
    output ``h_t`` linear maps give each head its parameters — key ``k``, strength
    ``beta = softplus``, gate ``g = sigmoid``, shift ``s = softmax`` over ``-S..S``, sharpening
    ``gamma = 1 + softplus`` — and the write head also erase ``e = sigmoid`` and add ``a = tanh``.
    The write head writes, the read head then reads ``r_t`` from the updated memory, and the
    output is ``y_t = W_y [h_t; r_t] + b``. See the module docstring for the addressing.

    The memory starts at a small constant (1e-6: a stabilizer known from NTM reimplementations;
    cosine similarity of an all-zero memory is undefined) and both heads start on row 0.

    On JAX, Keras 3.15's masked ``keras.layers.RNN`` loop (``unroll=False``) takes a masked
    step's output from the cell's first state (the controller's ``h``), not ``y_{t-1}``: wrong
    outputs when ``controller_units == units``, an error otherwise. Build the RNN with
    ``unroll=True`` there (or use another backend).

    Args:
        units: size of the output ``y_t``.
        memory_size: N, the number of memory rows.
        memory_width: M, the size of each row.
        controller_units: units of the LSTM controller.
        shift_range: S, the largest shift of a head per step (``2S + 1 <= N``).
        gamma: ``None`` to learn the sharpening, or a fixed value >= 1.

    Call arguments:
        inputs: ``(batch, features)`` one step; states: as ``state_size``.

    Returns:
        ``(y_t, [h, c, memory (flattened), r, read weights, write weights])``.

    Example:
        >>> rnn = keras.layers.RNN(NTMCell(4, memory_size=8, memory_width=5, controller_units=16),
        ...                        return_sequences=True)
        >>> tuple(rnn(np.zeros((2, 3, 6), "float32")).shape)
        (2, 3, 4)
    """

    def __init__(self, units, memory_size=16, memory_width=8, controller_units=64, shift_range=1,
                 gamma=None, **kwargs):
        super().__init__(**kwargs)
        self.units = arguments.positive_int("units", units)
        self.memory_size = arguments.positive_int("memory_size", memory_size)
        self.memory_width = arguments.positive_int("memory_width", memory_width)
        self.controller_units = arguments.positive_int("controller_units", controller_units)
        self.shift_range = arguments.non_negative_int("shift_range", shift_range)
        if 2 * self.shift_range + 1 > self.memory_size:
            arguments.fail("shift_range", f"at most (memory_size - 1) // 2 = "
                           f"{(self.memory_size - 1) // 2}", shift_range)
        if gamma is not None and not (isinstance(gamma, (int, float)) and gamma >= 1):
            arguments.fail("gamma", "None (learned) or a number >= 1", gamma)
        self.gamma = None if gamma is None else float(gamma)
        self.controller = LSTMCell(controller_units, name="controller")
        shifts = 2 * self.shift_range + 1
        # key, strength, gate, shift, gamma for each head; erase and add for the write head.
        self.head_sizes = {"read": [memory_width, 1, 1, shifts, 1],
                           "write": [memory_width, 1, 1, shifts, 1, memory_width, memory_width]}
        self.heads = {name: keras.layers.Dense(sum(sizes), name=f"{name}_head")
                      for name, sizes in self.head_sizes.items()}
        self.output_layer = keras.layers.Dense(units, name="output")
        n, m = memory_size, memory_width
        self.state_size = [controller_units, controller_units, n * m, m, n, n]
        self.output_size = units

    def build(self, input_shape):
        features = input_shape[-1]
        self.controller.build((None, features + self.memory_width))
        for head in self.heads.values():
            head.build((None, self.controller_units))
        self.output_layer.build((None, self.controller_units + self.memory_width))

    def get_initial_state(self, batch_size=None):
        """Zero controller states and read vector, a near-zero memory, both heads on row 0."""
        n, m = self.memory_size, self.memory_width
        on_first_row = ops.tile(ops.one_hot(ops.zeros((1,), "int32"), n), (batch_size, 1))
        return [ops.zeros((batch_size, self.controller_units)),
                ops.zeros((batch_size, self.controller_units)),
                ops.full((batch_size, n * m), 1e-6), ops.zeros((batch_size, m)),
                on_first_row, on_first_row]

    def _head(self, name, h, memory, previous_weights):
        parameters = ops.split(self.heads[name](h), _boundaries(self.head_sizes[name]), axis=-1)
        key, strength, gate, shift, gamma = parameters[:5]
        gamma = (1.0 + ops.softplus(gamma)) if self.gamma is None else ops.full_like(gate,
                                                                                       self.gamma)
        weights = address(memory, previous_weights, key, ops.softplus(strength),
                          ops.sigmoid(gate), ops.softmax(shift, axis=-1), gamma)
        return weights, parameters[5:]

    def call(self, inputs, states, training=False):
        h, c, memory, previous_read, read_weights, write_weights = states
        memory = ops.reshape(memory, (-1, self.memory_size, self.memory_width))
        h, (h, c) = self.controller(ops.concatenate([inputs, previous_read], axis=-1), [h, c],
                                    training=training)
        write_weights, (erase, add) = self._head("write", h, memory, write_weights)
        memory = write(memory, write_weights, ops.sigmoid(erase), ops.tanh(add))
        read_weights, _ = self._head("read", h, memory, read_weights)
        read_vector = read(memory, read_weights)
        output = self.output_layer(ops.concatenate([h, read_vector], axis=-1))
        flat = ops.reshape(memory, (-1, self.memory_size * self.memory_width))
        return output, [h, c, flat, read_vector, read_weights, write_weights]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "memory_size": self.memory_size,
                "memory_width": self.memory_width, "controller_units": self.controller_units,
                "shift_range": self.shift_range, "gamma": self.gamma}


def _boundaries(sizes):
    """Split points of a vector made of pieces of ``sizes``."""
    points, total = [], 0
    for size in sizes[:-1]:
        total += size
        points.append(total)
    return points
