"""Transformer layers: NumPy references, parity with built-in stacks, masks, causality, harness."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import (
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)

# Tensors of any backend to NumPy (np.asarray fails on torch tensors that require grad).
_to_numpy = keras.ops.convert_to_numpy

BATCH, TARGET, SOURCE, MODEL_DIM, HEADS, HIDDEN = 2, 5, 6, 8, 2, 12


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _random_weights(layer, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.4, size=w.shape).astype("float32") for w in layer.get_weights()]


# ----------------------------------------------------------------------------------------------
# SinusoidalPositionalEncoding
# ----------------------------------------------------------------------------------------------


def _numpy_course_encoding(length, depth):
    """Course notes: [sin(i / 10000^(2j/D)) for j < D/2] + [cos(...) for j < D/2]."""
    table = np.zeros((length, depth))
    for i in range(length):
        sines = [np.sin(i / 10000 ** (2 * j / depth)) for j in range((depth + 1) // 2)]
        cosines = [np.cos(i / 10000 ** (2 * j / depth)) for j in range(depth // 2)]
        table[i] = sines + cosines
    return table


def _numpy_paper_encoding(length, depth):
    """Vaswani et al.: PE(pos, 2j) = sin(pos / 10000^(2j/D)), PE(pos, 2j+1) = cos(same)."""
    table = np.zeros((length, depth))
    for pos in range(length):
        for j in range(depth // 2):
            table[pos, 2 * j] = np.sin(pos / 10000 ** (2 * j / depth))
            table[pos, 2 * j + 1] = np.cos(pos / 10000 ** (2 * j / depth))
    return table


@pytest.mark.parametrize(
    "layout, depth, reference",
    [
        ("concatenated", 8, _numpy_course_encoding),
        ("concatenated", 7, _numpy_course_encoding),
        ("interleaved", 8, _numpy_paper_encoding),
    ],
    ids=["course", "course_odd_dim", "interleaved"],
)
def test_positional_encoding_matches_numpy(layout, depth, reference):
    x = _normal(BATCH, 9, depth)
    layer = SinusoidalPositionalEncoding(max_length=20, layout=layout)
    np.testing.assert_allclose(_to_numpy(layer(x)), x + reference(9, depth)[None], atol=1e-5)
    # A shorter sequence gets the first rows of the same table.
    np.testing.assert_allclose(
        _to_numpy(layer(x[:, :3])), x[:, :3] + reference(3, depth)[None], atol=1e-5
    )


def test_positional_encoding_keeps_the_keras_mask():
    tokens = np.array([[3, 4, 0], [5, 0, 0]])
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    encoded = SinusoidalPositionalEncoding(max_length=3)(embedded)
    np.testing.assert_array_equal(_to_numpy(encoded._keras_mask), tokens != 0)


def test_positional_encoding_bad_inputs():
    with pytest.raises(
        ValueError,
        match=r"interleaved layout needs an even model dimension D. "
        r"Received: input_shape=\(2, 4, 7\) \(D=7\)",
    ):
        SinusoidalPositionalEncoding(max_length=10, layout="interleaved")(_normal(2, 4, 7))
    with pytest.raises(
        ValueError,
        match=r"sequence length must be at most max_length=5. "
        r"Received: input_shape=\(2, 6, 4\) \(length=6\)",
    ):
        SinusoidalPositionalEncoding(max_length=5)(_normal(2, 6, 4))
    with pytest.raises(ValueError, match=r"`layout` must be one of .*Received: layout='sine'"):
        SinusoidalPositionalEncoding(max_length=5, layout="sine")
    with pytest.raises(
        ValueError, match="`max_length` must be a positive integer. Received: max_length=0"
    ):
        SinusoidalPositionalEncoding(max_length=0)
    with pytest.raises(ValueError, match=r"\(batch, length, D\).*Received: input_shape=\(2, 4\)"):
        SinusoidalPositionalEncoding(max_length=5)(_normal(2, 4))


def test_positional_encoding_passes_the_harness():
    x = _normal(BATCH, TARGET, MODEL_DIM)
    run_layer_test(
        SinusoidalPositionalEncoding,
        init_kwargs={"max_length": 16, "layout": "interleaved"},
        input_data=x,
        expected_output_shape=(None, TARGET, MODEL_DIM),
        expected_output=x + _numpy_paper_encoding(TARGET, MODEL_DIM)[None].astype("float32"),
    )


# ----------------------------------------------------------------------------------------------
# PositionwiseFeedForward
# ----------------------------------------------------------------------------------------------


def test_feed_forward_matches_numpy_and_passes_the_harness():
    x = _normal(BATCH, TARGET, MODEL_DIM)
    layer = PositionwiseFeedForward(intermediate_dim=HIDDEN)
    layer(x)
    layer.set_weights(_random_weights(layer))
    w1, b1, w2, b2 = layer.get_weights()
    expected = np.maximum(0.0, x @ w1 + b1) @ w2 + b2  # FFN(x) = max(0, xW1 + b1)W2 + b2
    np.testing.assert_allclose(_to_numpy(layer(x)), expected, atol=1e-5)

    run_layer_test(
        PositionwiseFeedForward,
        init_kwargs={"intermediate_dim": HIDDEN, "dropout": 0.1, "seed": 3},
        input_data=x,
        expected_output_shape=(None, TARGET, MODEL_DIM),
    )
    with pytest.raises(ValueError, match="`intermediate_dim` must be a positive integer"):
        PositionwiseFeedForward(intermediate_dim=0)


# ----------------------------------------------------------------------------------------------
# Encoder and decoder blocks
# ----------------------------------------------------------------------------------------------


def _builtin_sublayer_weights(ours, builtin_layers):
    """Copies our block's weights, in order, into the equivalent built-in layers."""
    weights = ours.get_weights()
    for layer in builtin_layers:
        count = len(layer.get_weights())
        layer.set_weights(weights[:count])
        weights = weights[count:]
    assert not weights


def _builtin_feed_forward(x, dense_1, dense_2, norm):
    return norm(x + dense_2(dense_1(x)))


def test_encoder_block_equals_a_stack_of_builtin_layers():
    x = _normal(BATCH, TARGET, MODEL_DIM)
    padding = np.ones((BATCH, TARGET), bool)
    padding[1, 3:] = False
    block = TransformerEncoderBlock(num_heads=HEADS, intermediate_dim=HIDDEN)
    block(x)
    block.set_weights(_random_weights(block))

    attention = keras.layers.MultiHeadAttention(HEADS, MODEL_DIM // HEADS)
    norm_1 = keras.layers.LayerNormalization(epsilon=1e-5)
    dense_1 = keras.layers.Dense(HIDDEN, activation="relu")
    dense_2 = keras.layers.Dense(MODEL_DIM)
    norm_2 = keras.layers.LayerNormalization(epsilon=1e-5)
    attention(x, x)
    for layer in (norm_1, dense_1):
        layer.build(x.shape)
    dense_2.build((None, TARGET, HIDDEN))
    norm_2.build(x.shape)
    _builtin_sublayer_weights(block, [attention, norm_1, dense_1, dense_2, norm_2])

    attention_mask = padding[:, :, None] & padding[:, None, :]
    x = keras.ops.convert_to_tensor(x)  # NumPy + a torch tensor that requires grad fails
    hidden = norm_1(x + attention(x, x, attention_mask=attention_mask))
    expected = _builtin_feed_forward(hidden, dense_1, dense_2, norm_2)
    got = block(x, mask=padding)
    # Compared at the real positions: a padded query attends to nothing, which the built-in's fused
    # kernel turns into a uniform average and we into zero weights (either value is never used).
    np.testing.assert_allclose(_to_numpy(got)[padding], _to_numpy(expected)[padding], atol=1e-5)
    np.testing.assert_allclose(
        _to_numpy(block(x)),
        _to_numpy(_builtin_feed_forward(norm_1(x + attention(x, x)), dense_1, dense_2, norm_2)),
        atol=1e-5,
    )


def test_encoder_block_ignores_padding_and_propagates_the_mask():
    tokens = np.array([[1, 2, 3, 4, 0], [5, 6, 0, 0, 0]])
    inputs = keras.Input((TARGET,), dtype="int32")
    embedded = keras.layers.Embedding(10, MODEL_DIM, mask_zero=True)(inputs)
    encoded = TransformerEncoderBlock(num_heads=HEADS, intermediate_dim=HIDDEN)(embedded)
    pooled = keras.layers.GlobalAveragePooling1D()(encoded)  # mask-aware mean
    model = keras.Model(inputs, [encoded, pooled])
    assert model.outputs[0]._keras_mask is not None

    sequences, means = (_to_numpy(t) for t in model(tokens))
    # The padding mask reached the pooling: the mean is over the real positions only.
    np.testing.assert_allclose(means[1], sequences[1, :2].mean(0), atol=1e-5)
    # Changing padded *values* (not ids) leaves the real positions unchanged.
    embedding_model = keras.Model(inputs, embedded)
    block = model.layers[2]
    values = _to_numpy(embedding_model(tokens))
    perturbed = values.copy()
    perturbed[tokens == 0] += 3.0
    mask = tokens != 0
    a, b = _to_numpy(block(values, mask=mask)), _to_numpy(block(perturbed, mask=mask))
    np.testing.assert_allclose(a[mask], b[mask], atol=1e-5)


def test_decoder_block_equals_a_stack_of_builtin_layers():
    x, encoded = _normal(BATCH, TARGET, MODEL_DIM), _normal(BATCH, SOURCE, MODEL_DIM, seed=1)
    source_padding = np.ones((BATCH, SOURCE), bool)
    source_padding[0, 4:] = False
    block = TransformerDecoderBlock(num_heads=HEADS, intermediate_dim=HIDDEN)
    block(x, encoded)
    block.set_weights(_random_weights(block))

    self_attention = keras.layers.MultiHeadAttention(HEADS, MODEL_DIM // HEADS)
    cross_attention = keras.layers.MultiHeadAttention(HEADS, MODEL_DIM // HEADS)
    norms = [keras.layers.LayerNormalization(epsilon=1e-5) for _ in range(3)]
    dense_1 = keras.layers.Dense(HIDDEN, activation="relu")
    dense_2 = keras.layers.Dense(MODEL_DIM)
    self_attention(x, x)
    cross_attention(x, encoded)
    for layer in norms + [dense_1]:
        layer.build(x.shape)
    dense_2.build((None, TARGET, HIDDEN))
    _builtin_sublayer_weights(
        block, [self_attention, norms[0], cross_attention, norms[1], dense_1, dense_2, norms[2]]
    )
    x = keras.ops.convert_to_tensor(x)  # NumPy + a torch tensor that requires grad fails
    hidden = norms[0](x + self_attention(x, x, use_causal_mask=True))
    cross_mask = np.broadcast_to(source_padding[:, None, :], (BATCH, TARGET, SOURCE))
    hidden = norms[1](hidden + cross_attention(hidden, encoded, attention_mask=cross_mask))
    expected = _builtin_feed_forward(hidden, dense_1, dense_2, norms[2])
    got = block(x, encoded, encoder_sequence_mask=source_padding)
    np.testing.assert_allclose(_to_numpy(got), _to_numpy(expected), atol=1e-5)


def test_decoder_block_is_causal_and_ignores_source_padding():
    x, encoded = _normal(BATCH, TARGET, MODEL_DIM), _normal(BATCH, SOURCE, MODEL_DIM, seed=1)
    source_padding = np.ones((BATCH, SOURCE), bool)
    source_padding[:, 4:] = False
    block = TransformerDecoderBlock(num_heads=HEADS, intermediate_dim=HIDDEN)
    reference = _to_numpy(block(x, encoded, encoder_sequence_mask=source_padding))
    for t in range(TARGET - 1):
        changed = x.copy()
        changed[:, t + 1 :] = _normal(BATCH, TARGET - t - 1, MODEL_DIM, seed=10 + t)
        output = _to_numpy(block(changed, encoded, encoder_sequence_mask=source_padding))
        # steps <= t see nothing that changed; the later ones do
        np.testing.assert_allclose(output[:, : t + 1], reference[:, : t + 1], atol=1e-5)
        assert np.abs(output[:, t + 1 :] - reference[:, t + 1 :]).max() > 1e-3
    changed_source = encoded.copy()
    changed_source[:, 4:] += 5.0
    np.testing.assert_allclose(
        _to_numpy(block(x, changed_source, encoder_sequence_mask=source_padding)),
        reference,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(num_heads=0, intermediate_dim=4),
            "`num_heads` must be a positive integer. Received: num_heads=0",
        ),
        (
            dict(num_heads=2, intermediate_dim=4, key_dim=0),
            "`key_dim` must be a positive integer. Received: key_dim=0",
        ),
        (dict(num_heads=2, intermediate_dim=-3), "`intermediate_dim` must be a positive integer"),
        (dict(num_heads=2, intermediate_dim=4, dropout=-0.5), "`dropout` must be a float"),
    ],
)
def test_block_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerEncoderBlock(**kwargs)
    with pytest.raises(ValueError, match=message):
        TransformerDecoderBlock(**kwargs)


def test_block_bad_inputs():
    with pytest.raises(ValueError, match=r"D must be divisible by num_heads=3. Received: D=8"):
        TransformerEncoderBlock(num_heads=3, intermediate_dim=4)(_normal(2, 5, 8))
    with pytest.raises(
        ValueError,
        match=r"`mask` must have shape \(2, 5\) \(batch, length\). Received: mask.shape=\(2, 4\)",
    ):
        TransformerEncoderBlock(num_heads=2, intermediate_dim=4)(
            _normal(2, 5, 8), mask=np.ones((2, 4), bool)
        )
    with pytest.raises(
        ValueError,
        match=r"`encoder_sequence` must have shape \(batch, length, "
        r"features\). Received: encoder_sequence.shape=\(2, 8\)",
    ):
        TransformerDecoderBlock(num_heads=2, intermediate_dim=4)(_normal(2, 5, 8), _normal(2, 8))


def test_encoder_block_passes_the_harness():
    padding = np.ones((BATCH, TARGET), bool)
    padding[1, 3:] = False
    run_layer_test(
        TransformerEncoderBlock,
        init_kwargs={"num_heads": HEADS, "intermediate_dim": HIDDEN, "dropout": 0.1, "seed": 4},
        input_data=_normal(BATCH, TARGET, MODEL_DIM),
        call_kwargs={"mask": padding},
        expected_output_shape=(None, TARGET, MODEL_DIM),
    )


def test_decoder_block_passes_the_harness():
    source_padding = np.ones((BATCH, SOURCE), bool)
    source_padding[0, 4:] = False
    run_layer_test(
        TransformerDecoderBlock,
        init_kwargs={"num_heads": HEADS, "intermediate_dim": HIDDEN, "key_dim": 3},
        input_data=[_normal(BATCH, TARGET, MODEL_DIM), _normal(BATCH, SOURCE, 6, seed=1)],
        input_call_style="args",
        call_kwargs={"encoder_sequence_mask": source_padding},
        expected_output_shape=(None, TARGET, MODEL_DIM),
    )
