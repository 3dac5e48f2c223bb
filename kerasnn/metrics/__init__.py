"""Metrics Keras lacks, one module per task family, computed in NumPy over a whole evaluation set.

- ``classification``: the exact confusion matrix, ROC AUC;
- ``detection``: VOC all-point and COCO mAP@[.5:.95];
- ``instances``: mask IoU, mask AP (COCO matching on mask IoU), a detector's box and mask figures;
- ``localization``: matched box IoU, localization accuracy;
- ``segmentation``: per-class and mean IoU, boundary-band IoU, touching objects separated;
- ``retrieval``: identification and verification against templates (siamese networks);
- ``sequence``: exact match, token accuracy, edit distance, alignment accuracy;
- ``text``: perplexity, neighbour precision@k, 3CosAdd analogy accuracy, Spearman correlation.

Every public function is also importable from ``kerasnn.metrics`` itself.
"""

from kerasnn.metrics.classification import confusion_matrix, roc_auc
from kerasnn.metrics.detection import (
    COCO_IOU_THRESHOLDS,
    average_precision,
    average_precision_per_class,
    box_iou,
    coco_mean_average_precision,
    detections_of,
    duplicate_detections,
    evaluate_detector,
    mean_average_precision,
    proposal_recall,
)
from kerasnn.metrics.instances import (
    coco_mask_average_precision,
    detection_scores,
    mask_average_precision,
    mask_average_precision_per_class,
    mask_iou,
)
from kerasnn.metrics.localization import MeanBoxIoU, localization_accuracy, matched_box_iou
from kerasnn.metrics.retrieval import (
    REJECTED,
    balanced_accuracy,
    choose_threshold,
    distance_matrix,
    identify,
    identity_distances,
    verification_claims,
)
from kerasnn.metrics.segmentation import (
    boundary_band,
    boundary_band_iou,
    iou_per_class,
    mean_iou,
    segmentation_confusion_matrix,
    separated_objects,
    touching_pairs,
)
from kerasnn.metrics.sequence import (
    alignment_accuracy,
    edit_distance,
    exact_match,
    token_accuracy,
)
from kerasnn.metrics.text import (
    analogy_accuracy,
    neighbor_precision_at_k,
    perplexity,
    spearman_correlation,
)

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "MeanBoxIoU",
    "REJECTED",
    "alignment_accuracy",
    "analogy_accuracy",
    "average_precision",
    "average_precision_per_class",
    "balanced_accuracy",
    "box_iou",
    "choose_threshold",
    "coco_mean_average_precision",
    "confusion_matrix",
    "distance_matrix",
    "duplicate_detections",
    "evaluate_detector",
    "edit_distance",
    "exact_match",
    "identify",
    "identity_distances",
    "localization_accuracy",
    "matched_box_iou",
    "mean_average_precision",
    "neighbor_precision_at_k",
    "perplexity",
    "proposal_recall",
    "roc_auc",
    "spearman_correlation",
    "token_accuracy",
    "verification_claims",
    "boundary_band",
    "boundary_band_iou",
    "iou_per_class",
    "mean_iou",
    "segmentation_confusion_matrix",
    "separated_objects",
    "touching_pairs",
    "coco_mask_average_precision",
    "detection_scores",
    "detections_of",
    "mask_average_precision",
    "mask_average_precision_per_class",
    "mask_iou",
]
