"""Attention layers written from scratch in ``keras.ops``.

Course notes, sections "Attention Mechanism in Seq2Seq Models" (Bahdanau's additive and Luong's
multiplicative scores), "Scaled Dot-Product Attention" and "Multi-Head Attention".

Masks follow the Keras convention everywhere: ``True`` (or 1) marks a position that may be
attended to, ``False`` one that may not. A query row whose keys are all masked gets all-zero
attention weights (like ``keras.layers.Softmax`` with a mask), not a uniform distribution.
"""

import math

import keras
from keras import ops

from kerasnn import arguments


def _large_negative_number(dtype):
    # -1e9 overflows float16; -3e4 is still "minus infinity" after a softmax.
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def masked_softmax(scores, mask=None):
    """Softmax over the last axis of ``scores`` that gives zero weight where ``mask`` is False."""
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "bool")
    scores = ops.where(mask, scores, _large_negative_number(scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    return ops.where(mask, weights, ops.zeros_like(weights))


def causal_mask(query_length, key_length):
    """Boolean ``(query_length, key_length)`` mask: position ``t`` may attend to ``s <= t``."""
    rows = ops.expand_dims(ops.arange(query_length), -1)
    columns = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows, columns)


def _combine_masks(*masks):
    """Logical AND of the boolean masks that are not None (None if all are None)."""
    combined = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        combined = mask if combined is None else ops.logical_and(combined, mask)
    return combined


def _static_shape(tensor):
    return tuple(tensor.shape)


def check_mask_shape(name, mask, target_shape):
    """Raises ValueError unless ``mask`` broadcasts to ``target_shape`` (dims 1 or equal)."""
    if mask is None:
        return
    shape = _static_shape(mask)
    compatible = len(shape) <= len(target_shape) and all(
        dim is None or target is None or dim in (1, target)
        for dim, target in zip(shape[::-1], tuple(target_shape)[::-1])
    )
    if not compatible:
        raise ValueError(
            f"`{name}` must be broadcastable to shape {tuple(target_shape)} "
            f"(each dimension 1 or equal). Received: {name}.shape={shape}"
        )


def check_padding_mask_shape(name, mask, expected_shape):
    """Raises ValueError unless ``mask`` is ``(batch, length)`` matching ``expected_shape``."""
    if mask is None:
        return
    shape = _static_shape(mask)
    compatible = len(shape) == 2 and all(
        dim is None or expected is None or dim == expected
        for dim, expected in zip(shape, expected_shape)
    )
    if not compatible:
        raise ValueError(
            f"`{name}` must have shape {tuple(expected_shape)} (batch, length). "
            f"Received: {name}.shape={shape}"
        )


def _attend(query, key, value, mask, scale, dropout_layer=None, training=None):
    """softmax(Q K^T * scale) V over the last two axes; any leading axes are batch axes."""
    query = ops.multiply(query, ops.cast(scale, query.dtype))
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2))
    weights = masked_softmax(scores, mask)
    dropped = weights if dropout_layer is None else dropout_layer(weights, training=training)
    return ops.matmul(dropped, value), weights


@keras.saving.register_keras_serializable(package="kerasnn")
class ScaledDotProductAttention(keras.layers.Layer):
    """Scaled dot-product attention, without weights.

    Course notes, "Scaled Dot-Product Attention"::

        Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

    where ``d_k`` is the size of the queries and keys. Masked (``False``) positions get zero
    weight; ``use_causal_mask=True`` lets query position ``t`` see only keys ``s <= t``.

    Args:
        dropout: dropout rate applied to the attention weights during training, in [0, 1).
        seed: random seed for dropout.

    Call arguments:
        query: ``(batch, T, d_k)`` (any number of leading batch axes is allowed).
        key: ``(batch, S, d_k)``; defaults to ``query`` (self-attention).
        value: ``(batch, S, d_v)``; defaults to ``key``.
        attention_mask: boolean, broadcastable to ``(batch, T, S)``.
        use_causal_mask: apply the causal (look-ahead) mask.
        return_attention_weights: also return the ``(batch, T, S)`` weights.
        training: whether dropout is active.

    Returns:
        ``(batch, T, d_v)``, and the weights if requested.

    Example:

    >>> q = np.random.rand(2, 4, 8); kv = np.random.rand(2, 6, 8)
    >>> tuple(ScaledDotProductAttention()(q, kv, kv).shape)
    (2, 4, 8)
    """

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dropout = arguments.rate("dropout", dropout)
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(self.dropout, seed=seed, dtype=self.dtype_policy)

    def _check_inputs(self, query_shape, key_shape, value_shape):
        if len(query_shape) < 3 or not (len(query_shape) == len(key_shape) == len(value_shape)):
            raise ValueError(
                "`query`, `key` and `value` must have the same rank, at least 3 "
                f"(batch, length, features). Received: query.shape={query_shape}, "
                f"key.shape={key_shape}, value.shape={value_shape}"
            )
        if None not in (query_shape[-1], key_shape[-1]) and query_shape[-1] != key_shape[-1]:
            raise ValueError(
                "`query` and `key` must have the same last dimension d_k. Received: "
                f"query.shape={query_shape}, key.shape={key_shape}"
            )
        if None not in (key_shape[-2], value_shape[-2]) and key_shape[-2] != value_shape[-2]:
            raise ValueError(
                "`key` and `value` must have the same length (axis -2). Received: "
                f"key.shape={key_shape}, value.shape={value_shape}"
            )

    def build(self, query_shape, key_shape=None, value_shape=None):
        key_shape = tuple(query_shape if key_shape is None else key_shape)
        value_shape = tuple(key_shape if value_shape is None else value_shape)
        self._check_inputs(tuple(query_shape), key_shape, value_shape)

    def call(
        self,
        query,
        key=None,
        value=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_weights=False,
        training=None,
    ):
        key = query if key is None else key
        value = key if value is None else value
        self._check_inputs(_static_shape(query), _static_shape(key), _static_shape(value))
        scores_shape = _static_shape(query)[:-1] + (_static_shape(key)[-2],)
        check_mask_shape("attention_mask", attention_mask, scores_shape)
        if use_causal_mask:
            attention_mask = _combine_masks(
                attention_mask, causal_mask(ops.shape(query)[-2], ops.shape(key)[-2])
            )
        scale = 1.0 / math.sqrt(query.shape[-1])
        output, weights = _attend(
            query, key, value, attention_mask, scale, self._dropout_layer, training
        )
        if return_attention_weights:
            return output, weights
        return output

    def compute_output_shape(self, query_shape, key_shape=None, value_shape=None):
        key_shape = tuple(query_shape if key_shape is None else key_shape)
        value_shape = tuple(key_shape if value_shape is None else value_shape)
        return tuple(query_shape)[:-1] + (value_shape[-1],)

    def compute_output_spec(
        self, query, key=None, value=None, return_attention_weights=False, **kwargs
    ):
        key = query if key is None else key
        value = key if value is None else value
        output_shape = self.compute_output_shape(query.shape, key.shape, value.shape)
        output = keras.KerasTensor(output_shape, dtype=self.compute_dtype)
        if return_attention_weights:
            weights_shape = tuple(query.shape)[:-1] + (key.shape[-2],)
            return output, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return output

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kerasnn")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with the arguments and weight layout of the Keras built-in.

    Course notes, "Multi-Head Attention"::

        MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W_o
        head_i = Attention(Q W_i^q, K W_i^k, V W_i^v)
        Attention(Q, K, V) = softmax(Q K^T / sqrt(key_dim)) V      (masked entries get weight 0)

    All heads are computed at once: each projection is one einsum with a kernel of shape
    ``(features, num_heads, head_dim)`` (the concatenation over heads is folded into the
    ``(num_heads, value_dim, *output_shape)`` output kernel). The weights, in order, are the
    query, key, [gate,] value and output kernels, each followed by its bias, exactly as in
    ``keras.layers.MultiHeadAttention``, so ``ours.set_weights(builtin.get_weights())`` gives the
    same outputs and scores, for inputs of any rank.

    Extensions of the built-in, written out here:

    - ``attention_axes``: for inputs ``(batch, d_1, ..., d_k, features)`` attention runs over the
      given axes (default: all of ``d_1..d_k``); the other axes are batch axes. With several
      attention axes, the positions of those axes are flattened into one sequence: the softmax
      is joint over every key position, ``scores`` has shape
      ``(batch dims, num_heads, query attention dims, key attention dims)``.
    - ``use_gate`` (gated attention): ``head_i <- head_i * sigmoid(Q W_i^g + b_i^g)``, per
      head and channel, before the output projection (weights ``gate_kernel``
      ``(features, num_heads, value_dim)`` and ``gate_bias``).
    - ``sliding_window = w``: query ``t`` may attend to key ``s`` only if ``|t - s| < w``
      (with ``use_causal_mask``, the causal band ``t - w < s <= t``).
    - ``attention_mask`` may be per head: any shape that broadcasts to ``scores`` after Keras'
      expansion (missing dimensions are inserted before the query attention axes), e.g.
      ``(T, S)``, ``(batch, T, S)`` or ``(batch, num_heads, T, S)``.
    - ``output_shape``: an int or a tuple; the output is ``query.shape[:-1] + output_shape``.

    Keras masks on ``query``, ``value`` and ``key`` (``Embedding(mask_zero=True)``) are combined
    with ``attention_mask``, the causal and the sliding-window masks as in the built-in. There is
    no flash attention (``flash_attention`` is accepted for compatibility and changes nothing).

    Args:
        num_heads: number of attention heads (positive int).
        key_dim: size of each head for query and key (positive int).
        value_dim: size of each head for value; defaults to ``key_dim``.
        dropout: dropout rate on the attention weights, in [0, 1).
        use_bias: whether the projections have biases.
        output_shape: size(s) of the output features (int or tuple); defaults to the query's.
        attention_axes: int or tuple of ints, axes of the inputs attention runs over.
        sliding_window: None or a positive int, the band width ``w``.
        flash_attention: accepted, ignored (see above).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, bias_constraint: as in ``keras.layers.Dense``.
        use_gate: gated attention (see above).
        seed: random seed for dropout.

    Call arguments:
        query: ``(batch, T..., query_features)``.
        value: ``(batch, S..., value_features)``.
        key: ``(batch, S..., key_features)``; defaults to ``value``.
        query_mask, value_mask, key_mask: boolean padding masks over the sequence axes (axis 1
            for rank-3 inputs); filled in from Keras masks automatically.
        attention_mask: boolean, broadcastable to the scores (see above).
        return_attention_scores: also return the attention weights.
        training: whether dropout is active.
        use_causal_mask: apply the causal (look-ahead) mask (over axis 1, as Keras does).

    Returns:
        ``query.shape[:-1] + output_shape``, and the attention scores if requested.

    Example:

    >>> x = np.random.rand(2, 5, 16)
    >>> tuple(MultiHeadAttention(num_heads=4, key_dim=8)(x, x).shape)
    (2, 5, 16)
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        _check_head_size("num_heads", num_heads)
        _check_head_size("key_dim", key_dim)
        _check_head_size("value_dim", value_dim, allow_none=True)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.dropout = arguments.rate("dropout", dropout)
        self.use_bias = use_bias
        self.use_gate = bool(use_gate)
        self._output_shape = _standardize_output_shape(output_shape)
        self.attention_axes = _standardize_attention_axes(attention_axes)
        if sliding_window is not None and (
            isinstance(sliding_window, bool)
            or not isinstance(sliding_window, int)
            or sliding_window <= 0
        ):
            arguments.fail("sliding_window", "None or a positive integer", sliding_window)
        self.sliding_window = sliding_window
        self.flash_attention = flash_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(self.dropout, seed=seed, dtype=self.dtype_policy)

    # ------------------------------------------------------------------ shapes and validation

    @staticmethod
    def _check_inputs(query_shape, value_shape, key_shape):
        query_shape, value_shape, key_shape = (
            tuple(query_shape),
            tuple(value_shape),
            tuple(key_shape),
        )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value.shape={value_shape}, key.shape={key_shape}"
            )
        for name, shape in (("value", value_shape), ("key", key_shape)):
            if None not in (query_shape[0], shape[0]) and query_shape[0] != shape[0]:
                raise ValueError(
                    f"`query` and `{name}` must have the same batch size. Received: "
                    f"query.shape={tuple(query_shape)}, {name}.shape={tuple(shape)}"
                )
        for name, shape in (("query", query_shape), ("value", value_shape)):
            if len(shape) < 3:
                raise ValueError(
                    f"`{name}` must have rank >= 3 (batch, positions..., features). "
                    f"Received: {name}.shape={shape}"
                )
        if len(query_shape) != len(value_shape):
            raise ValueError(
                "`query` and `value` must have the same rank. "
                f"Received: query.shape={query_shape}, value.shape={value_shape}"
            )

    def _axes(self, rank):
        """(batch axes, attention axes) of an input of ``rank``, features excluded."""
        if self.attention_axes is None:
            attention = tuple(range(1, rank - 1))
        else:
            attention = tuple(sorted(a if a >= 0 else rank + a for a in self.attention_axes))
            if any(not 1 <= a < rank - 1 for a in attention) or len(set(attention)) != len(
                attention
            ):
                raise ValueError(
                    "Argument `attention_axes` must be distinct axes of the inputs other than "
                    f"the batch and feature axes (1 to {rank - 2} for rank {rank}). "
                    f"Received: attention_axes={self.attention_axes}"
                )
        batch = tuple(a for a in range(rank - 1) if a not in attention)
        return batch, attention

    def _scores_shape(self, query_shape, value_shape):
        batch, attention = self._axes(len(query_shape))
        return (
            tuple(query_shape[a] for a in batch)
            + (self.num_heads,)
            + tuple(query_shape[a] for a in attention)
            + tuple(value_shape[a] for a in attention)
        )

    # ------------------------------------------------------------------ weights

    def _projection(self, name, input_dim, head_dim):
        kernel = self.add_weight(
            name=f"{name}_kernel",
            shape=(input_dim, self.num_heads, head_dim),
            initializer=_fresh(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        bias = None
        if self.use_bias:
            bias = self.add_weight(
                name=f"{name}_bias",
                shape=(self.num_heads, head_dim),
                initializer=_fresh(self.bias_initializer),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        return kernel, bias

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_inputs(query_shape, value_shape, key_shape)
        self._axes(len(query_shape))
        # Creation order = get_weights() order of the built-in: query, key, gate, value, output.
        self.query_kernel, self.query_bias = self._projection(
            "query", query_shape[-1], self.key_dim
        )
        self.key_kernel, self.key_bias = self._projection("key", key_shape[-1], self.key_dim)
        self.gate_kernel = self.gate_bias = None
        if self.use_gate:
            self.gate_kernel, self.gate_bias = self._projection(
                "gate", query_shape[-1], self.value_dim
            )
        self.value_kernel, self.value_bias = self._projection(
            "value", value_shape[-1], self.value_dim
        )
        output_shape = self._output_shape or (query_shape[-1],)
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(self.num_heads, self.value_dim) + output_shape,
            initializer=_fresh(self.kernel_initializer),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.output_bias = None
        if self.use_bias:
            self.output_bias = self.add_weight(
                name="output_bias",
                shape=output_shape,
                initializer=_fresh(self.bias_initializer),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    # ------------------------------------------------------------------ the computation

    @staticmethod
    def _heads_letters(batch, attention):
        """Einsum letters of the heads' layout ``(batch axes, N, attention axes, H)``."""
        return (
            "".join(_LETTERS[a] for a in batch)
            + "N"
            + "".join(_LETTERS[a] for a in attention)
            + "H"
        )

    def _project(self, inputs, kernel, bias, batch, attention):
        """``inputs W + b`` with the heads laid out ``(batch axes, heads, attention axes, dim)``."""
        source = _LETTERS[: len(inputs.shape) - 1] + "x"
        target = self._heads_letters(batch, attention)
        projected = ops.einsum(f"{source},xNH->{target}", inputs, kernel)
        if bias is not None:
            projected = projected + ops.reshape(
                bias, (self.num_heads,) + (1,) * len(attention) + tuple(bias.shape[1:])
            )
        return projected

    def _expand_mask(self, mask, scores_rank, attention):
        """Keras' rule: insert axes before the query attention axes until ranks match."""
        mask = ops.cast(mask, "bool")
        for _ in range(scores_rank - len(mask.shape)):
            mask = ops.expand_dims(mask, -2 * len(attention) - 1)
        return mask

    def _sequence_masks(self, query, value, query_mask, value_mask, key_mask, use_causal_mask):
        """Padding, causal and sliding-window masks in Keras' (batch, T, S) layout."""
        masks = [
            None if query_mask is None else ops.expand_dims(ops.cast(query_mask, "bool"), -1),
            None if value_mask is None else ops.expand_dims(ops.cast(value_mask, "bool"), -2),
            None if key_mask is None else ops.expand_dims(ops.cast(key_mask, "bool"), -2),
        ]
        query_length, value_length = ops.shape(query)[1], ops.shape(value)[1]
        if use_causal_mask:
            masks.append(ops.expand_dims(causal_mask(query_length, value_length), 0))
        if self.sliding_window is not None:
            rows = ops.expand_dims(ops.arange(query_length), -1)
            columns = ops.expand_dims(ops.arange(value_length), 0)
            masks.append(ops.expand_dims(ops.less(ops.abs(rows - columns), self.sliding_window), 0))
        return _combine_masks(*masks)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        if key is None:
            key = value
            key_mask = None  # the value's mask already covers it
        self._check_inputs(_static_shape(query), _static_shape(value), _static_shape(key))
        rank = len(query.shape)
        batch, attention = self._axes(rank)
        scores_shape = self._scores_shape(_static_shape(query), _static_shape(value))
        scores_rank = len(scores_shape)
        if rank == 3:
            batch_size, target_length, source_length = scores_shape[0], *scores_shape[2:]
            check_padding_mask_shape("query_mask", query_mask, (batch_size, target_length))
            check_padding_mask_shape("value_mask", value_mask, (batch_size, source_length))
            check_padding_mask_shape("key_mask", key_mask, (batch_size, source_length))
        if attention_mask is not None:
            check_mask_shape(
                "attention_mask",
                self._expand_mask(attention_mask, scores_rank, attention),
                scores_shape,
            )
        mask = _combine_masks(
            *(
                None if m is None else self._expand_mask(m, scores_rank, attention)
                for m in (
                    self._sequence_masks(
                        query, value, query_mask, value_mask, key_mask, use_causal_mask
                    ),
                    attention_mask,
                )
            )
        )

        query_heads, key_heads, value_heads = (
            self._project(inputs, kernel, bias, batch, attention)
            for inputs, kernel, bias in (
                (query, self.query_kernel, self.query_bias),
                (key, self.key_kernel, self.key_bias),
                (value, self.value_kernel, self.value_bias),
            )
        )
        # Several attention axes: their positions are flattened into one sequence (joint softmax).
        flat = len(attention) > 1
        if flat:
            lead = tuple(ops.shape(query_heads)[: len(batch) + 1])  # batch axes and heads
            query_positions = tuple(ops.shape(query_heads)[len(batch) + 1 : -1])
            key_positions = tuple(ops.shape(value)[a] for a in attention)
            if mask is not None:
                mask = ops.broadcast_to(mask, lead + query_positions + key_positions)
                mask = ops.reshape(mask, lead + (math.prod(query_positions), -1))
            query_heads, key_heads, value_heads = (
                ops.reshape(t, lead + (-1, t.shape[-1]))
                for t in (query_heads, key_heads, value_heads)
            )
        heads, scores = _attend(
            query_heads,
            key_heads,
            value_heads,
            mask,
            1.0 / math.sqrt(self.key_dim),
            self._dropout_layer,
            training,
        )
        if flat:
            heads = ops.reshape(heads, lead + query_positions + (heads.shape[-1],))
            scores = ops.reshape(scores, lead + query_positions + key_positions)
        output = self._output(query, heads, batch, attention)
        if return_attention_scores:
            return output, scores
        return output

    def _output(self, query, heads, batch, attention):
        """The gate (``use_gate``) and ``Concat(head_1, ..., head_h) W_o`` without materializing
        the concatenation, back to the query's layout."""
        if self.use_gate:
            gate = self._project(query, self.gate_kernel, self.gate_bias, batch, attention)
            heads = heads * ops.sigmoid(gate)
        letters = _LETTERS[: len(query.shape) - 1]
        output_letters = "opqrstuvw"[: len(self.output_kernel.shape) - 2]
        output = ops.einsum(
            f"{self._heads_letters(batch, attention)},NH{output_letters}->"
            f"{letters}{output_letters}",
            heads,
            self.output_kernel,
        )
        if self.output_bias is not None:
            output = output + self.output_bias
        return output

    def project_key_value(self, value, key=None):
        """The keys ``K W^k`` and values ``V W^v`` of every head, ``(batch, num_heads, S, dim)``,
        for rank-3 inputs ``(batch, S, features)``.

        Computed once, they serve ``attend_projected`` for many queries: the encoder's keys and
        values for every decoder step, or a decoder's key/value cache that grows by one position
        per generated token.
        """
        key = value if key is None else key
        return (self._project(key, self.key_kernel, self.key_bias, (0,), (1,)),
                self._project(value, self.value_kernel, self.value_bias, (0,), (1,)))

    def attend_projected(self, query, key_heads, value_heads, mask=None, training=None):
        """``MultiHead(Q, K, V)`` of a rank-3 query from keys and values of ``project_key_value``.

        Args:
            query: ``(batch, T, query_features)``.
            key_heads, value_heads: from ``project_key_value``.
            mask: boolean, broadcastable to ``(batch, num_heads, T, S)``.

        Returns:
            ``(output, scores)``: ``(batch, T, output_features)`` and the
            ``(batch, num_heads, T, S)`` attention weights.
        """
        query_heads = self._project(query, self.query_kernel, self.query_bias, (0,), (1,))
        heads, scores = _attend(query_heads, key_heads, value_heads, mask,
                                1.0 / math.sqrt(self.key_dim), self._dropout_layer, training)
        return self._output(query, heads, (0,), (1,)), scores

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_inputs(query_shape, value_shape, key_shape)
        return tuple(query_shape)[:-1] + (self._output_shape or (query_shape[-1],))

    def compute_output_spec(self, query, value, key=None, return_attention_scores=False, **kwargs):
        key_shape = None if key is None else key.shape
        output_shape = self.compute_output_shape(query.shape, value.shape, key_shape)
        output = keras.KerasTensor(output_shape, dtype=self.compute_dtype)
        if return_attention_scores:
            scores_shape = self._scores_shape(query.shape, value.shape)
            return output, keras.KerasTensor(scores_shape, dtype=self.compute_dtype)
        return output

    def get_config(self):
        config = {
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            "use_gate": self.use_gate,
            "sliding_window": self.sliding_window,
            "flash_attention": self.flash_attention,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": keras.regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


_LETTERS = "abcdefgh"  # einsum letters of the inputs' axes (batch and positions; rank <= 9)


def _check_head_size(name, value, allow_none=False):
    """A positive int (or None); the message keeps Keras' phrase "argument `name`"."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        expected = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(
            f"Argument `{name}` must be {expected} (an invalid value for argument `{name}`). "
            f"Received: {name}={value!r}"
        )


def _standardize_output_shape(output_shape):
    """None, or a tuple of positive ints (an int n is ``(n,)``); Keras' phrase kept."""
    if output_shape is None:
        return None
    shape = (output_shape,) if isinstance(output_shape, int) else output_shape
    if (
        not isinstance(shape, (tuple, list))
        or not shape
        or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in shape)
    ):
        raise ValueError(
            "Argument `output_shape` must be a positive int or a tuple of positive ints "
            f"(Invalid `output_shape`). Received: output_shape={output_shape!r}"
        )
    return tuple(shape)


def _standardize_attention_axes(attention_axes):
    if attention_axes is None:
        return None
    axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
    if (
        not isinstance(axes, (tuple, list))
        or not axes
        or any(isinstance(a, bool) or not isinstance(a, int) for a in axes)
    ):
        arguments.fail("attention_axes", "an int, or a list or tuple of ints", attention_axes)
    return tuple(axes)


def _fresh(initializer):
    """A new instance of ``initializer``: each weight gets its own draws (Keras does the same)."""
    return initializer.__class__.from_config(initializer.get_config())


class _SourceAttention(keras.layers.Layer):
    """Shared machinery of the seq2seq attentions: a score per (decoder step, source position).

    Subclasses implement ``_scores(query, value) -> (batch, T, S)`` for a rank-3 query.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    @staticmethod
    def _check_inputs(query_shape, value_shape):
        if len(query_shape) not in (2, 3):
            raise ValueError(
                "`query` (decoder state h_t) must have shape (batch, features) or "
                f"(batch, T, features). Received: query.shape={tuple(query_shape)}"
            )
        if len(value_shape) != 3:
            raise ValueError(
                "`value` (encoder states) must have shape (batch, S, features). "
                f"Received: value.shape={tuple(value_shape)}"
            )

    def call(self, query, value, value_mask=None, return_attention_weights=False):
        self._check_inputs(_static_shape(query), _static_shape(value))
        check_padding_mask_shape("value_mask", value_mask, (value.shape[0], value.shape[1]))
        single_step = len(query.shape) == 2
        if single_step:
            query = ops.expand_dims(query, 1)
        scores = self._scores(query, value)  # e_i, (batch, T, S)
        mask = None if value_mask is None else ops.expand_dims(value_mask, 1)
        weights = masked_softmax(scores, mask)  # a_i
        context = ops.matmul(weights, value)  # c_t = sum_i a_i h_i
        if single_step:
            context, weights = ops.squeeze(context, 1), ops.squeeze(weights, 1)
        if return_attention_weights:
            return context, weights
        return context

    def compute_output_shape(self, query_shape, value_shape):
        self._check_inputs(tuple(query_shape), tuple(value_shape))
        return tuple(query_shape)[:-1] + (value_shape[-1],)

    def compute_output_spec(self, query, value, return_attention_weights=False, **kwargs):
        output = keras.KerasTensor(
            self.compute_output_shape(query.shape, value.shape), dtype=self.compute_dtype
        )
        if return_attention_weights:
            weights_shape = tuple(query.shape)[:-1] + (value.shape[1],)
            return output, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return output


@keras.saving.register_keras_serializable(package="kerasnn")
class BahdanauAttention(_SourceAttention):
    """Bahdanau's additive attention, exactly as the course writes it.

    Course notes, "Attention Mechanism in Seq2Seq Models"::

        e_i = score(h_t, h̄_i) = v^T tanh(W_1 h_t + W_2 h̄_i)
        a_i = exp(e_i) / sum_j exp(e_j)
        c_t = sum_i a_i h̄_i

    Weights: ``query_kernel`` W_1 ``(query_features, units)``, ``value_kernel`` W_2
    ``(value_features, units)``, ``score_kernel`` v ``(units,)``; no biases.

    This is *not* ``keras.layers.AdditiveAttention``, which has no W_1, W_2 projections (it adds
    query and key directly and scales by a learned vector). Also exported as
    ``kerasnn.layers.AdditiveAttention``.

    Args:
        units: size of the hidden layer of the score MLP (positive int).
        kernel_initializer, kernel_regularizer, kernel_constraint: for the three weights.

    Call arguments:
        query: the decoder state(s) h_t, ``(batch, query_features)`` for one step or
            ``(batch, T, query_features)`` for every decoder step at once.
        value: the encoder states h̄_s, ``(batch, S, value_features)``.
        value_mask: boolean ``(batch, S)``, ``False`` at source padding (filled in from a
            Keras mask on ``value``); padded positions get weight 0.
        return_attention_weights: also return the weights ``a``.

    Returns:
        The context vector ``c_t`` (``(batch, value_features)`` or ``(batch, T, value_features)``)
        and, if requested, the weights ``a`` (``(batch, S)`` or ``(batch, T, S)``).

    Example:

    >>> h_t = np.random.rand(2, 16); encoder_states = np.random.rand(2, 7, 32)
    >>> context, weights = BahdanauAttention(units=10)(
    ...     h_t, encoder_states, return_attention_weights=True)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 32), (2, 7))
    """

    def __init__(
        self,
        units,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        arguments.positive_int("units", units)
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, query_shape, value_shape):
        self._check_inputs(tuple(query_shape), tuple(value_shape))
        common = dict(
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(query_shape[-1], self.units), **common
        )
        self.value_kernel = self.add_weight(
            name="value_kernel", shape=(value_shape[-1], self.units), **common
        )
        self.score_kernel = self.add_weight(name="score_kernel", shape=(self.units,), **common)

    def _scores(self, query, value):
        projected_query = ops.matmul(query, self.query_kernel)  # W_1 h_t, (batch, T, units)
        projected_value = ops.matmul(value, self.value_kernel)  # W_2 h̄_s, (batch, S, units)
        hidden = ops.tanh(
            ops.expand_dims(projected_query, 2) + ops.expand_dims(projected_value, 1)
        )  # (batch, T, S, units)
        return ops.einsum("btsu,u->bts", hidden, self.score_kernel)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
        }


@keras.saving.register_keras_serializable(package="kerasnn")
class LuongAttention(_SourceAttention):
    """Luong's multiplicative ("general") attention, exactly as the course writes it.

    Course notes, "Attention Mechanism in Seq2Seq Models"::

        e_i = score(h_t, h̄_i) = h_t^T W h̄_i
        a_i = exp(e_i) / sum_j exp(e_j)
        c_t = sum_i a_i h̄_i

    Weight: ``kernel`` W ``(query_features, value_features)``; the decoder and encoder states
    may have different sizes.

    This is *not* ``keras.layers.Attention``, which has no W (plain dot product h_t^T h̄_i,
    optionally times a learned scalar). Also exported as
    ``kerasnn.layers.MultiplicativeAttention``.

    Args:
        kernel_initializer, kernel_regularizer, kernel_constraint: for W.

    Call arguments:
        query: the decoder state(s) h_t, ``(batch, query_features)`` for one step or
            ``(batch, T, query_features)`` for every decoder step at once.
        value: the encoder states h̄_s, ``(batch, S, value_features)``.
        value_mask: boolean ``(batch, S)``, ``False`` at source padding (filled in from a
            Keras mask on ``value``); padded positions get weight 0.
        return_attention_weights: also return the weights ``a``.

    Returns:
        The context vector ``c_t`` (``(batch, value_features)`` or ``(batch, T, value_features)``)
        and, if requested, the weights ``a`` (``(batch, S)`` or ``(batch, T, S)``).

    Example:

    >>> h_t = np.random.rand(2, 16); encoder_states = np.random.rand(2, 7, 32)
    >>> tuple(LuongAttention()(h_t, encoder_states).shape)
    (2, 32)
    """

    def __init__(
        self,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def build(self, query_shape, value_shape):
        self._check_inputs(tuple(query_shape), tuple(value_shape))
        self.kernel = self.add_weight(
            name="kernel",
            shape=(query_shape[-1], value_shape[-1]),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _scores(self, query, value):
        # h_t^T W h̄_s for every (t, s) pair at once
        return ops.matmul(ops.matmul(query, self.kernel), ops.swapaxes(value, 1, 2))

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
        }


# The names the course and the issue use. Beware: these are NOT keras.layers.AdditiveAttention /
# keras.layers.Attention, which compute different scores (see the class docstrings).
AdditiveAttention = BahdanauAttention
MultiplicativeAttention = LuongAttention
