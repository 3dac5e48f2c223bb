"""Metrics Keras lacks, one module per task family, computed in NumPy over a whole evaluation set.

- ``classification``: the exact confusion matrix;
- ``detection``: VOC all-point and COCO mAP@[.5:.95].

Every public function is also importable from ``kerasnn.metrics`` itself.
"""

from kerasnn.metrics.classification import confusion_matrix
from kerasnn.metrics.detection import (
    COCO_IOU_THRESHOLDS,
    average_precision,
    average_precision_per_class,
    coco_mean_average_precision,
    mean_average_precision,
)
from kerasnn.metrics.localization import MeanBoxIoU, localization_accuracy, matched_box_iou

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "average_precision",
    "average_precision_per_class",
    "coco_mean_average_precision",
    "confusion_matrix",
    "mean_average_precision",
    "MeanBoxIoU",
    "localization_accuracy",
    "matched_box_iou",
]
