"""Tests of the two-stage detection losses in kerasnn.losses against NumPy references."""

import keras
import numpy as np
import pytest

from kerasnn import losses

RNG = np.random.default_rng(0)


def np_smooth_l1(x, beta):
    x = np.abs(x)
    return np.where(x < beta, 0.5 * x**2 / beta, x - 0.5 * beta)


def np_sampled_mean(values, labels):
    sampled = labels >= 0
    return (values * sampled).sum(-1) / np.maximum(sampled.sum(-1), 1)


LABELS = np.array([[1, 0, -1, 0, 1, -1], [-1, -1, -1, -1, -1, -1]])  # image 2: nothing sampled


def test_smooth_l1_matches_numpy_on_both_branches():
    x = RNG.normal(scale=2, size=(3, 7)).astype("float32")
    for beta in (1.0, 1 / 9):
        np.testing.assert_allclose(losses.smooth_l1(np.zeros_like(x), x, beta),
                                   np_smooth_l1(x, beta), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Argument `beta` must be a positive number"):
        losses.smooth_l1(x, x, beta=0)


def test_rpn_objectness_loss_against_numpy_and_zero_when_perfect():
    logits = RNG.normal(size=LABELS.shape).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    bce = -(np.maximum(LABELS, 0) * np.log(p) + (1 - np.maximum(LABELS, 0)) * np.log(1 - p))
    np.testing.assert_allclose(losses.rpn_objectness_loss(LABELS, logits),
                               np_sampled_mean(bce, LABELS), rtol=1e-5)
    perfect = np.where(LABELS == 1, 60.0, -60.0).astype("float32")
    np.testing.assert_allclose(losses.rpn_objectness_loss(LABELS, perfect), [0, 0], atol=1e-12)


def test_rpn_box_loss_regresses_positive_anchors_only():
    true = RNG.normal(size=LABELS.shape + (4,)).astype("float32")
    pred = RNG.normal(size=LABELS.shape + (4,)).astype("float32")
    per_anchor = np_smooth_l1(pred - true, 1 / 9).sum(-1) * (LABELS == 1)
    np.testing.assert_allclose(losses.rpn_box_loss(LABELS, true, pred),
                               np_sampled_mean(per_anchor, LABELS), rtol=1e-5)
    perfect = np.where((LABELS == 1)[..., None], true, 100.0)  # non-positives: anything
    np.testing.assert_array_equal(losses.rpn_box_loss(LABELS, true, perfect), [0, 0])


CLASSES = np.array([[2, 0, -1, 1], [0, 0, 3, -1]])  # 0 background, c + 1 class c, -1 ignored


def test_detection_class_loss_against_numpy_and_zero_when_perfect():
    logits = RNG.normal(size=CLASSES.shape + (4,)).astype("float32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_p, np.maximum(CLASSES, 0)[..., None], -1)[..., 0]
    np.testing.assert_allclose(losses.detection_class_loss(CLASSES, logits),
                               np_sampled_mean(nll, CLASSES), rtol=1e-5)
    perfect = 80.0 * np.eye(4, dtype="float32")[np.maximum(CLASSES, 0)]
    np.testing.assert_allclose(losses.detection_class_loss(CLASSES, perfect), [0, 0], atol=1e-12)


def test_detection_box_loss_uses_the_true_class_deltas_of_foreground_rois():
    true = RNG.normal(size=CLASSES.shape + (4,)).astype("float32")
    pred = RNG.normal(size=CLASSES.shape + (3, 4)).astype("float32")  # 3 classes, no background
    chosen = np.take_along_axis(pred, np.maximum(CLASSES - 1, 0)[..., None, None], 2)[:, :, 0]
    per_roi = np_smooth_l1(chosen - true, 1.0).sum(-1) * (CLASSES >= 1)
    np.testing.assert_allclose(losses.detection_box_loss(CLASSES, true, pred),
                               np_sampled_mean(per_roi, CLASSES), rtol=1e-5)
    perfect = np.full_like(pred, 50.0)
    for b, r in zip(*np.nonzero(CLASSES >= 1)):
        perfect[b, r, CLASSES[b, r] - 1] = true[b, r]
    np.testing.assert_array_equal(losses.detection_box_loss(CLASSES, true, perfect), [0, 0])
    agnostic = losses.detection_box_loss(CLASSES, true, chosen)  # (batch, R, 4) predictions
    np.testing.assert_allclose(agnostic, np_sampled_mean(per_roi, CLASSES), rtol=1e-5)


def test_loss_classes_unpack_targets_reduce_and_serialize():
    true = RNG.normal(size=CLASSES.shape + (4,)).astype("float32")
    pred = RNG.normal(size=CLASSES.shape + (3, 4)).astype("float32")
    packed = np.concatenate([CLASSES[..., None].astype("float32"), true], -1)
    cases = [
        (losses.DetectionBoxLoss(beta=0.5), packed, pred,
         losses.detection_box_loss(CLASSES, true, pred, 0.5)),
        (losses.RPNBoxLoss(), packed, pred[:, :, 0],
         losses.rpn_box_loss(CLASSES, true, pred[:, :, 0])),
        (losses.RPNObjectnessLoss(), CLASSES, pred[:, :, 0, 0],
         losses.rpn_objectness_loss(CLASSES, pred[:, :, 0, 0])),
        (losses.DetectionClassLoss(), CLASSES, pred[:, :, 0],
         losses.detection_class_loss(CLASSES, pred[:, :, 0])),
    ]
    for loss, y_true, y_pred, per_image in cases:
        np.testing.assert_allclose(loss(y_true, y_pred), np.mean(per_image), rtol=1e-6)
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()
        np.testing.assert_allclose(clone(y_true, y_pred), np.mean(per_image), rtol=1e-6)
