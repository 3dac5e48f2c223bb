"""Recurrent layers written from scratch: an LSTM cell whose code reads like the course's gates.

Course notes, sections "LSTM", "Forget Gate", "Input Gate", "Memory Gate", "Output Gate" and
"Multiple Layer and Bidirectional LSTM".
"""

import keras
from keras import ops

# The public `keras.layers.RNN` prepares one dropout mask per sequence (variational dropout, the
# same mask at every step) only for cells that inherit this mixin; Keras exports no public
# equivalent, so we borrow it to behave exactly like `keras.layers.LSTMCell` under dropout.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from kerasnn import arguments

GATE_NAMES = (
    "input_gate",
    "forget_gate",
    "candidate_memory",
    "output_gate",
    "memory",
    "hidden",
)


@keras.saving.register_keras_serializable(package="kerasnn")
class LSTMCell(keras.layers.Layer, DropoutRNNCell):
    """One step of a Long Short-Term Memory unit, with the gates written out explicitly.

    Course notes, "LSTM" and its gate sections. With ``x_t`` the input, ``h_{t-1}`` the
    short-term memory (hidden state) and ``c_{t-1}`` the long-term memory (cell state)::

        i_t  = sigmoid(x_t W_i + h_{t-1} U_i + b_i)     input gate: how much of the candidate to add
        f_t  = sigmoid(x_t W_f + h_{t-1} U_f + b_f)     forget gate: how much long-term memory to keep
        c~_t = tanh(x_t W_c + h_{t-1} U_c + b_c)        candidate ("potential") long-term memory
        o_t  = sigmoid(x_t W_o + h_{t-1} U_o + b_o)     output gate
        c_t  = f_t * c_{t-1} + i_t * c~_t               memory update (the constant error carousel)
        h_t  = o_t * tanh(c_t)                          new short-term memory, also the output

    (``sigmoid`` is ``recurrent_activation`` and ``tanh`` is ``activation``.) The arguments and
    the weight layout are those of ``keras.layers.LSTMCell``: ``kernel`` has shape
    ``(input_dim, 4 * units)``, ``recurrent_kernel`` ``(units, 4 * units)`` and ``bias``
    ``(4 * units,)``, the four blocks in the order i, f, c, o. So
    ``ours.set_weights(builtin.get_weights())`` gives the same outputs and states, and the cell
    works wherever the built-in one does: in ``keras.layers.RNN`` (masking, ``return_sequences``,
    ``return_state``), stacked (a list of cells, or several RNN layers) and inside
    ``keras.layers.Bidirectional``.

    Use :meth:`gate_activations` to read the gate values over a whole sequence (for plots).

    Args:
        units: positive int, size of the hidden and cell states.
        activation: activation of the candidate memory and of the cell state on output.
        recurrent_activation: activation of the three gates.
        use_bias: whether the gates have a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers.
        unit_forget_bias: add 1 to the forget-gate bias at initialization (remember by default).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout: fraction of the input units dropped (same mask at every step), in [0, 1).
        recurrent_dropout: fraction of the recurrent units dropped, in [0, 1).
        seed: random seed for dropout.

    Call arguments:
        inputs: ``(batch, input_dim)``, one time step.
        states: ``[h_{t-1}, c_{t-1}]``, each ``(batch, units)``.
        training: whether dropout is active.

    Returns:
        ``(h_t, [h_t, c_t])``.

    Example:

    >>> rnn = keras.layers.RNN(LSTMCell(8), return_sequences=True)
    >>> rnn(np.zeros((2, 5, 3))).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Argument `units` must be a positive integer. Received: units={units!r}"
            )
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.unit_forget_bias = unit_forget_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = arguments.rate("dropout", dropout)
        self.recurrent_dropout = arguments.rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "LSTMCell expects one time step of shape (batch, input_dim) with a known "
                f"input_dim. Received: input_shape={tuple(input_shape)}"
            )
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 4 * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            if self.unit_forget_bias:
                base_initializer = self.bias_initializer

                def bias_initializer(shape, dtype=None):
                    # i, f, c, o blocks; the forget block starts at 1 ("remember").
                    return ops.concatenate(
                        [
                            base_initializer((self.units,), dtype=dtype),
                            ops.ones((self.units,), dtype=dtype),
                            base_initializer((2 * self.units,), dtype=dtype),
                        ]
                    )

            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(
                shape=(4 * self.units,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def _gates(self, x, h_prev, c_prev):
        """The course's gate equations for one step; returns every intermediate value."""
        z = ops.matmul(x, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_input, z_forget, z_candidate, z_output = ops.split(z, 4, axis=-1)

        input_gate = self.recurrent_activation(z_input)
        forget_gate = self.recurrent_activation(z_forget)
        candidate_memory = self.activation(z_candidate)
        output_gate = self.recurrent_activation(z_output)

        memory = forget_gate * c_prev + input_gate * candidate_memory
        hidden = output_gate * self.activation(memory)
        return input_gate, forget_gate, candidate_memory, output_gate, memory, hidden

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_prev = h_prev * self.get_recurrent_dropout_mask(h_prev)
        *_, memory, hidden = self._gates(inputs, h_prev, c_prev)
        return hidden, [hidden, memory]

    def gate_activations(self, sequences, initial_state=None, mask=None):
        """Runs the cell over whole sequences and returns every gate at every step.

        Inference only (no dropout). Masked steps keep the previous state, as in
        ``keras.layers.RNN``; the gates recorded at those steps are what the cell computed
        before the state was held.

        Args:
            sequences: ``(batch, timesteps, input_dim)``.
            initial_state: optional ``[h_0, c_0]``, each ``(batch, units)``; zeros by default.
            mask: optional boolean ``(batch, timesteps)``, ``False`` for padding.

        Returns:
            A dict with keys ``input_gate``, ``forget_gate``, ``candidate_memory``,
            ``output_gate``, ``memory`` (c_t) and ``hidden`` (h_t), each
            ``(batch, timesteps, units)``.
        """
        sequences = ops.convert_to_tensor(sequences, dtype=self.compute_dtype)
        if len(sequences.shape) != 3:
            raise ValueError(
                "`sequences` must have shape (batch, timesteps, input_dim). "
                f"Received: sequences.shape={tuple(sequences.shape)}"
            )
        if not self.built:
            self.build((sequences.shape[0], sequences.shape[2]))
        batch_size = ops.shape(sequences)[0]
        if initial_state is None:
            initial_state = [ops.zeros((batch_size, self.units), self.compute_dtype)] * 2
        initial_state = tuple(ops.cast(s, self.compute_dtype) for s in initial_state)
        if mask is None:
            mask = ops.ones(ops.shape(sequences)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        time_major_inputs = ops.transpose(sequences, (1, 0, 2))
        time_major_mask = ops.expand_dims(ops.transpose(mask), -1)

        def step(previous, step_inputs):
            # Keras' scan needs the per-step outputs to mirror the carry, so the carry holds
            # all six recorded values; only the last two (c, h) feed the next step.
            x_t, keep = step_inputs
            c_prev, h_prev = previous[4], previous[5]
            gates = self._gates(x_t, h_prev, c_prev)
            memory = ops.where(keep, gates[4], c_prev)
            hidden = ops.where(keep, gates[5], h_prev)
            recorded = gates[:4] + (memory, hidden)
            return recorded, recorded

        h_0, c_0 = initial_state
        zeros = ops.zeros_like(h_0)
        _, recorded = ops.scan(
            step, (zeros,) * 4 + (c_0, h_0), (time_major_inputs, time_major_mask)
        )
        return {
            name: ops.transpose(values, (1, 0, 2)) for name, values in zip(GATE_NAMES, recorded)
        }

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="kerasnn")
class LSTM(keras.layers.RNN):
    """The course's LSTM as a full layer: our :class:`LSTMCell` run over the sequence by RNN.

    Course notes, "LSTM" (the gate equations, see :class:`LSTMCell`) and "Multiple Layer and
    Bidirectional LSTM" (stack them with ``return_sequences=True``, wrap them in
    ``keras.layers.Bidirectional``). For every step ``t`` (reversed with ``go_backwards``)::

        h_t, c_t = LSTMCell(x_t, [h_{t-1}, c_{t-1}])        h_0 = c_0 = 0 unless initial_state
        output   = h_T    (or [h_1 ... h_T] with return_sequences)

    A masked step keeps ``h`` and ``c`` unchanged (and outputs zeros with
    ``zero_output_for_mask``). It is a drop-in for ``keras.layers.LSTM``: same arguments, same
    weights in the same layout (``kernel`` ``(input_dim, 4 units)``, ``recurrent_kernel``
    ``(units, 4 units)``, ``bias`` ``(4 units,)``, gate blocks in the order i, f, c, o), so
    ``ours.set_weights(builtin.get_weights())`` gives the same outputs. The loop is
    ``keras.layers.RNN``'s (``keras.ops`` / the backend's while loop; no Python loop over time
    unless ``unroll=True``). Never cuDNN: the point is the course's gates, written out;
    ``use_cudnn`` and ``implementation`` are accepted for compatibility and change nothing.

    Args:
        units: positive int, size of ``h`` and ``c``.
        activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
            bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint,
            dropout, recurrent_dropout, seed: as :class:`LSTMCell`.
        activity_regularizer: regularizer of the layer's output.
        return_sequences: return every ``h_t`` instead of the last one.
        return_state: also return the last ``h_T`` and ``c_T``.
        go_backwards: read the sequence backwards (and return the reversed sequence).
        stateful: the last state of batch ``i`` is the initial state of the next batch's ``i``.
        unroll: unroll the loop (short sequences only).
        use_cudnn: ``"auto"``, True or False; accepted for compatibility, ignored.

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        initial_state: optional ``[h_0, c_0]``.
        mask: optional boolean ``(batch, timesteps)``.
        training: whether dropout is active.

    Example:

    >>> LSTM(8, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras' choice of matmul grouping; one here.
        cell = LSTMCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.use_cudnn = arguments.one_of("use_cudnn", use_cudnn, ("auto", True, False))

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    def get_config(self):
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        base_config = super().get_config()
        del base_config["cell"]
        return {
            **base_config,
            **cell_config,
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
            "use_cudnn": self.use_cudnn,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's ``{name}``.")


for _name in (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "unit_forget_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
):
    setattr(LSTM, _name, _cell_property(_name))
