"""Localization metrics (course notes, "Localization"): the IoU of a predicted box with the true
one, as a streaming Keras metric for a localizer's box output and over a whole evaluation set.

Boxes are ``[y1, x1, y2, x2]`` in one convention for both arguments (normalized tfds boxes or
pixels: the IoU does not depend on the scale).
"""

import keras
import numpy as np
from keras import ops

from kerasnn.ops import boxes as box_ops


def matched_box_iou(boxes_true, boxes_pred):
    """IoU of each pair ``(boxes_true[i], boxes_pred[i])`` of ``(batch, 4)`` boxes: ``(batch,)``."""
    boxes_true = ops.expand_dims(ops.convert_to_tensor(boxes_true), -2)
    boxes_pred = ops.expand_dims(ops.convert_to_tensor(boxes_pred), -2)
    return box_ops.pairwise_iou(boxes_true, boxes_pred)[..., 0, 0]


@keras.saving.register_keras_serializable(package="kerasnn")
class MeanBoxIoU(keras.metrics.Mean):
    """Mean IoU between predicted and true boxes (``matched_box_iou``), for a box output.

    Example:
        >>> metric = MeanBoxIoU()
        >>> metric.update_state([[0.0, 0.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 0.5]])
        >>> float(metric.result())
        0.5
    """

    def __init__(self, name="mean_box_iou", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the batch's matched box IoUs to the running mean."""
        return super().update_state(matched_box_iou(y_true, y_pred), sample_weight=sample_weight)


def localization_accuracy(labels, predicted_labels, boxes_true, boxes_pred, iou_threshold=0.5):
    """The fraction of images whose class is right *and* whose box has IoU >= ``iou_threshold``
    with the true box (the usual localization criterion)."""
    ious = ops.convert_to_numpy(matched_box_iou(boxes_true, boxes_pred))
    right = np.asarray(labels).reshape(-1) == np.asarray(predicted_labels).reshape(-1)
    return float(np.mean(right & (ious >= iou_threshold)))
