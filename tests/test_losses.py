"""kerasnn.losses against hand computations and NumPy references."""

import keras
import numpy as np
import pytest

from kerasnn import losses


def _hinge_reference(labels, scores, margin=1.0):
    rows = []
    for label, row in zip(labels, scores):
        rows.append(
            sum(max(0.0, row[j] - row[label] + margin) for j in range(len(row)) if j != label)
        )
    return np.array(rows)


def test_multiclass_hinge_matches_hand_computation():
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0]], "float32")
    # class 0 correct: max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1) = 2.9
    # class 1 correct: max(0, 1.3-4.9+1) + max(0, 2.0-4.9+1) = 0
    np.testing.assert_allclose(
        losses.multiclass_hinge(np.array([0, 1]), scores), [2.9, 0.0], rtol=1e-5
    )


def test_multiclass_hinge_class_matches_numpy_and_round_trips():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(16, 5)).astype("float32")
    labels = rng.integers(0, 5, size=16)
    loss = losses.MulticlassHinge(margin=0.5)
    expected = _hinge_reference(labels, scores, 0.5).mean()
    assert float(loss(labels, scores)) == pytest.approx(expected, rel=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, losses.MulticlassHinge) and restored.margin == 0.5
    assert float(restored(labels, scores)) == pytest.approx(expected, rel=1e-5)
