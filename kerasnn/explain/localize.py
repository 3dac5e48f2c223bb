"""From heatmaps to localization: a box per heatmap, the pointing game, a mask IoU.

Course notes, "Weakly Supervised Localization" and "The GAP revisited - CAM": a class activation
map localizes the object without box supervision. As in the CAM paper (Zhou et al., 2016), the
map is thresholded at a fraction of its maximum and the box is the one around the largest
connected region. The pointing game (Zhang et al., 2016) asks only whether the map's maximum
falls on the object.

Maps are first scaled to [0, 1] by ``(M - min M) / (max M - min M)``; for rectified maps
(Grad-CAM, whose minimum is 0) the threshold is then exactly a fraction of the maximum. Boxes are
pixel corners ``[y1, x1, y2, x2]`` with exclusive ``y2``/``x2`` (``kerasnn.ops.boxes``).
"""

import numpy as np
from keras import ops
from scipy import ndimage

from kerasnn import arguments, metrics

# 8-connectivity: diagonal neighbours belong to the same region.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _check_maps(name, maps, rank):
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != rank:
        what = "(height, width)" if rank == 2 else "(batch, height, width)"
        raise ValueError(
            f"Argument `{name}` must be {rank}-D {what}. Received: {name}.shape={maps.shape}"
        )
    return maps


def normalize_heatmaps(heatmaps):
    """Scale each map of ``(batch, height, width)`` to [0, 1] (a constant map becomes ones)."""
    heatmaps = _check_maps("heatmaps", heatmaps, 3)
    low = heatmaps.min(axis=(1, 2), keepdims=True)
    span = heatmaps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (heatmaps - low) / np.where(span > 0, span, 1.0), 1.0)


def heatmap_to_box(heatmap, threshold=0.2):
    """The box around the largest connected region where the map is ``>= threshold`` (of its
    [0, 1]-scaled range).

    Args:
        heatmap: ``(height, width)``.
        threshold: fraction in [0, 1] (the CAM paper uses 0.2).

    Returns:
        ``[y1, x1, y2, x2]`` pixels (float32), ``y2``/``x2`` exclusive.

    Example:
        >>> heatmap = np.zeros((6, 6)); heatmap[1:3, 2:5] = 1.0
        >>> heatmap_to_box(heatmap).tolist()
        [1.0, 2.0, 3.0, 5.0]
    """
    heatmap = _check_maps("heatmap", heatmap, 2)
    threshold = arguments.probability("threshold", threshold)
    region = normalize_heatmaps(heatmap[None])[0] >= threshold
    labels, count = ndimage.label(region, structure=_EIGHT_CONNECTED)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    rows, cols = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    return np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], np.float32)


def heatmaps_to_boxes(heatmaps, threshold=0.2):
    """``heatmap_to_box`` of each map of ``(batch, height, width)`` -> ``(batch, 4)`` pixels."""
    heatmaps = _check_maps("heatmaps", heatmaps, 3)
    return np.stack([heatmap_to_box(heatmap, threshold) for heatmap in heatmaps]).reshape(-1, 4)


def pointing_game(heatmaps, *, masks=None, boxes=None):
    """Hits of the pointing game: is each map's maximum on the object?

    Args:
        heatmaps: ``(batch, height, width)``.
        masks: ``(batch, height, width[, 1])`` object masks (non-zero on the object), or
        boxes: ``(batch, 4)`` pixel boxes ``[y1, x1, y2, x2]`` (exclusive ends).

    Returns:
        ``(batch,)`` booleans; their mean is the pointing accuracy.
    """
    heatmaps = _check_maps("heatmaps", heatmaps, 3)
    if (masks is None) == (boxes is None):
        raise ValueError("Pass exactly one of `masks` and `boxes` to `pointing_game`.")
    batch, height, width = heatmaps.shape
    peaks = np.argmax(heatmaps.reshape(batch, -1), axis=1)
    rows, cols = peaks // width, peaks % width
    if masks is not None:
        masks = _object_masks(masks, heatmaps.shape)
        return masks[np.arange(batch), rows, cols]
    boxes = np.asarray(boxes, np.float64).reshape(batch, 4)
    centre_y, centre_x = rows + 0.5, cols + 0.5  # pixel centres, continuous box coordinates
    return (
        (boxes[:, 0] <= centre_y)
        & (centre_y < boxes[:, 2])
        & (boxes[:, 1] <= centre_x)
        & (centre_x < boxes[:, 3])
    )


def _object_masks(masks, shape):
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.shape != shape:
        raise ValueError(
            f"Argument `masks` must have the heatmaps' shape {shape} (or a trailing "
            f"channel of 1). Received: masks.shape={np.shape(masks)}"
        )
    return masks != 0


def heatmap_mask_iou(heatmaps, masks, threshold=0.5):
    """IoU between each map thresholded at ``threshold`` (of its [0, 1]-scaled range) and the
    object mask: ``|H ∩ O| / |H ∪ O|`` per image, ``(batch,)``."""
    heatmaps = _check_maps("heatmaps", heatmaps, 3)
    threshold = arguments.probability("threshold", threshold)
    predicted = normalize_heatmaps(heatmaps) >= threshold
    masks = _object_masks(masks, heatmaps.shape)
    intersection = np.sum(predicted & masks, axis=(1, 2))
    union = np.sum(predicted | masks, axis=(1, 2))
    return intersection / np.maximum(union, 1)


def box_iou(boxes_true, boxes_pred):
    """IoU of each pair ``(boxes_true[i], boxes_pred[i])`` of ``(batch, 4)`` boxes, NumPy
    (``kerasnn.metrics.matched_box_iou``)."""
    return ops.convert_to_numpy(
        metrics.matched_box_iou(
            np.asarray(boxes_true, np.float32), np.asarray(boxes_pred, np.float32)
        )
    )


def box_iou_at(heatmaps, boxes, threshold=0.2):
    """Per-image IoU between ``heatmaps_to_boxes(heatmaps, threshold)`` and the true ``boxes``."""
    return box_iou(boxes, heatmaps_to_boxes(heatmaps, threshold))


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def choose_threshold(score, heatmaps, targets, thresholds=THRESHOLDS):
    """The threshold of ``thresholds`` with the best mean ``score(heatmaps, targets, threshold)``
    (e.g. ``box_iou_at`` with true boxes, ``heatmap_mask_iou`` with masks), to pick on a
    validation split. Returns ``(threshold, {threshold: mean score})``."""
    means = {float(t): float(np.mean(score(heatmaps, targets, t))) for t in thresholds}
    return max(means, key=means.get), means
