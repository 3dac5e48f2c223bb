"""Attention layers: parity with keras.layers.MultiHeadAttention, NumPy references, the harness."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import (
    AdditiveAttention,
    BahdanauAttention,
    LuongAttention,
    MultiHeadAttention,
    MultiplicativeAttention,
    ScaledDotProductAttention,
)

# Tensors of any backend to NumPy (np.asarray fails on torch tensors that require grad).
_to_numpy = keras.ops.convert_to_numpy

RNG = np.random.default_rng(0)
BATCH, TARGET, SOURCE = 2, 4, 5


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _source_padding():
    mask = np.ones((BATCH, SOURCE), dtype=bool)
    mask[0, 3:] = False
    mask[1, 1:] = False
    return mask


def _numpy_masked_softmax(scores, mask=None):
    """Softmax over the last axis; masked entries get weight 0 (a fully masked row is all 0)."""
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    mask = np.broadcast_to(mask, scores.shape)
    shifted = np.where(mask, scores, -np.inf)
    shifted = shifted - np.max(np.where(mask, scores, -1e30), axis=-1, keepdims=True)
    exp = np.where(mask, np.exp(shifted), 0.0)
    total = exp.sum(axis=-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


# ----------------------------------------------------------------------------------------------
# ScaledDotProductAttention
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_causal_mask", [False, True], ids=["plain", "causal"])
def test_scaled_dot_product_attention_matches_numpy(use_causal_mask):
    query, key, value = (
        _normal(BATCH, TARGET, 8),
        _normal(BATCH, SOURCE, 8, seed=1),
        _normal(BATCH, SOURCE, 3, seed=2),
    )
    attention_mask = np.random.default_rng(3).random((BATCH, TARGET, SOURCE)) > 0.3
    attention_mask[0, 2] = False  # a query row with nothing to attend to
    scores = query @ key.transpose(0, 2, 1) / np.sqrt(8)
    mask = attention_mask & (np.tril(np.ones((TARGET, SOURCE), bool)) if use_causal_mask else True)
    expected_weights = _numpy_masked_softmax(scores, mask)
    expected = expected_weights @ value

    output, weights = ScaledDotProductAttention()(
        query,
        key,
        value,
        attention_mask=attention_mask,
        use_causal_mask=use_causal_mask,
        return_attention_weights=True,
    )
    np.testing.assert_allclose(_to_numpy(weights), expected_weights, atol=1e-6)
    np.testing.assert_allclose(_to_numpy(output), expected, atol=1e-5)
    np.testing.assert_array_equal(_to_numpy(weights)[0, 2], 0.0)


def test_scaled_dot_product_attention_hand_computed():
    # One query, two keys: scores [0, 2] / sqrt(2), weights softmax of that.
    query = np.array([[[1.0, 1.0]]], "float32")
    key = np.array([[[1.0, -1.0], [1.0, 1.0]]], "float32")
    value = np.array([[[10.0], [20.0]]], "float32")
    second = 1.0 / (1.0 + np.exp(-np.sqrt(2.0)))
    output = ScaledDotProductAttention()(query, key, value)
    np.testing.assert_allclose(
        _to_numpy(output), [[[10.0 * (1 - second) + 20.0 * second]]], rtol=1e-6
    )


def test_scaled_dot_product_attention_bad_inputs():
    layer = ScaledDotProductAttention()
    with pytest.raises(
        ValueError,
        match=r"`key` and `value` must have the same length .*"
        r"key.shape=\(2, 5, 8\), value.shape=\(2, 6, 3\)",
    ):
        layer(_normal(2, 4, 8), _normal(2, 5, 8), _normal(2, 6, 3))
    with pytest.raises(
        ValueError,
        match=r"`attention_mask` must be broadcastable to shape "
        r"\(2, 4, 5\).*Received: attention_mask.shape=\(2, 5, 4\)",
    ):
        layer(_normal(2, 4, 8), _normal(2, 5, 8), attention_mask=np.ones((2, 5, 4), bool))
    with pytest.raises(ValueError, match="same last dimension d_k"):
        layer(_normal(2, 4, 8), _normal(2, 5, 7))
    with pytest.raises(
        ValueError, match=r"`dropout` must be a float in \[0, 1\). Received: dropout=2"
    ):
        ScaledDotProductAttention(dropout=2)


def test_scaled_dot_product_attention_passes_the_harness():
    attention_mask = np.random.default_rng(4).random((BATCH, TARGET, SOURCE)) > 0.2
    attention_mask[:, :, 0] = True
    run_layer_test(
        ScaledDotProductAttention,
        init_kwargs={"dropout": 0.1, "seed": 2},
        input_data=[
            _normal(BATCH, TARGET, 8),
            _normal(BATCH, SOURCE, 8, seed=1),
            _normal(BATCH, SOURCE, 3, seed=2),
        ],
        input_call_style="args",
        call_kwargs={"attention_mask": attention_mask, "use_causal_mask": True},
        expected_output_shape=(None, TARGET, 3),
    )


# ----------------------------------------------------------------------------------------------
# MultiHeadAttention
# ----------------------------------------------------------------------------------------------


def _paired_mha(query, value, key=None, **kwargs):
    """Our MHA with the weights of a built-in one (random biases so that order mistakes show)."""
    builtin = keras.layers.MultiHeadAttention(**kwargs)
    ours = MultiHeadAttention(**kwargs)
    # Built through the scores path: the fused one fails on JAX when value_dim != key_dim.
    builtin(query, value, key, return_attention_scores=True)
    ours(query, value, key)
    rng = np.random.default_rng(5)
    builtin.set_weights([rng.normal(scale=0.5, size=w.shape) for w in builtin.get_weights()])
    ours.set_weights(builtin.get_weights())
    return builtin, ours


MHA_CASES = {
    "self": dict(source=TARGET, features=6, use_key=False, kwargs=dict(num_heads=2, key_dim=3)),
    "cross": dict(
        source=SOURCE,
        features=7,
        use_key=True,
        kwargs=dict(num_heads=3, key_dim=2, value_dim=4, output_shape=5),
    ),
    "no_bias": dict(
        source=SOURCE,
        features=7,
        use_key=False,
        kwargs=dict(num_heads=2, key_dim=4, use_bias=False),
    ),
}
MASK_CASES = ["none", "padding", "causal", "padding_and_causal"]
# Keras 3.15 bug: on JAX the built-in's fused path (no scores, no dropout) calls
# jax.nn.dot_product_attention, which needs value heads of key_dim; with value_dim != key_dim it
# raises "value shape should be [2, 5, 3, 2]: but got (2, 5, 3, 4)" (then a reshape error).
_KERAS_JAX_FUSED_VALUE_DIM_BUG = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="Keras 3.15 bug: on JAX the built-in MultiHeadAttention's fused path (called without "
    "scores) fails when value_dim != key_dim: jax.nn.dot_product_attention needs value heads "
    "of key_dim ('value shape should be [2, 5, 3, 2]: but got (2, 5, 3, 4)')",
)


def _mha_parity_cases():
    """(case, mask case, path): the built-in computes with explicit scores when asked for them
    and through its fused kernel (``ops.dot_product_attention``) otherwise."""
    for case in sorted(MHA_CASES):
        for mask_case in MASK_CASES:
            for path in ("scores", "fused"):
                broken = case == "cross" and path == "fused"  # value_dim=4, key_dim=2
                yield pytest.param(
                    case,
                    mask_case,
                    path,
                    id=f"{case}-{mask_case}-{path}",
                    marks=_KERAS_JAX_FUSED_VALUE_DIM_BUG if broken else (),
                )


@pytest.mark.parametrize("case, mask_case, path", list(_mha_parity_cases()))
def test_multi_head_attention_matches_keras(case, mask_case, path):
    spec = MHA_CASES[case]
    query = _normal(BATCH, TARGET, 6)
    value = (
        query
        if spec["source"] == TARGET and spec["features"] == 6
        else _normal(BATCH, spec["source"], spec["features"], seed=1)
    )
    key = _normal(BATCH, spec["source"], 5, seed=2) if spec["use_key"] else None
    builtin, ours = _paired_mha(query, value, key, **spec["kwargs"])
    call_kwargs = {}
    if "padding" in mask_case:
        padding = np.ones((BATCH, spec["source"]), bool)
        padding[0, 2:] = False
        call_kwargs["attention_mask"] = np.broadcast_to(
            padding[:, None, :], (BATCH, TARGET, spec["source"])
        )
    if "causal" in mask_case:
        call_kwargs["use_causal_mask"] = True
    if path == "scores":
        expected, expected_scores = builtin(
            query, value, key, return_attention_scores=True, **call_kwargs
        )
        got, scores = ours(query, value, key, return_attention_scores=True, **call_kwargs)
        np.testing.assert_allclose(_to_numpy(scores), _to_numpy(expected_scores), atol=1e-6)
        np.testing.assert_allclose(_to_numpy(got), _to_numpy(expected), atol=1e-5)
    else:
        # Without scores the built-in takes its fused-kernel path: still equal.
        np.testing.assert_allclose(
            _to_numpy(ours(query, value, key, **call_kwargs)),
            _to_numpy(builtin(query, value, key, **call_kwargs)),
            atol=1e-5,
        )


def test_multi_head_attention_keras_masks_match_keras():
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    embedding = keras.layers.Embedding(10, 6, mask_zero=True)
    builtin, ours = _paired_mha(embedding(tokens), embedding(tokens), num_heads=2, key_dim=3)
    # The built-in strips the Keras mask from its inputs, so each call gets fresh embeddings.
    expected, expected_scores = builtin(
        embedding(tokens), embedding(tokens), return_attention_scores=True
    )
    got, scores = ours(embedding(tokens), embedding(tokens), return_attention_scores=True)
    np.testing.assert_allclose(_to_numpy(scores), _to_numpy(expected_scores), atol=1e-6)
    np.testing.assert_allclose(_to_numpy(got), _to_numpy(expected), atol=1e-5)
    assert np.all(_to_numpy(scores)[1, :, :, 2:] == 0.0)  # padded keys get no weight
    # The query's padding mask propagates to the output.
    np.testing.assert_array_equal(_to_numpy(got._keras_mask), tokens != 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(num_heads=0, key_dim=4),
            "`num_heads` must be a positive integer \\(an invalid value for argument "
            "`num_heads`\\). Received: num_heads=0",
        ),
        (
            dict(num_heads=2, key_dim=-1),
            "`key_dim` must be a positive integer .*Received: key_dim=-1",
        ),
        (
            dict(num_heads=2, key_dim=2.5),
            "`key_dim` must be a positive integer .*Received: key_dim=2.5",
        ),
        (
            dict(num_heads=2, key_dim=2, value_dim=0),
            "`value_dim` must be a positive integer or None .*Received: value_dim=0",
        ),
        (dict(num_heads=2, key_dim=2, dropout=1.0), "`dropout` must be a float"),
        (
            dict(num_heads=2, key_dim=2, output_shape=8.0),
            "`output_shape` must be a positive int or a tuple of positive ints "
            "\\(Invalid `output_shape`\\). Received: output_shape=8.0",
        ),
        (
            dict(num_heads=2, key_dim=2, sliding_window=0),
            "`sliding_window` must be None or a positive integer. Received: sliding_window=0",
        ),
        (
            dict(num_heads=2, key_dim=2, attention_axes="1"),
            "`attention_axes` must be an int, or a list or tuple of ints",
        ),
    ],
)
def test_multi_head_attention_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**kwargs)


def test_multi_head_attention_bad_inputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    with pytest.raises(
        ValueError,
        match=r"All dimensions of `value` and `key`, except the last one, must be equal. "
        r"Received: value.shape=\(2, 5, 6\), key.shape=\(2, 6, 6\)",
    ):
        layer(_normal(2, 4, 6), _normal(2, 5, 6), _normal(2, 6, 6))
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    layer(_normal(2, 4, 6), _normal(2, 5, 6))
    with pytest.raises(
        ValueError,
        match=r"`attention_mask` must be broadcastable to shape "
        r"\(2, 2, 4, 5\) .*Received: attention_mask.shape=\(2, 1, 4, 4\)",
    ):
        layer(_normal(2, 4, 6), _normal(2, 5, 6), attention_mask=np.ones((2, 4, 4), bool))
    with pytest.raises(
        ValueError,
        match=r"`value_mask` must have shape \(2, 5\) .*"
        r"Received: value_mask.shape=\(2, 4\)",
    ):
        layer(_normal(2, 4, 6), _normal(2, 5, 6), value_mask=np.ones((2, 4), bool))
    with pytest.raises(
        ValueError, match=r"`query` must have rank >= 3 .*Received: query.shape=\(2, 6\)"
    ):
        layer(_normal(2, 6), _normal(2, 5, 6))
    with pytest.raises(
        ValueError, match=r"`attention_axes` must be distinct axes .*\(1 to 2 for rank 4\)"
    ):
        MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=3)(
            _normal(2, 4, 3, 6), _normal(2, 4, 3, 6)
        )


def test_multi_head_attention_symbolic_scores_shape():
    query, value = keras.Input((TARGET, 6)), keras.Input((SOURCE, 7))
    output, scores = MultiHeadAttention(num_heads=3, key_dim=2)(
        query, value, return_attention_scores=True
    )
    assert output.shape == (None, TARGET, 6)
    assert scores.shape == (None, 3, TARGET, SOURCE)


def _numpy_multi_head_attention(query, value, weights, attention_axes, mask=None, gate=False):
    """The course's formula in NumPy for any rank: heads over the flattened attention axes."""
    query_kernel, query_bias, key_kernel, key_bias = weights[:4]
    rest = weights[4:]
    gate_kernel, gate_bias = (rest[0], rest[1]) if gate else (None, None)
    value_kernel, value_bias, output_kernel, output_bias = rest[2:] if gate else rest
    rank = query.ndim
    batch = [a for a in range(rank - 1) if a not in attention_axes]
    order = batch + list(attention_axes) + [rank - 1]

    def heads(x, kernel, bias):  # -> (batch..., N, positions, H)
        x = np.transpose(x, order)
        lead = x.shape[: len(batch)]
        x = x.reshape(lead + (-1, x.shape[-1]))
        projected = np.einsum("...pf,fnh->...nph", x, kernel) + bias[:, None, :]
        return projected

    q, k, v = (
        heads(query, query_kernel, query_bias),
        heads(value, key_kernel, key_bias),
        heads(value, value_kernel, value_bias),
    )
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(query_kernel.shape[-1])
    if mask is not None:
        mask = mask.reshape(scores.shape)
    attention = _numpy_masked_softmax(scores, mask)
    out = attention @ v  # (batch..., N, P, V)
    if gate:
        out = out / (1 + np.exp(-heads(query, gate_kernel, gate_bias)))
    out = np.einsum("...nph,nho->...po", out, output_kernel) + output_bias
    shape = tuple(query.shape[a] for a in order[:-1]) + (out.shape[-1],)
    return np.transpose(out.reshape(shape), np.argsort(order)), attention


@pytest.mark.parametrize(
    "query_shape, value_shape, kwargs",
    [
        ((2, 3, 4, 6), (2, 3, 5, 6), dict(attention_axes=2)),
        ((2, 3, 4, 6), (2, 3, 5, 6), dict(attention_axes=-2, use_gate=True)),
        ((2, 3, 4, 6), (2, 2, 5, 6), dict(attention_axes=(1, 2), use_gate=True)),
        ((2, 2, 3, 4, 6), (2, 2, 2, 3, 6), dict(attention_axes=(2, 3), output_shape=(2, 3))),
    ],
)
def test_multi_head_attention_high_rank_gate_and_output_shape(query_shape, value_shape, kwargs):
    query, value = _normal(*query_shape), _normal(*value_shape, seed=1)
    axes = kwargs["attention_axes"]
    axes = (axes,) if isinstance(axes, int) else axes
    axes = tuple(a % len(query_shape) for a in axes)
    builtin, ours = _paired_mha(query, value, num_heads=2, key_dim=3, value_dim=4, **kwargs)
    rng = np.random.default_rng(3)
    scores_shape = ours(query, value, return_attention_scores=True)[1].shape
    mask = rng.uniform(size=scores_shape) > 0.3  # per head and position: the full scores shape
    got, scores = ours(query, value, attention_mask=mask, return_attention_scores=True)
    expected, expected_scores = builtin(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    np.testing.assert_allclose(_to_numpy(got), _to_numpy(expected), atol=1e-5)
    np.testing.assert_allclose(_to_numpy(scores), _to_numpy(expected_scores), atol=1e-6)
    output_shape = kwargs.get("output_shape", (6,))
    assert got.shape == query_shape[:-1] + output_shape
    # NumPy: heads over the flattened attention axes, joint softmax, optional sigmoid gate.
    weights = [_to_numpy(w) for w in ours.get_weights()]
    if len(output_shape) > 1:
        weights[-2] = weights[-2].reshape(2, 4, -1)
        weights[-1] = weights[-1].reshape(-1)
    flat_mask = mask
    reference, reference_scores = _numpy_multi_head_attention(
        query, value, weights, axes, flat_mask, gate=kwargs.get("use_gate", False)
    )
    np.testing.assert_allclose(_to_numpy(got).reshape(reference.shape), reference, atol=1e-5)
    np.testing.assert_allclose(
        _to_numpy(scores).reshape(reference_scores.shape), reference_scores, atol=1e-6
    )


def test_multi_head_attention_sliding_window_and_per_head_masks():
    x = _normal(BATCH, 6, 8)
    layer = MultiHeadAttention(num_heads=2, key_dim=4, sliding_window=3)
    _, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    rows, columns = np.indices((6, 6))
    band = (columns <= rows) & (rows - columns < 3)
    assert np.all(_to_numpy(scores)[..., ~band] == 0) and np.all(_to_numpy(scores)[..., band] > 0)
    _, scores = layer(x, x, return_attention_scores=True)
    assert np.all((_to_numpy(scores) > 0) == (np.abs(rows - columns) < 3))
    # A per-head mask (batch, heads, T, S) reaches each head separately.
    per_head = np.ones((BATCH, 2, 6, 6), bool)
    per_head[:, 1] = np.eye(6, dtype=bool)
    _, scores = MultiHeadAttention(num_heads=2, key_dim=4)(
        x, x, attention_mask=per_head, return_attention_scores=True
    )
    np.testing.assert_allclose(_to_numpy(scores)[:, 1], np.broadcast_to(np.eye(6), (BATCH, 6, 6)))
    assert np.all(_to_numpy(scores)[:, 0] > 0)
    config = layer.get_config()
    assert MultiHeadAttention.from_config(config).get_config() == config


def test_multi_head_attention_kernels_get_their_own_draws_and_constraints():
    layer = MultiHeadAttention(
        num_heads=2,
        key_dim=4,
        use_gate=True,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        kernel_constraint="non_neg",
        bias_constraint="non_neg",
    )
    layer.build((2, 3, 4), (2, 3, 4))
    kernels = [layer.query_kernel, layer.key_kernel, layer.gate_kernel, layer.value_kernel]
    values = [_to_numpy(k) for k in kernels]
    assert all(not np.allclose(values[0], v) for v in values[1:])
    for weight in layer.trainable_weights:
        assert isinstance(weight.constraint, keras.constraints.NonNeg)


def test_multi_head_attention_passes_the_harness():
    value_mask = _source_padding()
    run_layer_test(
        MultiHeadAttention,
        init_kwargs={"num_heads": 2, "key_dim": 3, "value_dim": 4, "dropout": 0.1, "seed": 1},
        input_data=[_normal(BATCH, TARGET, 6), _normal(BATCH, SOURCE, 7, seed=1)],
        input_call_style="args",
        call_kwargs={"value_mask": value_mask, "use_causal_mask": True},
        expected_output_shape=(None, TARGET, 6),
    )


# ----------------------------------------------------------------------------------------------
# Bahdanau (additive) and Luong (multiplicative) attention
# ----------------------------------------------------------------------------------------------


def _numpy_bahdanau(query, value, w1, w2, v, mask):
    # e[b, t, s] = v^T tanh(W1 h_t + W2 hbar_s)
    hidden = np.tanh((query @ w1)[:, :, None, :] + (value @ w2)[:, None, :, :])
    scores = hidden @ v
    weights = _numpy_masked_softmax(scores, mask[:, None, :])
    return weights @ value, weights


def _numpy_luong(query, value, w, mask):
    # e[b, t, s] = h_t^T W hbar_s
    scores = np.einsum("btq,qv,bsv->bts", query, w, value)
    weights = _numpy_masked_softmax(scores, mask[:, None, :])
    return weights @ value, weights


@pytest.mark.parametrize("single_step", [False, True], ids=["all_steps", "one_step"])
@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_seq2seq_attention_matches_numpy(kind, single_step):
    query = _normal(BATCH, 1 if single_step else TARGET, 6)
    value = _normal(BATCH, SOURCE, 7, seed=1)
    mask = _source_padding()
    layer = BahdanauAttention(units=5) if kind == "bahdanau" else LuongAttention()
    call_query = query[:, 0] if single_step else query
    layer(call_query, value)
    weights_list = [
        np.random.default_rng(6).normal(size=w.shape).astype("float32") for w in layer.get_weights()
    ]
    layer.set_weights(weights_list)
    if kind == "bahdanau":
        expected_context, expected_weights = _numpy_bahdanau(query, value, *weights_list, mask)
    else:
        expected_context, expected_weights = _numpy_luong(query, value, *weights_list, mask)
    if single_step:
        expected_context, expected_weights = expected_context[:, 0], expected_weights[:, 0]

    context, weights = layer(call_query, value, value_mask=mask, return_attention_weights=True)
    np.testing.assert_allclose(_to_numpy(weights), expected_weights, atol=1e-6)
    np.testing.assert_allclose(_to_numpy(context), expected_context, atol=1e-5)
    np.testing.assert_allclose(_to_numpy(weights).sum(-1), 1.0, atol=1e-6)
    # batch item 1 has one real source position: all the weight goes there
    np.testing.assert_array_equal(_to_numpy(weights).reshape(BATCH, -1, SOURCE)[1, :, 0], 1.0)


def test_course_names_are_the_seq2seq_layers_not_keras_builtins():
    assert AdditiveAttention is BahdanauAttention
    assert MultiplicativeAttention is LuongAttention
    assert not issubclass(AdditiveAttention, keras.layers.AdditiveAttention)
    # Keras' AdditiveAttention has no projections; ours has W1, W2 and v.
    layer = AdditiveAttention(units=4)
    layer(_normal(BATCH, 6), _normal(BATCH, SOURCE, 7))
    assert [tuple(w.shape) for w in layer.weights] == [(6, 4), (7, 4), (4,)]


def test_seq2seq_attention_takes_the_keras_mask_of_the_source():
    tokens = np.array([[1, 2, 3, 0, 0], [4, 0, 0, 0, 0]])
    encoder_states = keras.layers.Embedding(10, 7, mask_zero=True)(tokens)
    _, weights = LuongAttention()(_normal(BATCH, 6), encoder_states, return_attention_weights=True)
    np.testing.assert_array_equal(_to_numpy(weights) > 0, tokens != 0)


def test_seq2seq_attention_bad_inputs():
    with pytest.raises(ValueError, match="`units` must be a positive integer. Received: units=0"):
        BahdanauAttention(units=0)
    with pytest.raises(
        ValueError,
        match=r"`value_mask` must have shape \(2, 5\) .*"
        r"Received: value_mask.shape=\(2, 4\)",
    ):
        LuongAttention()(_normal(2, 6), _normal(2, 5, 7), value_mask=np.ones((2, 4), bool))
    with pytest.raises(
        ValueError,
        match=r"`value` \(encoder states\) must have shape \(batch, S, "
        r"features\). Received: value.shape=\(2, 7\)",
    ):
        BahdanauAttention(units=3)(_normal(2, 6), _normal(2, 7))


@pytest.mark.parametrize(
    "layer_cls, init_kwargs",
    [(BahdanauAttention, {"units": 5}), (LuongAttention, {})],
    ids=["bahdanau", "luong"],
)
def test_seq2seq_attention_passes_the_harness(layer_cls, init_kwargs):
    run_layer_test(
        layer_cls,
        init_kwargs=init_kwargs,
        input_data=[_normal(BATCH, TARGET, 6), _normal(BATCH, SOURCE, 7, seed=1)],
        input_call_style="args",
        call_kwargs={"value_mask": _source_padding()},
        expected_output_shape=(None, TARGET, 7),
    )
