"""Semantic segmentation metrics computed once over an evaluation set, in NumPy.

Course section "Image Segmentation": a segmentation maps every pixel ``(r, c)`` to a label of
``Lambda``; it is scored pixel by pixel against the annotation ``GT``. The per-class
intersection over union comes from the pixel confusion matrix ``C`` (``C[i, j]`` = pixels of
class ``i`` predicted as ``j``, as ``metrics.confusion_matrix``)::

    IoU_c = C[c, c] / (sum_j C[c, j] + sum_i C[i, c] - C[c, c])      (TP / (TP + FN + FP))

and the mean IoU averages it over the classes present in the labels or the predictions (those
with a non-empty union), as ``keras.metrics.MeanIoU`` does.

The boundary-band IoU is the same IoU restricted to the pixels within ``radius`` of a border of
the ground truth: where segmentations differ most, and where the U-Net weight map ("U-NET")
puts its weight.
"""

import numpy as np
import scipy.ndimage

from kerasnn import arguments
from kerasnn.metrics.classification import confusion_matrix


def _label_maps(masks_true, masks_pred):
    """Integer ``(N, H, W)`` label maps; ``masks_pred`` may be ``(N, H, W, classes)`` scores."""
    masks_true = np.asarray(masks_true)
    masks_pred = np.asarray(masks_pred)
    if masks_true.ndim == masks_pred.ndim + 1 and masks_true.shape[-1] == 1:
        masks_true = masks_true[..., 0]
    if masks_pred.ndim == masks_true.ndim + 1:
        masks_pred = masks_pred.argmax(axis=-1)
    # signed ids: uint8 masks (as tfds stores them) cannot hold confusion_matrix's -1 sentinel
    masks_true, masks_pred = masks_true.astype(np.int64), masks_pred.astype(np.int64)
    if masks_true.shape != masks_pred.shape:
        arguments.fail(
            "masks_pred",
            f"label maps of the labels' shape {masks_true.shape} (or scores with one more axis)",
            None,
            received=f"masks_pred.shape={np.asarray(masks_pred).shape}",
        )
    return masks_true, masks_pred


def segmentation_confusion_matrix(masks_true, masks_pred, num_classes=None, where=None):
    """The pixel confusion matrix of a set of label maps.

    Args:
        masks_true: ``(N, H, W)`` (or ``(N, H, W, 1)``) true class ids.
        masks_pred: ``(N, H, W)`` predicted class ids, or ``(N, H, W, num_classes)`` scores.
        num_classes: matrix size (default: one more than the largest id seen).
        where: optional boolean ``(N, H, W)`` mask: only those pixels count.

    Returns:
        ``(num_classes, num_classes)`` int64 array, ``[i, j]`` = pixels of class ``i`` predicted
        as ``j``.
    """
    masks_true, masks_pred = _label_maps(masks_true, masks_pred)
    if where is not None:
        where = np.asarray(where, dtype=bool)
        if where.shape != masks_true.shape:
            arguments.shape_error("where", masks_true.shape, where.shape)
        masks_true, masks_pred = masks_true[where], masks_pred[where]
    return confusion_matrix(masks_true.reshape(-1), masks_pred.reshape(-1), num_classes)


def iou_per_class(confusion):
    """``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` for every class of a confusion matrix; ``nan`` for
    a class absent from both the labels and the predictions (its IoU is undefined).

    Example:
        >>> iou_per_class([[3, 1], [0, 2]]).round(4).tolist()  # 3/(3+1), 2/(2+1)
        [0.75, 0.6667]
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        arguments.shape_error("confusion", "(num_classes, num_classes)", confusion.shape)
    true_positives = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positives / np.where(union > 0, union, 1), np.nan)


def mean_iou(confusion):
    """The mean of ``iou_per_class`` over the classes with a non-empty union (as
    ``keras.metrics.MeanIoU``); 0 for an empty matrix.

    Example:
        >>> round(mean_iou([[3, 1], [0, 2]]), 4)  # (0.75 + 0.6667) / 2
        0.7083
    """
    ious = iou_per_class(confusion)
    valid = ~np.isnan(ious)
    return float(ious[valid].mean()) if valid.any() else 0.0


def boundary_band(mask, radius):
    """The pixels within ``radius`` (Euclidean, in pixels) of a border of the label map ``mask``.

    A border pixel is one whose label differs from one of its 4 neighbours (both sides of a
    border are border pixels). Works on semantic masks and on instance masks (where the border
    between two touching objects of one class counts too).

    Args:
        mask: ``(H, W)`` or ``(N, H, W)`` integer label map(s).
        radius: non-negative number; 0 keeps the border pixels only.

    Returns:
        Boolean array of ``mask``'s shape.

    Example:
        >>> boundary_band([[0, 0, 1, 1]], 0).astype(int).tolist()
        [[0, 1, 1, 0]]
    """
    radius = arguments.non_negative_number("radius", radius)
    mask = np.asarray(mask)
    if mask.ndim == 2:
        return boundary_band(mask[None], radius)[0]
    if mask.ndim != 3:
        arguments.shape_error("mask", "(H, W) or (N, H, W)", mask.shape)
    border = np.zeros(mask.shape, dtype=bool)
    vertical = mask[:, 1:, :] != mask[:, :-1, :]
    horizontal = mask[:, :, 1:] != mask[:, :, :-1]
    border[:, 1:, :] |= vertical
    border[:, :-1, :] |= vertical
    border[:, :, 1:] |= horizontal
    border[:, :, :-1] |= horizontal
    band = np.zeros_like(border)
    for index, image_border in enumerate(border):
        if image_border.any():
            band[index] = scipy.ndimage.distance_transform_edt(~image_border) <= radius
    return band


def boundary_band_iou(masks_true, masks_pred, num_classes=None, radius=2, instances=None):
    """Mean IoU over the pixels within ``radius`` of a ground-truth border (``boundary_band``).

    Args:
        masks_true: ``(N, H, W)`` true class ids.
        masks_pred: ``(N, H, W)`` predicted class ids or ``(N, H, W, num_classes)`` scores.
        num_classes: number of classes (default: one more than the largest id seen).
        radius: half-width of the band in pixels.
        instances: optional ``(N, H, W)`` instance ids; the band then also follows the borders
            between touching objects of the same class.

    Returns:
        The mean IoU (float) of the band's pixels.
    """
    masks_true, masks_pred = _label_maps(masks_true, masks_pred)
    borders_of = masks_true if instances is None else np.asarray(instances)
    if borders_of.shape != masks_true.shape:
        arguments.shape_error("instances", masks_true.shape, borders_of.shape)
    band = boundary_band(borders_of, radius)
    return mean_iou(segmentation_confusion_matrix(masks_true, masks_pred, num_classes, band))


def touching_pairs(instances, masks):
    """The pairs ``(i, j)``, ``i < j``, of objects of one class that share a 4-neighbour edge.

    Args:
        instances: ``(H, W)`` instance ids (0 background).
        masks: ``(H, W)`` class ids.

    Returns:
        Sorted list of ``(i, j)`` instance-id pairs.

    Example:
        >>> touching_pairs([[1, 2, 0, 3]], [[1, 1, 0, 1]])
        [(1, 2)]
    """
    instances, masks = np.asarray(instances), np.asarray(masks)
    if instances.shape != masks.shape or instances.ndim != 2:
        arguments.shape_error("instances", f"(H, W) as masks {masks.shape}", instances.shape)
    pairs = set()
    for a, b, ma, mb in ((instances[1:], instances[:-1], masks[1:], masks[:-1]),
                         (instances[:, 1:], instances[:, :-1], masks[:, 1:], masks[:, :-1])):
        edge = (a != b) & (a > 0) & (b > 0) & (ma == mb)
        pairs.update(zip(np.minimum(a, b)[edge].tolist(), np.maximum(a, b)[edge].tolist()))
    return sorted(pairs)


def separated_objects(instances, masks_true, masks_pred):
    """How many touching same-class pairs of objects (``touching_pairs``) a prediction separates.

    Each object is matched to the connected component (4-connectivity) of its class in the
    predicted label map that covers most of its pixels; a pair is separated when both objects
    have a component and the two differ (a semantic segmentation that merges them into one blob
    does not separate them: the point of the U-Net border weights).

    Args:
        instances: ``(N, H, W)`` true instance ids.
        masks_true: ``(N, H, W)`` true class ids.
        masks_pred: ``(N, H, W)`` predicted class ids or ``(N, H, W, classes)`` scores.

    Returns:
        ``(separated, pairs)``: the number of pairs separated and the number of pairs.
    """
    masks_true, masks_pred = _label_maps(masks_true, masks_pred)
    instances = np.asarray(instances)
    if instances.shape != masks_true.shape:
        arguments.shape_error("instances", masks_true.shape, instances.shape)
    separated = total = 0
    for image_instances, truth, prediction in zip(instances, masks_true, masks_pred):
        pairs = touching_pairs(image_instances, truth)
        total += len(pairs)
        component = {}
        for obj in {i for pair in pairs for i in pair}:
            pixels = image_instances == obj
            labels, _ = scipy.ndimage.label(prediction == truth[pixels][0])
            counts = np.bincount(labels[pixels])
            counts[0] = 0  # pixels predicted as another class belong to no component
            component[obj] = int(counts.argmax()) if counts.max() > 0 else 0
        separated += sum(
            component[i] > 0 and component[j] > 0 and component[i] != component[j]
            for i, j in pairs
        )
    return separated, total
