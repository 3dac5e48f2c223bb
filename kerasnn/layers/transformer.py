"""Transformer building blocks written from scratch in ``keras.ops``.

Course notes, sections "Transformers", "Position-wise FFN" and "Positional Encoding"; the
attention inside the blocks is ``kerasnn.layers.MultiHeadAttention``.
"""

import keras
from keras import ops

from kerasnn import arguments
from kerasnn.layers.attention import MultiHeadAttention, check_padding_mask_shape

LAYOUTS = ("concatenated", "interleaved")


def sinusoidal_encoding(
    length, depth, layout="concatenated", max_wavelength=10000.0, dtype="float32"
):
    """The ``(length, depth)`` table of sinusoidal position encodings.

    With ``i`` the position and ``j`` the frequency index, ``angle(i, j) = i / max_wavelength **
    (2 j / depth)``. ``layout="concatenated"`` is the course's formula, all sines then all
    cosines: ``PE_i = [sin(angle(i, j)) for j < depth/2] + [cos(angle(i, j)) for j < depth/2]``
    (for an odd ``depth`` the sine half has one more entry). ``layout="interleaved"`` is the
    layout of "Attention Is All You Need": ``PE[i, 2j] = sin(angle(i, j))``,
    ``PE[i, 2j+1] = cos(angle(i, j))`` (even ``depth`` only).
    """
    arguments.one_of("layout", layout, LAYOUTS)
    if layout == "interleaved" and depth % 2:
        raise ValueError(
            "The interleaved layout needs an even model dimension (sine/cosine pairs). "
            f"Received: depth={depth}"
        )
    positions = ops.cast(ops.expand_dims(ops.arange(length), 1), "float32")
    frequency_index = ops.cast(ops.arange((depth + 1) // 2), "float32")
    inverse_wavelengths = ops.power(
        ops.cast(max_wavelength, "float32"), -2.0 * frequency_index / depth
    )
    angles = positions * ops.expand_dims(inverse_wavelengths, 0)  # (length, ceil(depth / 2))
    if layout == "concatenated":
        table = ops.concatenate([ops.sin(angles), ops.cos(angles[:, : depth // 2])], axis=-1)
    else:
        table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, depth))
    return ops.cast(table, dtype)


@keras.saving.register_keras_serializable(package="kerasnn")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Adds the fixed sinusoidal position encoding to a sequence of embeddings.

    Course notes, "Positional Encoding": for position ``i`` of a model dimension ``D``::

        PE_i = [sin(i / 10000^(2j/D)) for j in range(D/2)]
             + [cos(i / 10000^(2j/D)) for j in range(D/2)]
        output_i = x_i + PE_i

    ``layout="interleaved"`` uses the paper's layout instead (``sin`` at even, ``cos`` at odd
    features; needs an even ``D``). Any sequence length up to ``max_length`` is accepted. No
    trainable weights; Keras masks pass through.

    Args:
        max_length: longest sequence the layer accepts (positive int).
        layout: ``"concatenated"`` (course, default) or ``"interleaved"`` (paper).
        max_wavelength: the 10000 of the formula.

    Call arguments:
        inputs: ``(batch, length, D)`` embeddings with ``length <= max_length``.

    Returns:
        ``inputs + PE[:length]``, same shape.

    Example:

    >>> tuple(SinusoidalPositionalEncoding(max_length=50)(np.zeros((2, 10, 16))).shape)
    (2, 10, 16)
    """

    def __init__(self, max_length, layout="concatenated", max_wavelength=10000.0, **kwargs):
        arguments.positive_int("max_length", max_length)
        arguments.one_of("layout", layout, LAYOUTS)
        max_wavelength = arguments.positive_number("max_wavelength", max_wavelength)
        super().__init__(**kwargs)
        self.max_length = max_length
        self.layout = layout
        self.max_wavelength = max_wavelength
        self.supports_masking = True

    def _check_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "SinusoidalPositionalEncoding expects inputs of shape (batch, length, D) with a "
                f"known D. Received: input_shape={input_shape}"
            )
        if self.layout == "interleaved" and input_shape[-1] % 2:
            raise ValueError(
                "The interleaved layout needs an even model dimension D. "
                f"Received: input_shape={input_shape} (D={input_shape[-1]})"
            )
        if input_shape[1] is not None and input_shape[1] > self.max_length:
            raise ValueError(
                f"The sequence length must be at most max_length={self.max_length}. "
                f"Received: input_shape={input_shape} (length={input_shape[1]})"
            )

    def build(self, input_shape):
        self._check_input_shape(input_shape)

    def call(self, inputs):
        self._check_input_shape(inputs.shape)
        table = sinusoidal_encoding(
            ops.shape(inputs)[1], inputs.shape[-1], self.layout, self.max_wavelength, inputs.dtype
        )
        return inputs + ops.expand_dims(table, 0)

    def compute_output_shape(self, input_shape):
        self._check_input_shape(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "max_length": self.max_length,
            "layout": self.layout,
            "max_wavelength": self.max_wavelength,
        }


@keras.saving.register_keras_serializable(package="kerasnn")
class PositionwiseFeedForward(keras.layers.Layer):
    """The transformer's feed-forward network, applied to every position independently.

    Course notes, "Position-wise FFN"::

        FFN(x) = max(0, x W_1 + b_1) W_2 + b_2

    ``W_1`` is ``(D, intermediate_dim)`` (weight ``kernel_1``, bias ``bias_1``), ``W_2`` is
    ``(intermediate_dim, D)`` (``kernel_2``, ``bias_2``), so the output has the input's size.
    Dropout (training only) is applied to the hidden activations.

    Args:
        intermediate_dim: size of the hidden layer (positive int).
        activation: the hidden activation; ``"relu"`` is the course's ``max(0, .)``.
        dropout: dropout rate on the hidden activations, in [0, 1).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as in Dense.
        seed: random seed for dropout.

    Call arguments:
        inputs: ``(..., D)``.
        training: whether dropout is active.

    Returns:
        ``(..., D)``.

    Example:

    >>> tuple(PositionwiseFeedForward(intermediate_dim=64)(np.zeros((2, 10, 16))).shape)
    (2, 10, 16)
    """

    def __init__(
        self,
        intermediate_dim,
        activation="relu",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        seed=None,
        **kwargs,
    ):
        arguments.positive_int("intermediate_dim", intermediate_dim)
        super().__init__(**kwargs)
        self.intermediate_dim = intermediate_dim
        self.activation = keras.activations.get(activation)
        self.dropout = arguments.rate("dropout", dropout)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(self.dropout, seed=seed, dtype=self.dtype_policy)

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                "PositionwiseFeedForward expects inputs of shape (..., D) with a known D. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        model_dim = input_shape[-1]
        kernel = dict(initializer=self.kernel_initializer, regularizer=self.kernel_regularizer)
        bias = dict(initializer=self.bias_initializer, regularizer=self.bias_regularizer)
        self.kernel_1 = self.add_weight(
            name="kernel_1", shape=(model_dim, self.intermediate_dim), **kernel
        )
        self.bias_1 = self.add_weight(name="bias_1", shape=(self.intermediate_dim,), **bias)
        self.kernel_2 = self.add_weight(
            name="kernel_2", shape=(self.intermediate_dim, model_dim), **kernel
        )
        self.bias_2 = self.add_weight(name="bias_2", shape=(model_dim,), **bias)

    def call(self, inputs, training=None):
        hidden = self.activation(ops.matmul(inputs, self.kernel_1) + self.bias_1)
        hidden = self._dropout_layer(hidden, training=training)
        return ops.matmul(hidden, self.kernel_2) + self.bias_2

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "intermediate_dim": self.intermediate_dim,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "seed": self.seed,
        }


class _TransformerBlock(keras.layers.Layer):
    """Arguments, validation and sublayer factories shared by the encoder and decoder blocks."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        arguments.positive_int("num_heads", num_heads)
        arguments.positive_int("intermediate_dim", intermediate_dim)
        arguments.positive_int("key_dim", key_dim, allow_none=True)
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.key_dim = key_dim
        self.dropout = arguments.rate("dropout", dropout)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.supports_masking = True

    def _model_dim(self, sequence_shape, name):
        sequence_shape = tuple(sequence_shape)
        if len(sequence_shape) != 3 or sequence_shape[-1] is None:
            raise ValueError(
                f"`{name}` must have shape (batch, length, D) with a known D. "
                f"Received: {name}.shape={sequence_shape}"
            )
        model_dim = sequence_shape[-1]
        if self.key_dim is None and model_dim % self.num_heads:
            raise ValueError(
                f"Without `key_dim`, the model dimension D must be divisible by num_heads="
                f"{self.num_heads}. Received: D={model_dim}"
            )
        return model_dim

    def _sublayer_kwargs(self):
        # Fresh initializer objects per sublayer, so no two weights share an initializer's seed.
        return dict(
            kernel_initializer=keras.initializers.get(
                keras.initializers.serialize(self.kernel_initializer)
            ),
            bias_initializer=keras.initializers.get(
                keras.initializers.serialize(self.bias_initializer)
            ),
            dtype=self.dtype_policy,
        )

    def _make_attention(self, model_dim, name):
        return MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.key_dim or model_dim // self.num_heads,
            dropout=self.dropout,
            seed=self.seed,
            name=name,
            **self._sublayer_kwargs(),
        )

    def _make_feed_forward(self):
        return PositionwiseFeedForward(
            self.intermediate_dim,
            activation=self.activation,
            dropout=self.dropout,
            seed=self.seed,
            name="feed_forward",
            **self._sublayer_kwargs(),
        )

    def _make_norm(self, name):
        return keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name=name, dtype=self.dtype_policy
        )

    def _make_dropout(self, name):
        return keras.layers.Dropout(
            self.dropout, seed=self.seed, name=name, dtype=self.dtype_policy
        )

    def _build_residual(self, name, sequence_shape):
        """The LayerNorm and Dropout around sublayer ``name`` (see ``_add_and_norm``)."""
        norm = self._make_norm(f"{name}_norm")
        norm.build(sequence_shape)
        setattr(self, f"{name}_norm", norm)
        setattr(self, f"{name}_dropout", self._make_dropout(f"{name}_dropout"))

    def _add_and_norm(self, name, residual, update, training):
        """LayerNorm(residual + Dropout(update)): the residual connection of sublayer ``name``."""
        dropout = getattr(self, f"{name}_dropout")
        return getattr(self, f"{name}_norm")(residual + dropout(update, training=training))

    def _build_self_attention(self, sequence_shape, model_dim):
        self.self_attention = self._make_attention(model_dim, "self_attention")
        self.self_attention.build(sequence_shape, sequence_shape)
        self._build_residual("self_attention", sequence_shape)

    def _build_feed_forward(self, sequence_shape):
        self.feed_forward = self._make_feed_forward()
        self.feed_forward.build(sequence_shape)
        self._build_residual("feed_forward", sequence_shape)

    def _self_attention_block(self, sequence, mask, training, **attention_kwargs):
        attended = self.self_attention(
            sequence,
            sequence,
            query_mask=mask,
            value_mask=mask,
            training=training,
            **attention_kwargs,
        )
        return self._add_and_norm("self_attention", sequence, attended, training)

    def _feed_forward_block(self, x, training):
        return self._add_and_norm(
            "feed_forward", x, self.feed_forward(x, training=training), training
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="kerasnn")
class TransformerEncoderBlock(_TransformerBlock):
    """One transformer encoder layer (post-norm, as in "Attention Is All You Need").

    Course notes, "Transformers", "Multi-Head Attention", "Position-wise FFN"::

        x = LayerNorm(x + Dropout(MultiHead(x, x, x)))
        y = LayerNorm(x + Dropout(FFN(x)))

    Args:
        num_heads: number of attention heads (positive int).
        intermediate_dim: hidden size of the position-wise FFN (positive int).
        key_dim: size of each attention head; defaults to ``D // num_heads``.
        dropout: dropout rate on the attention weights, the FFN hidden layer and each sublayer
            output before its residual connection, in [0, 1).
        activation: the FFN's hidden activation.
        layer_norm_epsilon: epsilon of the layer normalizations.
        kernel_initializer, bias_initializer: for the attention and FFN weights.
        seed: random seed for dropout.

    Call arguments:
        inputs: ``(batch, length, D)``.
        mask: boolean ``(batch, length)`` padding mask, ``False`` at padding (filled in from a
            Keras mask, e.g. ``Embedding(mask_zero=True)``); padded positions are never
            attended to, and the mask is propagated to the output.
        attention_mask: optional boolean, broadcastable to ``(batch, length, length)``.
        training: whether dropout is active.
        use_causal_mask: position ``t`` attends to positions ``<= t`` only: with it the block is
            the block of a decoder-only (language-model) transformer, which has no
            cross-attention.

    Returns:
        ``(batch, length, D)``.

    Example:

    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> tuple(block(np.zeros((2, 7, 16))).shape)
    (2, 7, 16)
    """

    def build(self, input_shape):
        model_dim = self._model_dim(input_shape, "inputs")
        self._build_self_attention(input_shape, model_dim)
        self._build_feed_forward(input_shape)

    def call(self, inputs, mask=None, attention_mask=None, training=None, use_causal_mask=False):
        self._model_dim(inputs.shape, "inputs")
        check_padding_mask_shape("mask", mask, inputs.shape[:2])
        x = self._self_attention_block(
            inputs, mask, training, attention_mask=attention_mask, use_causal_mask=use_causal_mask
        )
        return self._feed_forward_block(x, training)

    def compute_output_shape(self, input_shape):
        self._model_dim(input_shape, "inputs")
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="kerasnn")
class TransformerDecoderBlock(_TransformerBlock):
    """One transformer decoder layer (post-norm): masked self-attention, cross-attention, FFN.

    Course notes, "Transformers" (masked self-attention so the decoder cannot "peek" at future
    tokens), "Multi-Head Attention", "Position-wise FFN"::

        x = LayerNorm(x + Dropout(MaskedMultiHead(x, x, x)))        causal: step t sees steps <= t
        x = LayerNorm(x + Dropout(MultiHead(x, enc, enc)))          cross-attention to the encoder
        y = LayerNorm(x + Dropout(FFN(x)))

    Args:
        num_heads: number of attention heads (positive int).
        intermediate_dim: hidden size of the position-wise FFN (positive int).
        key_dim: size of each attention head; defaults to ``D // num_heads``.
        dropout: dropout rate on the attention weights, the FFN hidden layer and each sublayer
            output before its residual connection, in [0, 1).
        activation: the FFN's hidden activation.
        layer_norm_epsilon: epsilon of the layer normalizations.
        kernel_initializer, bias_initializer: for the attention and FFN weights.
        seed: random seed for dropout.

    Call arguments:
        decoder_sequence: ``(batch, T, D)``, the (shifted) target sequence.
        encoder_sequence: ``(batch, S, D_enc)``, the encoder's output.
        decoder_sequence_mask: boolean ``(batch, T)`` padding mask of the target (filled in
            from a Keras mask); propagated to the output.
        encoder_sequence_mask: boolean ``(batch, S)`` padding mask of the source (filled in
            from a Keras mask); padded source positions are never attended to.
        training: whether dropout is active.

    Returns:
        ``(batch, T, D)``.

    Example:

    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> tuple(block(np.zeros((2, 5, 16)), np.zeros((2, 7, 16))).shape)
    (2, 5, 16)
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape):
        model_dim = self._model_dim(decoder_sequence_shape, "decoder_sequence")
        if len(encoder_sequence_shape) != 3:
            raise ValueError(
                "`encoder_sequence` must have shape (batch, length, features). "
                f"Received: encoder_sequence.shape={tuple(encoder_sequence_shape)}"
            )
        self._build_self_attention(decoder_sequence_shape, model_dim)
        self.cross_attention = self._make_attention(model_dim, "cross_attention")
        self.cross_attention.build(decoder_sequence_shape, encoder_sequence_shape)
        self._build_residual("cross_attention", decoder_sequence_shape)
        self._build_feed_forward(decoder_sequence_shape)

    def call(
        self,
        decoder_sequence,
        encoder_sequence,
        decoder_sequence_mask=None,
        encoder_sequence_mask=None,
        training=None,
    ):
        self._model_dim(decoder_sequence.shape, "decoder_sequence")
        check_padding_mask_shape(
            "decoder_sequence_mask", decoder_sequence_mask, decoder_sequence.shape[:2]
        )
        check_padding_mask_shape(
            "encoder_sequence_mask", encoder_sequence_mask, encoder_sequence.shape[:2]
        )
        x = self._self_attention_block(
            decoder_sequence, decoder_sequence_mask, training, use_causal_mask=True
        )
        attended = self.cross_attention(
            x,
            encoder_sequence,
            query_mask=decoder_sequence_mask,
            value_mask=encoder_sequence_mask,
            training=training,
        )
        x = self._add_and_norm("cross_attention", x, attended, training)
        return self._feed_forward_block(x, training)

    def compute_output_shape(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._model_dim(decoder_sequence_shape, "decoder_sequence")
        return tuple(decoder_sequence_shape)

    def empty_cache(self, batch_size):
        """The key/value cache of ``step`` before the first token: ``(keys, values)``, each
        ``(batch, num_heads, 0, head_dim)``."""
        attention = self.self_attention
        return (ops.zeros((batch_size, attention.num_heads, 0, attention.key_dim)),
                ops.zeros((batch_size, attention.num_heads, 0, attention.value_dim)))

    def encoder_cache(self, encoder_sequence):
        """The cross-attention's keys and values of the encoder output, computed once per source
        and reused by every ``step``."""
        return self.cross_attention.project_key_value(encoder_sequence)

    def step(self, inputs, cache, encoder_cache, encoder_sequence_mask=None,
             return_attention_scores=False):
        """Incremental decoding: the block's output at one new position, in inference mode.

        The self-attention keys and values of the earlier positions come from ``cache``; only
        the new position's are computed and appended, so generating token ``t`` costs one
        position's work instead of ``t`` (the causal mask is implicit: the cache holds only
        positions ``<= t``). Equal to ``call`` on the whole prefix, at its last position.

        Args:
            inputs: ``(batch, 1, D)``, the newest position.
            cache: ``(keys, values)`` of the earlier positions (``empty_cache`` at the start).
            encoder_cache: ``encoder_cache(encoder_sequence)``.
            encoder_sequence_mask: boolean ``(batch, S)``, ``False`` at source padding.
            return_attention_scores: also return the cross-attention weights
                ``(batch, num_heads, 1, S)``.

        Returns:
            ``(outputs, cache)`` with ``outputs`` ``(batch, 1, D)`` and the cache one position
            longer (and the cross-attention weights if requested).
        """
        keys, values = self.self_attention.project_key_value(inputs)
        keys = ops.concatenate([ops.cast(cache[0], keys.dtype), keys], axis=2)
        values = ops.concatenate([ops.cast(cache[1], values.dtype), values], axis=2)
        attended, _ = self.self_attention.attend_projected(inputs, keys, values)
        x = self._add_and_norm("self_attention", inputs, attended, False)
        mask = None
        if encoder_sequence_mask is not None:
            mask = ops.expand_dims(ops.expand_dims(ops.cast(encoder_sequence_mask, "bool"), 1), 1)
        attended, scores = self.cross_attention.attend_projected(x, *encoder_cache, mask)
        x = self._add_and_norm("cross_attention", x, attended, False)
        outputs = self._feed_forward_block(x, False)
        if return_attention_scores:
            return outputs, (keys, values), scores
        return outputs, (keys, values)
