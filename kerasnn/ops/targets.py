"""Training targets of two-stage detectors: anchor labelling, balanced sampling, RoI sampling.

Course notes, "Faster R-CNN": "During training, the probability is defined by measuring the
overlap with annotated BB". The notes give no thresholds; the values below are **the papers'**:

* RPN anchors (Ren et al., 2015, Faster R-CNN, section 3.1.2): positive when its IoU with a true
  box is ``>= 0.7`` *or* it is the anchor with the highest IoU for some true box; negative when
  its IoU is ``< 0.3`` with every true box; the rest is ignored. A mini-batch samples 256 anchors
  per image with up to half positives.
* Second-stage RoIs (Girshick, 2015, Fast R-CNN, section 2.3): foreground when IoU ``>= 0.5``
  with a true box, background when the best IoU is in ``[0.1, 0.5)``; 25% foreground.

Everything works on padded batches (``kerasnn.data.detection``): true boxes ``(batch, G, 4)``
pixel ``[y1, x1, y2, x2]`` and labels ``(batch, G)`` with ``-1`` for padding. A true box with a
negative label **or a non-positive area** (inverted or empty) is padding: it matches nothing.
Shapes are static and the functions are written in ``keras.ops`` (usable under ``jit_compile``).
Regression targets use ``kerasnn.ops.boxes.encode_deltas``.
"""

import keras
from keras import ops

from kerasnn import arguments
from kerasnn.ops import boxes as box_ops

# The Faster R-CNN paper's RPN values (section 3.1.2); the course notes give none.
PAPER_RPN_POSITIVE_IOU = 0.7
PAPER_RPN_NEGATIVE_IOU = 0.3
PAPER_RPN_SAMPLES = 256
PAPER_RPN_POSITIVE_FRACTION = 0.5
# The Fast R-CNN paper's values (section 2.3).
PAPER_FOREGROUND_IOU = 0.5
PAPER_BACKGROUND_IOU = (0.1, 0.5)
PAPER_FOREGROUND_FRACTION = 0.25

IGNORED = -1


def _prepare_truth(gt_boxes, gt_labels):
    gt_boxes = ops.convert_to_tensor(gt_boxes)
    if not keras.backend.is_float_dtype(gt_boxes.dtype):
        gt_boxes = ops.cast(gt_boxes, "float32")
    gt_labels = ops.cast(ops.convert_to_tensor(gt_labels), "int32")
    if len(gt_boxes.shape) != 3 or gt_boxes.shape[-1] != 4:
        arguments.shape_error("gt_boxes", "(batch, num_boxes, 4)", gt_boxes.shape)
    if tuple(gt_labels.shape) != tuple(gt_boxes.shape[:2]) and (
        len(gt_labels.shape) != 2 or gt_labels.shape[1] != gt_boxes.shape[1]
    ):
        arguments.shape_error("gt_labels", f"(batch, {gt_boxes.shape[1]})", gt_labels.shape)
    if gt_boxes.shape[1] == 0:  # one padding row keeps max/argmax over the boxes defined
        gt_boxes = ops.zeros((ops.shape(gt_boxes)[0], 1, 4), gt_boxes.dtype)
        gt_labels = ops.full((ops.shape(gt_labels)[0], 1), -1, "int32")
    valid = ops.logical_and(gt_labels >= 0, box_ops.area(gt_boxes) > 0)
    return gt_boxes, gt_labels, valid


def _match(candidates, gt_boxes, valid):
    """IoU ``(batch, N, G)`` with padding columns at -1, best IoU and best true-box index."""
    iou = box_ops.pairwise_iou(candidates, gt_boxes)
    iou = ops.where(valid[:, None, :], iou, -ops.ones_like(iou))
    return iou, ops.max(iou, axis=-1), ops.cast(ops.argmax(iou, axis=-1), "int32")


def _matched_deltas(candidates, gt_boxes, matched, use, variances):
    """``encode_deltas`` of each candidate's matched true box, 0 where ``use`` is False."""
    target = ops.take_along_axis(gt_boxes, matched[..., None], axis=1)
    # Unused rows encode a unit box against itself: delta 0, never 0 / 0 or log(0) (padding
    # proposals are empty boxes).
    unit = ops.convert_to_tensor([0.0, 0.0, 1.0, 1.0], candidates.dtype)
    target = ops.where(use[..., None], target, unit)
    reference = ops.where(use[..., None], candidates, unit)
    return box_ops.encode_deltas(target, reference, variances)


def label_anchors(
    anchors,
    gt_boxes,
    gt_labels,
    positive_threshold=PAPER_RPN_POSITIVE_IOU,
    negative_threshold=PAPER_RPN_NEGATIVE_IOU,
    best_match=True,
    image_shape=None,
):
    """Label every anchor positive (1), negative (0) or ignored (-1) by IoU with the true boxes.

    An anchor is positive when its best IoU is ``>= positive_threshold``, or (``best_match``) when
    it has the highest IoU of all anchors with some true box (ties all count, IoU > 0); negative
    when its best IoU is ``< negative_threshold``; ignored otherwise. An image without true boxes
    has only negatives. With ``image_shape`` given, anchors that cross the image border are
    ignored (the paper's training rule). The defaults are the Faster R-CNN paper's 0.7 / 0.3.

    Args:
        anchors: ``(num_anchors, 4)`` pixel boxes (``kerasnn.ops.boxes.generate_anchors``).
        gt_boxes: ``(batch, G, 4)`` true pixel boxes.
        gt_labels: ``(batch, G)`` class ids, ``-1`` for padding.
        positive_threshold, negative_threshold: IoU thresholds, ``negative <= positive``.
        best_match: also make each true box's best anchor positive.
        image_shape: optional ``(height, width)``; border-crossing anchors are ignored.

    Returns:
        dict: ``"labels"`` ``(batch, num_anchors)`` int32 in ``{1, 0, -1}``, ``"matched"`` the
        index of the best true box, ``"max_iou"`` its IoU (``-1`` when there is none).
    """
    positive_threshold = arguments.probability("positive_threshold", positive_threshold)
    negative_threshold = arguments.probability("negative_threshold", negative_threshold)
    if negative_threshold > positive_threshold:
        arguments.fail(
            "negative_threshold", f"<= positive_threshold={positive_threshold}",
            negative_threshold,
        )
    gt_boxes, gt_labels, valid = _prepare_truth(gt_boxes, gt_labels)
    anchors = ops.cast(box_ops._as_float_tensor(anchors, "anchors"), gt_boxes.dtype)
    batch = ops.shape(gt_boxes)[0]
    batched_anchors = ops.broadcast_to(anchors[None], (batch,) + tuple(anchors.shape))
    iou, max_iou, matched = _match(batched_anchors, gt_boxes, valid)
    labels = ops.where(max_iou >= positive_threshold, 1, ops.where(max_iou < negative_threshold,
                                                                    0, IGNORED))
    if best_match:
        best_per_box = ops.max(iou, axis=1, keepdims=True)  # (batch, 1, G)
        is_best = ops.logical_and(iou == best_per_box, best_per_box > 0)
        labels = ops.where(ops.any(is_best, axis=-1), 1, labels)
    if image_shape is not None:
        height, width = arguments.image_shape("image_shape", image_shape, rank=2)
        inside = ops.all(
            ops.logical_and(anchors >= 0, anchors <= ops.convert_to_tensor(
                [height, width, height, width], anchors.dtype)),
            axis=-1,
        )
        labels = ops.where(inside[None], labels, IGNORED)
    return {"labels": ops.cast(labels, "int32"), "matched": matched, "max_iou": max_iou}


def _random_rank(members, seed):
    """Each member's position in a random order of the members (non-members rank last)."""
    noise = keras.random.uniform(ops.shape(members), seed=seed)
    keys = ops.where(members, noise, 2.0)
    return ops.argsort(ops.argsort(keys, axis=-1), axis=-1)


def sample_balanced(labels, num_samples=PAPER_RPN_SAMPLES,
                    positive_fraction=PAPER_RPN_POSITIVE_FRACTION, seed=None):
    """Randomly keep at most ``num_samples`` labelled entries per image, balanced.

    Up to ``round(num_samples * positive_fraction)`` positives (label ``>= 1``) are kept at
    random; negatives (label 0) fill the rest of ``num_samples``, at random. Entries not kept
    become ``-1`` (ignored by the losses). Used for the RPN's 256 anchors per image (the paper's
    1:1) and inside :func:`sample_rois`.

    Args:
        labels: ``(batch, N)`` int labels: ``>= 1`` positive, ``0`` negative, ``-1`` ignored.
        num_samples: positive int.
        positive_fraction: rate in ``[0, 1]``.
        seed: ``keras.random`` seed (int or ``keras.random.SeedGenerator``).

    Returns:
        ``(batch, N)`` int32 labels with the unsampled entries set to ``-1``.
    """
    num_samples = arguments.positive_int("num_samples", num_samples)
    positive_fraction = arguments.probability("positive_fraction", positive_fraction)
    labels = ops.cast(ops.convert_to_tensor(labels), "int32")
    keep = _balanced_keep(labels >= 1, labels == 0, num_samples, positive_fraction, seed)
    return ops.where(keep, labels, IGNORED)


def _balanced_keep(positive, negative, num_samples, positive_fraction, seed):
    seed = seed if seed is not None else keras.random.SeedGenerator()
    max_positive = int(round(num_samples * positive_fraction))
    keep_positive = ops.logical_and(positive, _random_rank(positive, seed) < max_positive)
    kept = ops.sum(ops.cast(keep_positive, "int32"), axis=-1, keepdims=True)
    keep_negative = ops.logical_and(negative, _random_rank(negative, seed) < num_samples - kept)
    return ops.logical_or(keep_positive, keep_negative)


def anchor_targets(
    anchors,
    gt_boxes,
    gt_labels,
    num_samples=PAPER_RPN_SAMPLES,
    positive_fraction=PAPER_RPN_POSITIVE_FRACTION,
    positive_threshold=PAPER_RPN_POSITIVE_IOU,
    negative_threshold=PAPER_RPN_NEGATIVE_IOU,
    variances=None,
    image_shape=None,
    seed=None,
):
    """The RPN's targets: sampled objectness labels and box deltas for every anchor.

    :func:`label_anchors` then :func:`sample_balanced`; the regression target of a positive
    anchor is ``encode_deltas(matched true box, anchor, variances)``, 0 elsewhere.

    Returns:
        dict: ``"objectness"`` ``(batch, A)`` int32 (1 object, 0 background, -1 not in the
        mini-batch) and ``"box_deltas"`` ``(batch, A, 4)``.
    """
    labelled = label_anchors(anchors, gt_boxes, gt_labels, positive_threshold,
                             negative_threshold, image_shape=image_shape)
    objectness = sample_balanced(labelled["labels"], num_samples, positive_fraction, seed)
    gt_boxes, _, _ = _prepare_truth(gt_boxes, gt_labels)
    anchors = ops.cast(ops.convert_to_tensor(anchors), gt_boxes.dtype)
    batched = ops.broadcast_to(anchors[None], (ops.shape(gt_boxes)[0],) + tuple(anchors.shape))
    deltas = _matched_deltas(batched, gt_boxes, labelled["matched"], objectness == 1, variances)
    return {"objectness": objectness, "box_deltas": deltas}


def sample_rois(
    proposals,
    gt_boxes,
    gt_labels,
    num_rois=128,
    foreground_fraction=PAPER_FOREGROUND_FRACTION,
    foreground_threshold=PAPER_FOREGROUND_IOU,
    background_range=PAPER_BACKGROUND_IOU,
    include_ground_truth=True,
    variances=None,
    seed=None,
):
    """The second stage's training RoIs: a fixed number per image, labelled and with targets.

    The true boxes are appended to the proposals (``include_ground_truth``, as Detectron does,
    so early in training every image has foreground). A RoI is foreground when its best IoU is
    ``>= foreground_threshold`` (target class = that box's label + 1), background when the best
    IoU is in ``background_range`` (class 0); up to ``round(num_rois * foreground_fraction)``
    foregrounds are sampled at random and backgrounds fill the rest. When an image has fewer
    eligible RoIs than ``num_rois``, the remaining slots hold other RoIs with class ``-1``
    (ignored by the losses), so the output shape is always fixed.

    Args:
        proposals: ``(batch, P, 4)`` pixel boxes (the proposal layer's output).
        gt_boxes, gt_labels: padded true boxes ``(batch, G, 4)`` and labels ``(batch, G)``.
        num_rois: RoIs per image (positive int, at most ``P + G``).
        foreground_fraction: rate in ``[0, 1]``.
        foreground_threshold: IoU for foreground.
        background_range: ``(low, high)`` IoU interval ``[low, high)`` for background.
        include_ground_truth: append the true boxes to the candidates.
        variances: ``encode_deltas`` variances of the regression targets.
        seed: ``keras.random`` seed.

    Returns:
        dict: ``"rois"`` ``(batch, num_rois, 4)``, ``"classes"`` ``(batch, num_rois)`` int32
        (``-1`` ignored, ``0`` background, ``c + 1`` class ``c``), ``"box_deltas"``
        ``(batch, num_rois, 4)`` (0 except for foreground) and ``"max_iou"``.
    """
    num_rois = arguments.positive_int("num_rois", num_rois)
    foreground_fraction = arguments.probability("foreground_fraction", foreground_fraction)
    foreground_threshold = arguments.probability("foreground_threshold", foreground_threshold)
    low, high = (float(v) for v in background_range)
    if not 0 <= low <= high <= 1:
        arguments.fail("background_range", "(low, high) with 0 <= low <= high <= 1",
                       background_range)
    seed = seed if seed is not None else keras.random.SeedGenerator()
    gt_boxes, gt_labels, valid = _prepare_truth(gt_boxes, gt_labels)
    proposals = ops.cast(box_ops._as_float_tensor(proposals, "proposals"), gt_boxes.dtype)
    candidates, usable = proposals, ops.ones(ops.shape(proposals)[:2], "bool")
    if include_ground_truth:
        candidates = ops.concatenate([proposals, gt_boxes], axis=1)
        usable = ops.concatenate([usable, valid], axis=1)
    total = candidates.shape[1]
    if total is None or num_rois > total:
        arguments.fail("num_rois", f"at most the number of candidate boxes ({total})", num_rois)
    _, max_iou, matched = _match(candidates, gt_boxes, valid)
    foreground = ops.logical_and(usable, max_iou >= foreground_threshold)
    background = ops.logical_and(
        usable, ops.logical_and(max_iou >= low, max_iou < high)
    )
    keep = _balanced_keep(foreground, background, num_rois, foreground_fraction, seed)
    # Kept RoIs first (keys in [1, 2)), then the others as ignored fillers (keys in [0, 1)).
    noise = keras.random.uniform(ops.shape(max_iou), seed=seed)
    _, order = ops.top_k(ops.cast(keep, noise.dtype) + noise, k=num_rois)
    rois = ops.take_along_axis(candidates, order[..., None], axis=1)
    kept, is_foreground, matched, max_iou = (
        ops.take_along_axis(x, order, axis=1) for x in (keep, foreground, matched, max_iou)
    )
    labels_of_match = ops.take_along_axis(gt_labels, matched, axis=1)
    classes = ops.where(is_foreground, labels_of_match + 1, 0)
    classes = ops.where(kept, classes, IGNORED)
    use = ops.logical_and(kept, is_foreground)
    deltas = _matched_deltas(rois, gt_boxes, matched, use, variances)
    return {"rois": rois, "classes": ops.cast(classes, "int32"), "box_deltas": deltas,
            "max_iou": max_iou}
