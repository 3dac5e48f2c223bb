"""Tests of kerasnn.losses.yolo_loss / YOLOLoss against a NumPy reference of the v1 paper's loss."""

import keras
import numpy as np
import pytest

from kerasnn import losses
from kerasnn.ops import yolo

ANCHORS = np.array([[0.25, 0.25], [0.5, 0.5]], "float32")
GT_BOXES = np.array([[[4, 20, 20, 28], [24, 8, 56, 40]], [[40, 40, 56, 56], [0, 0, 0, 0]]],
                    "float32")
GT_LABELS = np.array([[2, 0], [1, -1]])


def _targets():
    return np.asarray(yolo.encode_targets(GT_BOXES, GT_LABELS, (2, 2), (64, 64), ANCHORS))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_yolo_loss(targets, outputs, anchors, lambda_coord, lambda_noobj):
    """The paper's sum over cells and anchors, written term by term."""
    batch = targets.shape[0]
    totals = np.zeros(batch)
    for b in range(batch):
        for index in np.ndindex(targets.shape[1:4]):
            t, o = targets[b][index], outputs[b][index].astype("float64")
            anchor = anchors[index[2]]
            confidence = np_sigmoid(o[4])
            if t[4] == 0:
                totals[b] += lambda_noobj * confidence**2
                continue
            coord = np.sum((np_sigmoid(o[:2]) - t[:2]) ** 2)
            size = np.sum((np.sqrt(anchor * np.exp(o[2:4])) - np.sqrt(t[2:4])) ** 2)
            logits = o[5:] - o[5:].max()
            probabilities = np.exp(logits) / np.exp(logits).sum()
            classification = np.sum((probabilities - np.eye(len(logits))[int(t[5])]) ** 2)
            totals[b] += lambda_coord * (coord + size) + (confidence - 1) ** 2 + classification
    return totals


def test_yolo_loss_against_numpy_with_the_papers_lambdas_and_others():
    targets = _targets()
    outputs = np.random.default_rng(0).normal(size=(2, 2, 2, 2, 8)).astype("float32")
    for lambdas in ((5.0, 0.5), (1.0, 2.0)):
        expected = np_yolo_loss(targets, outputs, ANCHORS, *lambdas)
        got = np.asarray(losses.yolo_loss(targets, outputs, ANCHORS, *lambdas))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    default = losses.yolo_loss(targets, outputs, ANCHORS)
    np.testing.assert_allclose(default, np_yolo_loss(targets, outputs, ANCHORS, 5.0, 0.5),
                               rtol=1e-5)


def test_yolo_loss_is_zero_on_perfect_predictions():
    targets = _targets()
    outputs = np.zeros(targets.shape[:4] + (8,), "float64")
    offsets = targets[..., :2]
    safe = np.clip(offsets, 1e-12, 1 - 1e-7)  # no object has offset 0 here, empty slots don't count
    outputs[..., :2] = np.log(safe / (1 - safe))
    has = targets[..., 4] > 0
    sizes = np.where(has[..., None], targets[..., 2:4], ANCHORS)
    outputs[..., 2:4] = np.log(sizes / ANCHORS)
    outputs[..., 4] = np.where(has, 40.0, -40.0)
    outputs[..., 5:] = -40.0
    np.put_along_axis(outputs[..., 5:], np.maximum(targets[..., 5], 0).astype(int)[..., None],
                      40.0, axis=-1)
    assert has.sum() == 3
    np.testing.assert_allclose(losses.yolo_loss(targets, outputs.astype("float32"), ANCHORS),
                               [0, 0], atol=1e-6)


def test_yolo_loss_class_reduces_serializes_and_checks_its_arguments():
    targets = _targets()
    outputs = np.random.default_rng(1).normal(size=(2, 2, 2, 2, 8)).astype("float32")
    loss = losses.YOLOLoss(ANCHORS, lambda_coord=2.0)
    per_image = losses.yolo_loss(targets, outputs, ANCHORS, 2.0, 0.5)
    np.testing.assert_allclose(loss(targets, outputs), np.mean(per_image), rtol=1e-6)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(clone) is losses.YOLOLoss and clone.get_config() == loss.get_config()
    np.testing.assert_allclose(clone(targets, outputs), np.mean(per_image), rtol=1e-6)
    with pytest.raises(ValueError, match="Argument `lambda_noobj` must be"):
        losses.YOLOLoss(ANCHORS, lambda_noobj=-1)
    with pytest.raises(ValueError, match=r"`targets` must have shape \(batch, 2, 2, 2, 6\)"):
        losses.yolo_loss(targets[..., :5], outputs, ANCHORS)
    with pytest.raises(ValueError, match=r"Argument `outputs` must have shape \(batch, H, L, 2,"):
        losses.yolo_loss(targets, outputs[..., :1, :], ANCHORS)
