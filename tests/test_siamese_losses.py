"""Contrastive, triplet and semi-hard triplet losses against NumPy references and by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnn import losses


def _distance(a, b):
    return np.sqrt(np.sum((np.asarray(a, "float64") - np.asarray(b, "float64")) ** 2, axis=-1))


def _contrastive_reference(labels, first, second, margin):
    d = _distance(first, second)
    return (1 - labels) / 2 * d + labels / 2 * np.maximum(0.0, margin - d)


def _triplet_reference(anchor, positive, negative, margin):
    return np.maximum(0.0, margin + _distance(anchor, positive) - _distance(anchor, negative))


def _printed_triplet(anchor, positive, negative, margin):
    """The triplet loss exactly as the notes print it (sign inverted)."""
    return np.maximum(0.0, margin + _distance(anchor, negative) - _distance(anchor, positive))


def test_contrastive_matches_numpy_and_hand_values():
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(2, 12, 5)).astype("float32")
    labels = rng.integers(0, 2, size=12)
    np.testing.assert_allclose(
        losses.contrastive(labels, first, second, margin=2.0),
        _contrastive_reference(labels, first, second, 2.0), rtol=1e-5)
    # d = 5 (3-4-5 triangle): same identity costs d/2; different costs max(0, m - d)/2.
    zero, point = [[0.0, 0.0]], [[3.0, 4.0]]
    assert float(losses.contrastive([0], zero, point, margin=6.0)[0]) == pytest.approx(2.5)
    assert float(losses.contrastive([1], zero, point, margin=6.0)[0]) == pytest.approx(0.5)
    assert float(losses.contrastive([1], zero, point, margin=5.0)[0]) == pytest.approx(0.0)
    same = float(losses.contrastive([0], point, point, margin=5.0)[0])
    assert same == pytest.approx(0.0, abs=1e-5)


def test_contrastive_gradients_pull_positives_together_and_push_negatives_apart():
    first = tf.Variable([[0.0, 0.0], [0.0, 0.0]])
    second = tf.constant([[0.3, 0.4], [0.3, 0.4]])
    with tf.GradientTape() as tape:
        loss = losses.contrastive([0, 1], first, second, margin=1.0)
    step = -tape.jacobian(loss, first).numpy()  # descent direction of each pair's own loss
    towards = np.array([0.3, 0.4]) / 0.5
    assert np.dot(step[0, 0], towards) > 0  # same identity: move f(I_i) towards f(I_j)
    assert np.dot(step[1, 1], towards) < 0  # different, inside the margin: move away
    np.testing.assert_allclose(step[0, 0], towards / 2, rtol=1e-5)  # d(d/2)/dx = unit vector / 2


def test_triplet_matches_numpy_zero_beyond_margin_and_margin_shifts_it():
    rng = np.random.default_rng(1)
    anchor, positive, negative = rng.normal(size=(3, 10, 4)).astype("float32")
    for margin in (0.0, 0.5, 3.0):
        np.testing.assert_allclose(
            losses.triplet(anchor, positive, negative, margin=margin),
            _triplet_reference(anchor, positive, negative, margin), rtol=1e-5, atol=1e-6)
    # d(I, P) = 1, d(I, N) = 3: satisfied by margin 2 (loss 0), violated by 0.5 at margin 2.5.
    a, p, n = [[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 3.0]]
    assert float(losses.triplet(a, p, n, margin=2.0)[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.triplet(a, p, n, margin=2.5)[0]) == pytest.approx(0.5)


def test_printed_triplet_sign_rewards_the_wrong_embedding():
    anchor = np.array([[0.0, 0.0]], "float32")
    near, far = np.array([[0.1, 0.0]], "float32"), np.array([[0.0, 2.0]], "float32")
    # Right embedding: positive near, negative far. Wrong one: the other way round.
    right, wrong = (anchor, near, far), (anchor, far, near)
    assert float(losses.triplet(*right, margin=0.5)[0]) == 0.0
    assert float(losses.triplet(*wrong, margin=0.5)[0]) == pytest.approx(2.4)
    assert _printed_triplet(*right, margin=0.5)[0] == pytest.approx(2.4)  # punishes the right one
    assert _printed_triplet(*wrong, margin=0.5)[0] == 0.0  # and is satisfied by the wrong one


def test_triplet_gradients_pull_the_positive_and_push_the_negative():
    anchor = tf.constant([[0.0, 0.0]])
    positive, negative = tf.Variable([[1.0, 0.0]]), tf.Variable([[0.0, 1.5]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.triplet(anchor, positive, negative, margin=1.0))
    grad_positive, grad_negative = tape.gradient(loss, [positive, negative])
    np.testing.assert_allclose(-grad_positive.numpy(), [[-1.0, 0.0]], rtol=1e-6)  # towards anchor
    np.testing.assert_allclose(-grad_negative.numpy(), [[0.0, 1.0]], rtol=1e-6)  # away from it


def _semi_hard_reference(labels, embeddings, margin):
    d = _distance(embeddings[:, None], embeddings[None, :])
    values = []
    for i in range(len(labels)):
        negatives = [k for k in range(len(labels)) if labels[k] != labels[i]]
        for j in range(len(labels)):
            if j == i or labels[j] != labels[i] or not negatives:
                continue
            semi_hard = [d[i, k] for k in negatives if d[i, k] > d[i, j]]
            chosen = min(semi_hard) if semi_hard else max(d[i, k] for k in negatives)
            values.append(max(0.0, margin + d[i, j] - chosen))
    return np.mean(values) if values else 0.0


def test_semi_hard_triplet_matches_a_loop_reference():
    rng = np.random.default_rng(2)
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])  # class 3 has no positive: no pair from it
    embeddings = rng.normal(size=(9, 3)).astype("float32")
    for margin in (0.2, 1.0):
        assert float(losses.semi_hard_triplet(labels, embeddings, margin)) == pytest.approx(
            _semi_hard_reference(labels, embeddings, margin), rel=1e-4)
    assert float(losses.SemiHardTriplet(margin=1.0)(labels, embeddings)) == pytest.approx(
        _semi_hard_reference(labels, embeddings, 1.0), rel=1e-4)
    # One class only: no negative, no triplet, zero loss (not NaN).
    assert float(losses.semi_hard_triplet([1, 1, 1], embeddings[:3])) == 0.0


def test_loss_classes_match_the_functions_and_round_trip():
    rng = np.random.default_rng(3)
    stacked2 = rng.normal(size=(6, 2, 4)).astype("float32")
    stacked3 = rng.normal(size=(6, 3, 4)).astype("float32")
    labels = np.array([0, 1, 0, 1, 1, 0])
    cases = [
        (losses.Contrastive(margin=1.5), labels, stacked2,
         _contrastive_reference(labels, stacked2[:, 0], stacked2[:, 1], 1.5).mean()),
        (losses.Triplet(margin=0.7), np.zeros(6), stacked3,
         _triplet_reference(*np.moveaxis(stacked3, 1, 0), 0.7).mean()),
    ]
    for loss, y_true, y_pred, expected in cases:
        assert float(loss(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(restored) is type(loss) and restored.margin == loss.margin
        assert float(restored(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)


def test_bad_inputs_raise_clear_value_errors():
    with pytest.raises(ValueError, match=r"^Argument `margin` must be a non-negative number\. "
                       r"Received: margin=-1\.0$"):
        losses.Contrastive(margin=-1.0)
    with pytest.raises(ValueError, match="Argument `margin` must be a non-negative number"):
        losses.triplet([[0.0]], [[0.0]], [[0.0]], margin=-0.1)
    with pytest.raises(ValueError, match=r"^Argument `second` must be a tensor of the shape of "
                       r"`first`, \(2, 3\)\. Received: second=\(2, 4\)$"):
        losses.contrastive([0, 1], np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="Argument `negative` must be a tensor of the shape"):
        losses.triplet(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"Argument `y_pred` must be \(batch, 3, dim\) embeddings"
                       r".*Received: y_pred=\(4, 2, 5\)"):
        losses.Triplet()(np.zeros(4), np.zeros((4, 2, 5)))
