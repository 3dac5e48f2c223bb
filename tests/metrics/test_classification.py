"""The exact confusion matrix."""

import numpy as np
import pytest

from kerasnn import metrics


def test_confusion_matrix_of_known_predictions_is_exact():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predictions = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    expected = np.array([[2, 1, 0], [0, 2, 0], [1, 1, 2]])
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, predictions), expected)
    matrix = metrics.confusion_matrix(labels, predictions, num_classes=4)
    assert matrix.shape == (4, 4) and matrix[3].sum() == 0 and matrix.sum() == len(labels)


def test_confusion_matrix_from_posteriors_uses_argmax():
    posteriors = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    np.testing.assert_array_equal(metrics.confusion_matrix([1, 1, 0], posteriors), [[0, 1], [1, 1]])


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(
        ValueError,
        match=r"Argument `predictions` must be one prediction per label \(2 labels\)\. "
        r"Received: 1 predictions",
    ):
        metrics.confusion_matrix([0, 1], [0])
    with pytest.raises(
        ValueError,
        match=r"must be larger than every class id \(class id 2 seen\)\. Received: num_classes=2",
    ):
        metrics.confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_roc_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    positives = rng.random(200) < 0.3
    scores = np.round(rng.normal(size=200) + positives, 1)  # rounding makes ties
    assert metrics.roc_auc(positives, scores) == pytest.approx(roc_auc_score(positives, scores))
    assert metrics.roc_auc([False, True], [0.0, 1.0]) == 1.0
    assert metrics.roc_auc([False, True], [1.0, 1.0]) == 0.5


def test_roc_auc_of_known_orderings():
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert metrics.roc_auc([0, 1], [0.0, 1.0]) == 1.0
    assert metrics.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    with pytest.raises(ValueError, match="must hold both classes"):
        metrics.roc_auc([1, 1], [0.1, 0.2])
