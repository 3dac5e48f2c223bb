"""Tests of kerasnn.metrics.localization: matched box IoU by hand, the streaming metric, and the
localization accuracy."""

import keras
import numpy as np
import pytest

from kerasnn import metrics


def test_matched_box_iou_by_hand():
    boxes_true = [[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    boxes_pred = [[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]]
    # 1 / (4 + 4 - 1), identical, disjoint
    np.testing.assert_allclose(
        metrics.matched_box_iou(boxes_true, boxes_pred), [1 / 7, 1, 0], atol=1e-6
    )


def test_mean_box_iou_metric_streams_and_serializes():
    metric = metrics.MeanBoxIoU()
    metric.update_state([[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 0.5]])
    metric.update_state([[0.0, 0.0, 2.0, 2.0]], [[1.0, 1.0, 3.0, 3.0]])
    assert float(metric.result()) == pytest.approx((0.5 + 1 / 7) / 2)
    clone = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert isinstance(clone, metrics.MeanBoxIoU) and clone.name == "mean_box_iou"


def test_localization_accuracy_needs_the_class_and_the_box():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0]] * 3)
    predicted_boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.4], [0, 0, 1.0, 1.0]])
    # right and IoU 1; right but IoU 0.4; wrong class
    assert metrics.localization_accuracy(
        [1, 2, 3], [1, 2, 0], boxes, predicted_boxes
    ) == pytest.approx(1 / 3)
