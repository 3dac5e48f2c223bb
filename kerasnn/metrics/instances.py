"""Instance-level evaluation: mask IoU, mask AP, and a detector's box and mask figures.

Course notes, "Instance Segmentation" and the output format ``{(x, y, h, w, l, S)_i}`` of "CNN
for Object Detection": each instance has a box, a label and ``S``, the set of its pixels. Mask AP
is COCO's "segm" AP: the same ranking and greedy matching as box AP
(``kerasnn.metrics.detection``, COCO's rule) with the IoU of the pixel sets in place of the IoU of
the boxes. In NumPy, once over an evaluation set.

Layout: as ``kerasnn.metrics.detection``, with ``"masks"`` ``(n, height, width)`` per image
(binary, or probabilities thresholded at 0.5) in place of (or beside) ``"boxes"``.
"""

import numpy as np

from kerasnn import arguments
from kerasnn.metrics import detection


def mask_iou(masks1, masks2):
    """Pairwise IoU of two sets of binary masks: ``|A ∩ B| / |A ∪ B|`` (0 when both are empty).

    Args:
        masks1: ``(n, height, width)`` masks (values above 0.5 are inside).
        masks2: ``(m, height, width)`` masks of the same size.

    Returns:
        ``(n, m)`` float64 IoU.

    Example:

    >>> a = np.zeros((1, 4, 4)); a[0, :2, :2] = 1      # 4 pixels
    >>> b = np.zeros((1, 4, 4)); b[0, :2, 1:3] = 1     # 4 pixels, 2 shared
    >>> mask_iou(a, b).tolist()                        # 2 / 6
    [[0.3333333333333333]]
    """
    masks1, masks2 = np.asarray(masks1) > 0.5, np.asarray(masks2) > 0.5
    if masks1.ndim != 3:
        arguments.shape_error("masks1", "(n, height, width)", masks1.shape)
    if masks2.ndim != 3 or masks2.shape[1:] != masks1.shape[1:]:
        arguments.shape_error("masks2", f"(m, {masks1.shape[1]}, {masks1.shape[2]})",
                              masks2.shape)
    flat1 = masks1.reshape(len(masks1), -1).astype("float64")
    flat2 = masks2.reshape(len(masks2), -1).astype("float64")
    intersection = flat1 @ flat2.T
    union = flat1.sum(1)[:, None] + flat2.sum(1)[None, :] - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)


def mask_average_precision_per_class(predictions, ground_truths, iou_threshold=0.5,
                                     method="all_points"):
    """Average precision of every class with a true instance, matching on mask IoU.

    Args:
        predictions: per-image dicts with ``"masks"``, ``"scores"``, ``"classes"`` (optionally
            ``"num_detections"``; negative classes are padding).
        ground_truths: per-image dicts with ``"masks"`` and ``"classes"``.
        iou_threshold: mask IoU at or above which a detection can match, in ``(0, 1]``.
        method: ``"all_points"`` (VOC) or ``"101_points"`` (COCO).

    Returns:
        Dict ``{class: AP}``.
    """
    return detection._per_class_over_thresholds(predictions, ground_truths, (iou_threshold,),
                                                method, "masks", mask_iou)[0]


def mask_average_precision(predictions, ground_truths, iou_threshold=0.5, method="all_points"):
    """Mask mAP at one IoU: the mean over classes of :func:`mask_average_precision_per_class`.

    Example:

    >>> truth = np.zeros((1, 8, 8), bool); truth[0, 2:6, 2:6] = True
    >>> half = np.zeros((1, 8, 8), bool); half[0, 2:6, 2:4] = True   # IoU 8 / 16
    >>> prediction = {"masks": half, "scores": [0.9], "classes": [0]}
    >>> mask_average_precision([prediction], [{"masks": truth, "classes": [0]}], 0.5)
    1.0
    >>> mask_average_precision([prediction], [{"masks": truth, "classes": [0]}], 0.55)
    0.0

    Returns:
        A float in ``[0, 1]``; NaN when no image has a true instance.
    """
    per_class = mask_average_precision_per_class(predictions, ground_truths, iou_threshold,
                                                 method)
    return float(np.mean(list(per_class.values()))) if per_class else float("nan")


def coco_mask_average_precision(predictions, ground_truths,
                                iou_thresholds=detection.COCO_IOU_THRESHOLDS,
                                method="101_points"):
    """COCO's mask AP@[.5:.95]: :func:`mask_average_precision` averaged over IoU thresholds
    0.50, 0.55, ..., 0.95 with 101-point interpolation (NaN without true instances)."""
    results = detection._per_class_over_thresholds(predictions, ground_truths,
                                                   tuple(iou_thresholds), method, "masks",
                                                   mask_iou)
    if not results or not results[0]:
        return float("nan")
    return float(np.mean([np.mean(list(result.values())) for result in results]))


def detection_scores(predictions, ground_truths, seconds=None):
    """A detector's figures from ``kerasnn.metrics.detection.detections_of``'s output:
    ``"map50"`` (VOC mAP@0.5), ``"coco_map"`` (COCO mAP@[.5:.95]), ``"ms_per_image"`` when
    ``seconds`` is given, and ``"mask_map50"``, ``"coco_mask_map"`` when the model predicts masks
    and the data has them."""
    scores = {
        "map50": detection.mean_average_precision(predictions, ground_truths),
        "coco_map": detection.coco_mean_average_precision(predictions, ground_truths),
    }
    if seconds is not None:
        scores["ms_per_image"] = 1000.0 * seconds / max(len(predictions), 1)
    if predictions and "masks" in predictions[0] and "masks" in ground_truths[0]:
        scores["mask_map50"] = mask_average_precision(predictions, ground_truths)
        scores["coco_mask_map"] = coco_mask_average_precision(predictions, ground_truths)
    return scores
