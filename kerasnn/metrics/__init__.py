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

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "average_precision",
    "average_precision_per_class",
    "coco_mean_average_precision",
    "confusion_matrix",
    "mean_average_precision",
]
from kerasnn.metrics.retrieval import (  # noqa: E402  (Siamese networks: identification, verification)
    REJECTED,
    balanced_accuracy,
    choose_threshold,
    distance_matrix,
    identify,
    identity_distances,
    roc_auc,
    verification_claims,
)

__all__ += [
    "REJECTED",
    "balanced_accuracy",
    "choose_threshold",
    "distance_matrix",
    "identify",
    "identity_distances",
    "roc_auc",
    "verification_claims",
]
