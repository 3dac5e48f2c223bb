"""Seq2seq: teacher forcing's shifted inputs, and inference that agrees with the trained graph."""

import keras
import numpy as np
import pytest

from kerasnn.models import seq2seq

START, END = 1, 2


def test_teacher_forcing_feeds_the_shifted_reference():
    targets = np.array([[5, 6, 7, END], [8, END, 0, 0]])
    np.testing.assert_array_equal(seq2seq.shift_right(targets, START),
                                  [[START, 5, 6, 7], [START, 8, END, 0]])


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_greedy_decoding_agrees_with_the_teacher_forced_graph(attention):
    keras.utils.set_random_seed(1)
    model = seq2seq.Seq2Seq(12, embedding_dim=6, units=8, attention=attention)
    source = np.array([[4, 5, 6, 7, 0], [9, 3, 0, 0, 0]], "int32")  # padded sources
    tokens, weights = model.decode(source, start_id=START, end_id=END, max_length=5)
    # Fed its own predictions as the "reference", the training graph predicts them again.
    inputs = [source, seq2seq.shift_right(tokens, START)]
    posteriors = model.model.predict(inputs, verbose=0)
    np.testing.assert_array_equal(posteriors.argmax(-1)[:, : tokens.shape[1]][tokens != 0],
                                  tokens[tokens != 0])
    if attention is None:
        assert weights is None and model.attention_model is None
        return
    steps = (tokens != 0).sum(axis=1).max()  # decoding stops once every sequence ended
    expected = model.attention_model.predict(inputs, verbose=0)[:, :steps]
    np.testing.assert_allclose(weights[:, :steps], expected, atol=1e-5)
    np.testing.assert_allclose(weights[:, :steps].sum(-1), 1.0, atol=1e-5)
    assert np.abs(weights[1, :, 2:]).max() < 1e-6  # padded source positions get no attention


def test_beam_search_of_width_one_is_greedy_and_bad_attention_is_refused():
    keras.utils.set_random_seed(2)
    model = seq2seq.Seq2Seq(10, embedding_dim=4, units=6, attention="bahdanau")
    source = np.array([[3, 4, 5, 0]], "int32")
    greedy, _ = model.decode(source, start_id=START, end_id=END, max_length=4)
    beam, _ = model.decode(source, start_id=START, end_id=END, max_length=4, beam_width=3)
    assert greedy.shape == beam.shape == (1, 4)
    with pytest.raises(ValueError, match="`attention` must be one of None, 'bahdanau', 'luong'"):
        seq2seq.Seq2Seq(10, attention="dot")
