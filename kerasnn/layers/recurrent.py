"""Recurrent layers written from scratch: an LSTM cell whose code reads like the course's gates,
the course's recurrent network (``CourseRNNCell``), truncated backpropagation through time
(``TruncatedBPTTCell``) and gradient-through-time diagnostics (``state_gradients``,
``gradient_norms_through_time``, ``carousel_gradient``).

Course notes, sections "Recurrent NN", "Backpropagation Through Time", "The Vanishing Gradient",
"LSTM", "Constant Error Carousel", "Forget Gate", "Input Gate", "Memory Gate", "Output Gate" and
"Multiple Layer and Bidirectional LSTM".
"""

import keras
import numpy as np
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
        f_t  = sigmoid(x_t W_f + h_{t-1} U_f + b_f)     forget gate: how much long-term memory stays
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
    >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
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
        units = arguments.positive_int("units", units)
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
        """Zero states ``[h_0, c_0]``, each ``(batch_size, units)``."""
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
class CourseRNNCell(keras.layers.Layer):
    """One step of the course's recurrent network: a feed-forward group h and a context group c.

    Course notes, "Recurrent NN". With ``x^t`` the input, the context ``c^{t-1}`` the state, J
    feed-forward units ``h`` and B context units ``c``::

        h_j^t = h( sum_i w_ji x_i^t + sum_b v_jb c_b^{t-1} + b_j )      feed-forward group
        c_b^t = c( sum_i w_bi x_i^t + sum_b' v_bb' c_b'^{t-1} + b_b )   context (recurrent) group

    and the network's output ``g^t = g(sum_j w_j h_j^t + sum_b v_b c_b^t)`` reads both groups:
    the cell returns ``[h^t, c^t]`` concatenated, and the output layer ``g`` is a ``Dense`` on
    top of the ``keras.layers.RNN`` (see ``kerasnn.models.recurrent_network``). Only ``c`` is
    carried to the next step. With ``hidden_units=0`` (no h group) this is the Elman network,
    ``c^t = tanh(x^t W + c^{t-1} V + b)``, with the weight layout of ``keras.layers.SimpleRNNCell``
    (``kernel (input_dim, units)``, ``recurrent_kernel (units, units)``, ``bias (units,)``), so
    ``ours.set_weights(simple_rnn_cell.get_weights())`` gives the same outputs. In general the
    kernels hold the two groups side by side, h first: ``kernel (input_dim, hidden_units +
    units)``, ``recurrent_kernel (units, hidden_units + units)``, ``bias (hidden_units + units,)``.

    On JAX, Keras 3.15's masked ``keras.layers.RNN`` loop (``unroll=False``) takes a masked
    step's output from the cell's first state, assuming they are equal; with ``hidden_units > 0``
    they differ and it fails. Build the RNN with ``unroll=True`` there (or use another backend).

    Args:
        units: positive int B, size of the context group (the recurrent state).
        hidden_units: non-negative int J, size of the feed-forward group (0: Elman network).
        activation: activation ``c`` of the context group.
        hidden_activation: activation ``h`` of the feed-forward group.
        use_bias: whether both groups have a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers.

    Call arguments:
        inputs: ``(batch, input_dim)``, one time step.
        states: ``[c^{t-1}]`` of shape ``(batch, units)``.

    Returns:
        ``([h^t, c^t], [c^t])``; the output has ``hidden_units + units`` features.

    Example:

    >>> rnn = keras.layers.RNN(CourseRNNCell(4, hidden_units=3), return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 5, 6))).shape)
    (2, 5, 7)
    """

    def __init__(
        self,
        units,
        hidden_units=0,
        activation="tanh",
        hidden_activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = arguments.positive_int("units", units)
        self.hidden_units = arguments.non_negative_int("hidden_units", hidden_units)
        self.activation = keras.activations.get(activation)
        self.hidden_activation = keras.activations.get(hidden_activation)
        self.use_bias = arguments.boolean("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = self.units
        self.output_size = self.hidden_units + self.units

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "CourseRNNCell expects one time step of shape (batch, input_dim) with a known "
                f"input_dim. Received: input_shape={tuple(input_shape)}"
            )
        width = self.hidden_units + self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width), name="recurrent_kernel",
            initializer=self.recurrent_initializer,
        )
        self.bias = (
            self.add_weight(shape=(width,), name="bias", initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs, states, training=False):
        context = states[0] if isinstance(states, (list, tuple)) else states
        if context.shape[-1] is not None and context.shape[-1] != self.units:
            raise ValueError(
                f"CourseRNNCell expects a state of {self.units} units (its `units`). "
                f"Received: state.shape={tuple(context.shape)}"
            )
        z = ops.matmul(inputs, self.kernel) + ops.matmul(context, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        context = self.activation(z[:, self.hidden_units :])
        if self.hidden_units:
            output = ops.concatenate([self.hidden_activation(z[:, : self.hidden_units]), context],
                                     axis=-1)
        else:
            output = context
        return output, [context] if isinstance(states, (list, tuple)) else context

    def get_initial_state(self, batch_size=None):
        """The zero context ``[c^0]``, ``(batch_size, units)``."""
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self):
        config = {
            "units": self.units,
            "hidden_units": self.hidden_units,
            "activation": keras.activations.serialize(self.activation),
            "hidden_activation": keras.activations.serialize(self.hidden_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


def _state_sizes(cell):
    sizes = cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


@keras.saving.register_keras_serializable(package="kerasnn")
class TruncatedBPTTCell(keras.layers.Layer):
    """Wraps a recurrent cell so that backpropagation through time is truncated every U steps.

    Course notes, "Backpropagation Through Time": the network is unrolled for U steps only. The
    sequence is cut into windows of ``truncation`` = U steps; the state is carried forward from
    one window to the next (the forward pass is unchanged) but the gradient does not flow back
    past a window's first step: at steps ``U, 2U, ...`` the incoming state goes through
    ``stop_gradient``. A loss at step T therefore sends gradients through at most U steps (to
    the inputs of T's window only). The weights are updated once per sequence, summing the
    windows' gradients.

    A step counter rides along as an extra state of one unit (not an output).

    Args:
        cell: a recurrent cell (``LSTMCell``, ``CourseRNNCell``, ``keras.layers.SimpleRNNCell``...).
        truncation: positive int U, the window length.

    Example:

    >>> cell = TruncatedBPTTCell(CourseRNNCell(8), truncation=10)
    >>> tuple(keras.layers.RNN(cell)(np.zeros((2, 30, 3))).shape)
    (2, 8)
    """

    def __init__(self, cell, truncation, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        self.cell = cell
        self.truncation = arguments.positive_int("truncation", truncation)
        self.state_size = [*_state_sizes(cell), 1]
        self.output_size = cell.output_size

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build(input_shape)

    def call(self, inputs, states, training=False):
        *cell_states, step = states
        boundary = ops.logical_and(step > 0, ops.equal(ops.mod(step, self.truncation), 0))
        cell_states = [ops.where(boundary, ops.stop_gradient(s), s) for s in cell_states]
        inner = cell_states if isinstance(self.cell.state_size, (list, tuple)) else cell_states[0]
        output, new_states = self.cell(inputs, inner, training=training)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        return output, [*new_states, step + 1]

    def get_initial_state(self, batch_size=None):
        """The wrapped cell's zero states and a zero step counter."""
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype)
                for size in self.state_size]

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell),
                "truncation": self.truncation}


class _PerturbedStateCell(keras.layers.Layer):
    """``cell`` with a perturbation added to its first state before each step (diagnostics only):
    the last ``units`` input features are the perturbation."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        self.perturbed_size = _state_sizes(cell)[0]
        self.state_size = cell.state_size
        self.output_size = cell.output_size

    def build(self, input_shape):
        if not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1] - self.perturbed_size))

    def call(self, inputs, states, training=False):
        inputs, perturbation = (inputs[:, : -self.perturbed_size],
                                inputs[:, -self.perturbed_size :])
        if isinstance(states, (list, tuple)):
            states = [states[0] + perturbation, *states[1:]]
        else:
            states = states + perturbation
        return self.cell(inputs, states, training=training)


def state_gradients(cell, sequences, loss_fn, initial_state=None):
    """``dL_T / ds_t`` for every step t, in one backward pass ("The Vanishing Gradient").

    ``s_t`` is the cell's (first) state after t steps -- ``h_t`` of an LSTM or an Elman network,
    the context ``c_t`` of ``CourseRNNCell`` -- with ``s_0`` the initial state, and ``L_T`` is
    ``loss_fn`` of the output at the last step T. A zero perturbation ``delta_t`` is added to
    ``s_t`` where step t+1 reads it; ``dL_T/d delta_t = dL_T/ds_t`` through every path (the
    backend's gradient, ``kerasnn.backend.value_and_gradient``).

    Args:
        cell: a built or unbuilt recurrent cell (e.g. ``model.get_layer(...).cell``).
        sequences: ``(batch, T, input_dim)``.
        loss_fn: maps the last output ``(batch, output_size)`` to a scalar loss (e.g. the head
            and the loss of the model).
        initial_state: optional list of initial states.

    Returns:
        NumPy ``(batch, T, state_size)``: entry ``t`` is ``dL_T/ds_t``, ``t = 0 .. T-1``, i.e.
        ``T - t`` steps before the loss.
    """
    from kerasnn import backend  # the one place that knows how the backend differentiates

    sequences = ops.convert_to_tensor(sequences, dtype=cell.compute_dtype)
    if len(sequences.shape) != 3:
        raise ValueError(
            "`sequences` must have shape (batch, timesteps, input_dim). "
            f"Received: sequences.shape={tuple(sequences.shape)}"
        )
    rnn = keras.layers.RNN(_PerturbedStateCell(cell))
    size = _state_sizes(cell)[0]
    zeros = ops.zeros((*ops.shape(sequences)[:2], size), dtype=sequences.dtype)

    def loss_of_perturbation(perturbation):
        outputs = rnn(ops.concatenate([sequences, perturbation], axis=-1),
                      initial_state=initial_state)
        return loss_fn(outputs)

    _, gradients = backend.value_and_gradient(loss_of_perturbation, zeros)
    return ops.convert_to_numpy(gradients)


def gradient_norms_through_time(cell, sequences, loss_fn, initial_state=None):
    """``||dL_T / ds_t||`` for ``t = 0 .. T-1`` (norm over the batch and the state units), from
    ``state_gradients``: how much of the loss at T reaches the state T - t steps back."""
    gradients = state_gradients(cell, sequences, loss_fn, initial_state)
    return np.sqrt(np.sum(np.square(gradients), axis=(0, 2)))


def carousel_gradient(cell, sequences, initial_state=None, mask=None):
    """The constant error carousel's gradient ``dc_T/dc_t = prod_{k=t+1}^{T} f_k`` of an LSTM.

    Course notes, "Constant Error Carousel": along the memory path ``c_k = f_k c_{k-1} + ...``
    the derivative back from step T to step t is the product of the forget gates in between
    (the direct path only; paths through h and the gates add to it). With forget gates near 1 it
    stays near 1 over many steps, where an RNN's gradient vanishes. Masked steps hold the state
    (a factor 1).

    Args:
        cell: a ``kerasnn.layers.LSTMCell``.
        sequences, initial_state, mask: as in ``LSTMCell.gate_activations``.

    Returns:
        ``(batch, T, units)``: entry ``t`` is ``dc_T/dc_t`` for ``t = 0 .. T-1`` (``c_0`` the
        initial memory).
    """
    forget = cell.gate_activations(sequences, initial_state, mask)["forget_gate"]
    if mask is not None:
        forget = ops.where(ops.expand_dims(ops.cast(mask, "bool"), -1), forget, 1.0)
    # prod_{k >= t} over the stored gates f_{t+1} .. f_T: a cumulative product from the end.
    return ops.flip(ops.cumprod(ops.flip(forget, axis=1), axis=1), axis=1)


def replica_gradients(cell, sequences, loss_fn, initial_state=None):
    """The gradient of each weight replica of the unrolled network ("Backpropagation Through Time").

    The network is unrolled for the T steps of ``sequences`` into a feed-forward net whose
    layer t holds its own replica ``W^t`` of every weight, all initialised to the cell's weights;
    this returns ``dE/dW^t`` for every replica. The notes update ``W <- W - eta (1/U) sum_u
    dE/dW^{t-u}`` (the average of the replicas' gradients); their sum is the gradient autodiff
    computes for the shared weights, so the notes' update is autodiff's with ``eta / U``.

    An explicit loop over the steps (a diagnostic for short sequences, not a layer).

    Args:
        cell: a built recurrent cell.
        sequences: ``(batch, T, input_dim)``.
        loss_fn: maps the output at the last step to a scalar loss E.
        initial_state: optional list of initial states (zeros by default).

    Returns:
        A list with one NumPy array ``(T, *weight.shape)`` per trainable weight of the cell (in
        ``cell.trainable_variables`` order): entry t is ``dE/dW^t``.
    """
    from kerasnn import backend

    sequences = ops.convert_to_tensor(sequences, dtype=cell.compute_dtype)
    steps = sequences.shape[1]
    if initial_state is None:
        initial_state = cell.get_initial_state(batch_size=ops.shape(sequences)[0])
    non_trainable = [v.value for v in cell.non_trainable_variables]
    replicas = [ops.stack([v.value] * steps) for v in cell.trainable_variables]

    def loss_of_replicas(replicas):
        states = initial_state
        for t in range(steps):
            (output, states), _ = cell.stateless_call(
                [replica[t] for replica in replicas], non_trainable, sequences[:, t], states
            )
        return loss_fn(output)

    _, gradients = backend.value_and_gradient(loss_of_replicas, replicas)
    return [ops.convert_to_numpy(g) for g in gradients]


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

    >>> tuple(LSTM(8, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape)
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
