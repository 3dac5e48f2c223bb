"""Explaining CNN decisions: CAM, Grad-CAM, Augmented Grad-CAM, and heatmaps as localizations.

Course notes, "GAP, Localization and CNN Explanations". ``maps`` computes the heatmaps (CAM from
a GAP network's weights, Grad-CAM from gradients on any convolutional network), ``augmented``
super-resolves Grad-CAM from augmented copies of the image, and ``localize`` turns heatmaps into
boxes and scores them (pointing game, mask IoU). Images are channels-last batches.
"""

from kerasnn.explain.augmented import (
    AugmentedGradCAM,
    SuperResolutionProblem,
    WarpOperator,
    augmented_grad_cam,
    random_roto_translations,
    total_variation,
    total_variation_subgradient,
)
from kerasnn.explain.localize import (
    THRESHOLDS,
    box_iou,
    box_iou_at,
    choose_threshold,
    heatmap_mask_iou,
    heatmap_to_box,
    heatmaps_to_boxes,
    normalize_heatmaps,
    pointing_game,
)
from kerasnn.explain.maps import cam, class_scores, feature_layer, gap_head, grad_cam
