"""kerasnn.metrics.text: perplexity, neighbour precision, 3CosAdd analogies, Spearman."""

import numpy as np
import pytest

from kerasnn import metrics
from kerasnn.metrics import text


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    log_probabilities = np.log(np.full((3, 5), 1 / 172))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    log_probabilities[mask == 0] = -np.inf  # padding may hold anything
    assert metrics.perplexity(log_probabilities, mask) == pytest.approx(172.0)


def test_perplexity_masks_padding_and_is_infinite_on_a_zero_probability():
    with np.errstate(divide="ignore"):
        logs = np.log([[0.5, 0.25, 0.9], [0.5, 0.0, 1.0]])
    assert text.perplexity(logs, [[1, 1, 0], [0, 0, 0]]) == pytest.approx((1 / (0.5 * 0.25)) ** 0.5)
    assert text.perplexity(logs) == np.inf
    with pytest.raises(ValueError, match="Argument `mask` must have the shape"):
        text.perplexity(logs, [1, 1])
    with pytest.raises(ValueError, match="at least one token"):
        text.perplexity(logs, np.zeros((2, 3)))


def test_sequence_log_probabilities_equal_log_softmax():
    logits = np.array([[[1.0, 2.0, 3.0], [0.0, 0.0, 1000.0]]])
    expected = [np.log(np.exp(2.0) / np.exp([1.0, 2.0, 3.0]).sum()), 0.0]
    np.testing.assert_allclose(text.sequence_log_probabilities(logits, [[1, 2]])[0], expected)


def test_neighbor_precision_on_hand_made_embeddings():
    # two tight clusters (labels 0 and 1) and one word of cluster 0 placed inside cluster 1
    embeddings = np.array([[1, 0.0], [1, 0.1], [1, -0.1], [0, 1.0], [0.1, 1], [-0.1, 1], [0, 0.9]])
    labels = np.array([0, 0, 0, 1, 1, 1, 0])
    # k = 1 (cosine ignores length): word 6 is parallel to word 3, so both pick each other and
    # miss; the five others find a same-label neighbour -> 5/7
    assert metrics.neighbor_precision_at_k(embeddings, labels, k=1) == pytest.approx(5 / 7)
    np.testing.assert_array_equal(text.nearest_neighbors(embeddings, [3, 6], 1), [[6], [3]])
    # k = 2: 0,1,2 -> 1; 3 -> {6, 4 or 5}: 1/2; 4, 5 -> {3, 6}: 1/2; 6 -> {3, 4 or 5}: 0
    assert metrics.neighbor_precision_at_k(embeddings, labels, k=2) == pytest.approx(4.5 / 7)
    assert metrics.neighbor_precision_at_k(embeddings, labels, k=1, words=[0, 1, 2]) == 1.0
    with pytest.raises(ValueError, match="Argument `k` must be in"):
        metrics.neighbor_precision_at_k(embeddings, labels, k=7)


def test_analogy_accuracy_3cosadd_on_hand_made_embeddings():
    # words: cat, cats, dog, dogs, car, cars with a shared "plural" direction (axis 2)
    embeddings = np.array([
        [1, 0, 0], [1, 0, 1], [0.8, 0.3, 0], [0.8, 0.3, 1], [0, 1, 0], [0, 1, 1.0]])
    questions = [[0, 1, 2, 3], [2, 3, 4, 5], [0, 1, 4, 5], [1, 0, 3, 2]]
    assert metrics.analogy_accuracy(embeddings, questions) == 1.0
    # a wrong answer: "cat : cats :: dog : car" is scored 0
    assert metrics.analogy_accuracy(embeddings, [[0, 1, 2, 4], [0, 1, 2, 3]]) == 0.5
    with pytest.raises(ValueError, match="Argument `questions` must be a non-empty"):
        metrics.analogy_accuracy(embeddings, [[0, 1, 2]])


def test_spearman_correlation_with_ties():
    assert metrics.spearman_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.spearman_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    x, y = [1, 2, 2, 3, 5], [2, 1, 4, 3, 5]
    # mean ranks for the tie: x ranks 1, 2.5, 2.5, 4, 5 -> Pearson of the ranks by hand
    rx, ry = np.array([1, 2.5, 2.5, 4, 5]), np.array([2, 1, 4, 3, 5.0])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    expected = (rx @ ry) / np.sqrt((rx @ rx) * (ry @ ry))
    assert metrics.spearman_correlation(x, y) == pytest.approx(expected)
    with pytest.raises(ValueError, match="same length"):
        metrics.spearman_correlation([1, 2], [1, 2, 3])
