"""kerasnn.text.pairs: skip-gram, CBOW and negative-sampling examples in tf.data."""

import numpy as np
import pytest

from kerasnn.text import cbow_examples, negative_samples, skipgram_pairs, unigram_counts

SENTENCE = [10, 11, 12, 13]  # "the cat eats apples"


def test_skipgram_pairs_of_a_hand_made_sentence():
    pairs = [tuple(map(int, pair)) for pair in skipgram_pairs([SENTENCE, [20]], window=2)]
    assert pairs == [
        (10, 11), (10, 12),
        (11, 10), (11, 12), (11, 13),
        (12, 10), (12, 11), (12, 13),
        (13, 11), (13, 12),
    ]  # the one-word sentence gives no pair


def test_cbow_examples_of_a_hand_made_sentence():
    examples = [(list(map(int, context)), int(centre))
                for context, centre in cbow_examples([SENTENCE], window=2, pad_id=0)]
    assert examples == [
        ([0, 0, 11, 12], 10),
        ([0, 10, 12, 13], 11),
        ([10, 11, 13, 0], 12),
        ([11, 12, 0, 0], 13),
    ]


def test_negative_samples_follow_the_three_quarter_power_of_the_counts():
    counts = unigram_counts([[3, 3, 3, 3, 4, 2]], 6)
    np.testing.assert_array_equal(counts, [0, 0, 1, 4, 1, 0])
    batches = skipgram_pairs([SENTENCE] * 200, window=1).batch(64)
    drawn, first = [], None
    for (centres, candidates), labels in negative_samples(batches, counts, 3, seed=1):
        assert candidates.shape[1] == 4 and labels.shape == candidates.shape
        np.testing.assert_array_equal(labels[:, 0], 1.0)
        np.testing.assert_array_equal(labels[:, 1:], 0.0)
        first = first if first is not None else (centres.numpy(), candidates.numpy())
        drawn.append(candidates[:, 1:].numpy().ravel())
    drawn = np.concatenate(drawn)
    weights = counts**0.75 / np.sum(counts**0.75)
    frequencies = np.bincount(drawn, minlength=6) / len(drawn)
    np.testing.assert_allclose(frequencies, weights, atol=0.02)
    assert first[1][0, 0] == 11  # the true context comes first


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match=r"Argument `window` must be a positive integer\. "
                                         r"Received: window=0"):
        skipgram_pairs([SENTENCE], window=0)
    with pytest.raises(ValueError, match="Argument `window`"):
        cbow_examples([SENTENCE], window=-1)
    with pytest.raises(ValueError, match="at least one sentence"):
        skipgram_pairs([], window=2)
    with pytest.raises(ValueError, match="Argument `num_negatives`"):
        negative_samples(skipgram_pairs([SENTENCE], 1).batch(2), [1, 1], 0)
