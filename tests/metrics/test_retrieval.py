"""Identification, verification and ROC AUC against hand computations and scikit-learn."""

import numpy as np
import pytest

from kerasnn import metrics

# Identity 0's templates at (0, 0) and (0, 2); identity 7's at (3, 0) and (9, 0).
TEMPLATES = np.array([[0.0, 0.0], [0.0, 2.0], [3.0, 0.0], [9.0, 0.0]])
TEMPLATE_LABELS = np.array([0, 0, 7, 7])


def test_identification_by_mean_and_by_nearest_template_by_hand():
    query = np.array([[2.0, 0.0]])
    # Mean distances: identity 0 (2 + sqrt(8)) / 2 = 2.414, identity 7 (1 + 7) / 2 = 4.
    distances, identities = metrics.identity_distances(query, TEMPLATES, TEMPLATE_LABELS)
    np.testing.assert_allclose(distances, [[(2 + np.sqrt(8)) / 2, 4.0]])
    np.testing.assert_array_equal(identities, [0, 7])
    predicted, distance = metrics.identify(query, TEMPLATES, TEMPLATE_LABELS)
    assert predicted.tolist() == [0] and distance[0] == pytest.approx(2.4142, abs=1e-4)
    # The nearest single template is (3, 0), of identity 7, at distance 1.
    predicted, distance = metrics.identify(query, TEMPLATES, TEMPLATE_LABELS, rule="nearest")
    assert predicted.tolist() == [7] and distance[0] == pytest.approx(1.0)


def test_identification_is_rejected_unless_below_gamma():
    queries = np.array([[2.0, 0.0], [0.0, 1.0]])  # mean distances 2.414 and 1 to identity 0
    predicted, _ = metrics.identify(queries, TEMPLATES, TEMPLATE_LABELS, threshold=2.0)
    assert predicted.tolist() == [metrics.REJECTED, 0]
    predicted, _ = metrics.identify(queries, TEMPLATES, TEMPLATE_LABELS, threshold=2.5)
    assert predicted.tolist() == [0, 0]


def test_images_are_compared_flattened():
    images = TEMPLATES.reshape(4, 1, 2, 1)
    np.testing.assert_allclose(metrics.distance_matrix(images[:1], images),
                               [[0.0, 2.0, 3.0, 9.0]])


def test_verification_claims_and_threshold_by_hand():
    distances, genuine = metrics.verification_claims(
        np.array([[0.0, 1.0]]), [7], TEMPLATES, TEMPLATE_LABELS)
    np.testing.assert_allclose(distances, [1.0, (np.sqrt(10) + np.sqrt(82)) / 2])
    np.testing.assert_array_equal(genuine, [False, True])
    # Genuine claims at 0.1, 0.2, 0.5, impostors at 0.4, 0.8, 0.9: the best gamma accepts two
    # genuine claims and rejects all impostors (5/6); the first such midpoint is 0.3.
    distances = np.array([0.1, 0.2, 0.5, 0.4, 0.8, 0.9])
    genuine = np.array([True, True, True, False, False, False])
    gamma = metrics.choose_threshold(distances, genuine)
    assert gamma == pytest.approx(0.3)
    assert metrics.balanced_accuracy(distances, genuine, gamma) == pytest.approx(5 / 6)


def test_bad_inputs_raise_clear_value_errors():
    with pytest.raises(ValueError, match=r"^Argument `references` must be features of size 2 "
                       r"like `queries`\. Received: references=\(4, 3\)$"):
        metrics.distance_matrix(np.zeros((1, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="Argument `rule` must be one of 'mean', 'nearest'"):
        metrics.identify(np.zeros((1, 2)), TEMPLATES, TEMPLATE_LABELS, rule="median")
    with pytest.raises(ValueError, match="Argument `template_labels` must be one label per"):
        metrics.identify(np.zeros((1, 2)), TEMPLATES, [0, 7])
