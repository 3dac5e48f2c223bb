"""kerasnn.models.language: Bengio's NNLM, the LSTM language model and word2vec."""

import keras
import numpy as np
import pytest

from kerasnn import layers, losses, models, text


@pytest.mark.parametrize("direct", [False, True])
def test_nnlm_parameter_count_is_the_notes_formula(direct):
    vocabulary, context, m, h = 50, 4, 6, 7
    model = models.nnlm(vocabulary, context, m, h, direct_connections=direct)
    # C: |V| m; H: h (n-1) m; d: h; U: |V| h; b: |V|; W: |V| (n-1) m
    expected = vocabulary * m + h * context * m + h + vocabulary * h + vocabulary
    assert model.count_params() == expected + (vocabulary * context * m if direct else 0)


def test_nnlm_computes_b_plus_u_tanh_d_plus_hx():
    model = models.nnlm(11, 3, 4, 5, direct_connections=True)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    context = np.array([[1, 4, 7], [10, 0, 2]])
    table = model.get_layer("embedding").get_weights()[0]
    hidden_kernel, d = model.get_layer("hidden").get_weights()
    u, b = model.get_layer("output").get_weights()
    (w,) = model.get_layer("direct").get_weights()
    x = table[context].reshape(2, -1)  # the concatenation of the context vectors C(w)
    expected = b + np.tanh(d + x @ hidden_kernel) @ u + x @ w
    np.testing.assert_allclose(model(context), expected, rtol=1e-5, atol=1e-5)


def test_nnlm_learns_a_deterministic_successor_and_round_trips(tmp_path):
    sentences = [[3, 4, 5, 2], [4, 5, 3, 2]] * 50
    x, y = text.context_windows(sentences, 2)
    model = models.nnlm(6, 2, 4, 8)
    model.compile(keras.optimizers.Adam(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=30, batch_size=64, verbose=0)
    assert np.argmax(model.predict(np.array([[3, 4]]), verbose=0)) == 5
    model.save(tmp_path / "nnlm.keras")
    loaded = keras.saving.load_model(tmp_path / "nnlm.keras")
    np.testing.assert_allclose(loaded.predict(x[:8], verbose=0), model.predict(x[:8], verbose=0))


def test_rnn_language_model_uses_our_lstm_cell_and_masks_padding():
    model = models.rnn_language_model(9, embedding_dim=4, units=6)
    assert isinstance(model.get_layer("lstm").cell, layers.LSTMCell)
    inputs, targets = text.shifted_sequences([[3, 4, 2], [5, 2]])
    assert model(inputs).shape == (2, 3, 9)
    # Padding after the end changes nothing before it.
    longer = np.concatenate([inputs, np.zeros((2, 2), "int32")], axis=1)
    np.testing.assert_allclose(model(longer)[:, :3], model(inputs), rtol=1e-5, atol=1e-6)


def test_word2vec_variants():
    counts = [0, 0, 0, 9, 5, 3, 2, 1]
    centre = np.array([3, 5, 7])
    skipgram = models.word2vec(8, 4, output="softmax")
    assert skipgram(centre).shape == (3, 8)
    hierarchical = models.word2vec(8, 4, output="hierarchical", word_counts=counts)
    target = np.array([4, 3, 6])
    log_p = keras.ops.convert_to_numpy(hierarchical([centre, target]))
    vectors = models.word_vectors(hierarchical)[centre]
    full = keras.ops.convert_to_numpy(hierarchical.get_layer("hierarchical_softmax")(vectors))
    np.testing.assert_allclose(log_p, np.log(full[np.arange(3), target]), rtol=1e-5)
    loss = float(losses.NegativeLogLikelihood()(np.zeros(3), log_p))
    assert loss == pytest.approx(-log_p.mean(), rel=1e-6)
    negative = models.word2vec(8, 4, output="negative", num_negatives=2)
    candidates = np.array([[4, 1, 2], [3, 3, 3], [6, 7, 0]])
    output_vectors = negative.get_layer("output").get_weights()[0]
    expected = np.einsum("bkd,bd->bk", output_vectors[candidates],
                         models.word_vectors(negative)[centre])
    np.testing.assert_allclose(negative([centre, candidates]), expected, rtol=1e-5, atol=1e-6)
    cbow = models.word2vec(8, 4, architecture="cbow", window=2)
    context = np.array([[0, 0, 4, 5], [3, 4, 5, 6]])
    table = models.word_vectors(cbow)
    mean = np.stack([table[[4, 5]].mean(0), table[[3, 4, 5, 6]].mean(0)])  # padding ignored
    output = cbow.get_layer("output").get_weights()[0]
    np.testing.assert_allclose(cbow(context), mean @ output, rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"Argument `context_size` must be a positive integer"):
        models.nnlm(10, 0)
    with pytest.raises(ValueError, match="Argument `architecture` must be one of"):
        models.word2vec(10, architecture="glove")
    with pytest.raises(ValueError, match="Argument `word_counts` must be one count per word"):
        models.word2vec(10, output="hierarchical")
    with pytest.raises(ValueError, match="Argument `window` must be a positive integer"):
        models.word2vec(10, architecture="cbow", window=0)
