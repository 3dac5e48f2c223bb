"""Bounding-box operations for object detection, written in ``keras.ops``.

Course notes: "CNN for Object Detection", "Fast R-CNN", "Faster R-CNN" and "YOLO".

Box conventions (the last axis of every box tensor has 4 entries):

* **normalized** — the tfds convention ``[ymin, xmin, ymax, xmax]`` as fractions of the image
  height and width (``tfds.features.BBoxFeature``);
* **pixels** (also called *corners*) — ``[y1, x1, y2, x2]`` in absolute input-image pixels;
  this is what every function below takes unless it says otherwise;
* **center** — ``[center_y, center_x, height, width]`` in pixels.

Coordinates are continuous: a box ``[y1, x1, y2, x2]`` has height ``y2 - y1`` and width
``x2 - x1`` (no "+1" pixel convention as in the original Pascal VOC code).

Deltas follow Faster R-CNN (Ren et al., 2015), in ``[dy, dx, dh, dw]`` order::

    dy = (y - y_a) / h_a        dx = (x - x_a) / w_a
    dh = log(h / h_a)           dw = log(w / w_a)

where ``(y, x, h, w)`` is the box and ``(y_a, x_a, h_a, w_a)`` the anchor in center format;
each delta is then divided by its ``variance`` (SSD-style scaling; Detectron's
``weights=(10, 10, 5, 5)`` equal ``variances=(0.1, 0.1, 0.2, 0.2)``).
"""

import math

import keras
from keras import ops

from kerasnn import arguments

# Detectron / torchvision clip dh and dw at log(1000 / 16) before exp() so that a wild
# regression output cannot overflow into an infinite box.
DEFAULT_LOG_SCALE_CLIP = math.log(1000.0 / 16.0)


def _check_last_dim(boxes, name):
    if len(boxes.shape) < 1 or boxes.shape[-1] not in (4, None):
        raise ValueError(
            f"`{name}` must have a last dimension of size 4 ([y1, x1, y2, x2]). "
            f"Received: {name}.shape={tuple(boxes.shape)}"
        )


def _as_float_tensor(boxes, name):
    boxes = ops.convert_to_tensor(boxes)
    if not keras.backend.is_float_dtype(boxes.dtype):
        boxes = ops.cast(boxes, "float32")
    _check_last_dim(boxes, name)
    return boxes


def _split(boxes):
    return [boxes[..., i] for i in range(4)]


def _check_image_shape(image_shape):
    if len(image_shape) != 2 or any(s is None or s <= 0 for s in image_shape):
        arguments.fail("image_shape", "(height, width) with positive entries", image_shape)


def normalized_to_pixels(boxes, image_shape):
    """tfds normalized ``[ymin, xmin, ymax, xmax]`` to pixel ``[y1, x1, y2, x2]``.

    Args:
        boxes: tensor ``(..., 4)`` of normalized coordinates.
        image_shape: ``(height, width)`` of the image in pixels.

    Returns:
        Tensor ``(..., 4)``: ``[ymin * height, xmin * width, ymax * height, xmax * width]``.
    """
    _check_image_shape(image_shape)
    boxes = _as_float_tensor(boxes, "boxes")
    height, width = image_shape
    scale = ops.convert_to_tensor([height, width, height, width], dtype=boxes.dtype)
    return boxes * scale


def pixels_to_normalized(boxes, image_shape):
    """Pixel ``[y1, x1, y2, x2]`` to tfds normalized ``[ymin, xmin, ymax, xmax]``.

    The inverse of :func:`normalized_to_pixels` (no clipping to ``[0, 1]``).
    """
    _check_image_shape(image_shape)
    boxes = _as_float_tensor(boxes, "boxes")
    height, width = image_shape
    scale = ops.convert_to_tensor([height, width, height, width], dtype=boxes.dtype)
    return boxes / scale


def corners_to_center(boxes):
    """``[y1, x1, y2, x2]`` to ``[center_y, center_x, height, width]``."""
    boxes = _as_float_tensor(boxes, "boxes")
    y1, x1, y2, x2 = _split(boxes)
    return ops.stack([(y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1], axis=-1)


def center_to_corners(boxes):
    """``[center_y, center_x, height, width]`` to ``[y1, x1, y2, x2]``."""
    boxes = _as_float_tensor(boxes, "boxes")
    cy, cx, h, w = _split(boxes)
    return ops.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], axis=-1)


def area(boxes):
    """Area ``(y2 - y1) * (x2 - x1)`` of ``[y1, x1, y2, x2]`` boxes; inverted boxes count as 0."""
    boxes = _as_float_tensor(boxes, "boxes")
    y1, x1, y2, x2 = _split(boxes)
    return ops.maximum(y2 - y1, 0) * ops.maximum(x2 - x1, 0)


def clip_to_image(boxes, image_shape):
    """Clip ``[y1, x1, y2, x2]`` pixel boxes to ``[0, height] x [0, width]``."""
    _check_image_shape(image_shape)
    boxes = _as_float_tensor(boxes, "boxes")
    height, width = image_shape
    upper = ops.convert_to_tensor([height, width, height, width], dtype=boxes.dtype)
    return ops.minimum(ops.maximum(boxes, 0), upper)


def pairwise_iou(boxes1, boxes2):
    """Intersection over union of every pair of boxes.

    ``IoU(a, b) = area(a ∩ b) / (area(a) + area(b) - area(a ∩ b))``, with inverted boxes
    (``y2 < y1`` or ``x2 < x1``) counted as empty. When the union is 0 (two empty boxes) the
    IoU is defined as 0.

    Args:
        boxes1: ``(..., N, 4)`` boxes ``[y1, x1, y2, x2]``.
        boxes2: ``(..., M, 4)`` boxes, same leading batch dimensions as ``boxes1``.

    Returns:
        ``(..., N, M)`` tensor of IoU values in ``[0, 1]``.
    """
    boxes1 = _as_float_tensor(boxes1, "boxes1")
    boxes2 = ops.cast(_as_float_tensor(boxes2, "boxes2"), boxes1.dtype)
    a = ops.expand_dims(boxes1, -2)  # (..., N, 1, 4)
    b = ops.expand_dims(boxes2, -3)  # (..., 1, M, 4)
    inter_h = ops.maximum(ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0]), 0)
    inter_w = ops.maximum(ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1]), 0)
    intersection = inter_h * inter_w
    union = area(a) + area(b) - intersection
    safe_union = ops.where(union > 0, union, ops.ones_like(union))
    return ops.where(union > 0, intersection / safe_union, ops.zeros_like(union))


def _variances_tensor(variances, dtype):
    if variances is None:
        variances = (1.0, 1.0, 1.0, 1.0)
    variances = tuple(float(v) for v in variances)  # [dy, dx, dh, dw]
    arguments.positive_numbers("variances", variances, 4)
    return ops.convert_to_tensor(variances, dtype=dtype)


def encode_deltas(boxes, anchors, variances=None):
    """Faster R-CNN regression targets of ``boxes`` relative to ``anchors``.

    ``[dy, dx, dh, dw] = [(y - y_a) / h_a, (x - x_a) / w_a, log(h / h_a), log(w / w_a)]``
    ``/ variances``
    (course notes, "Faster R-CNN": the regression branch predicts 4k refinements per location).

    Args:
        boxes: ``(..., 4)`` target boxes ``[y1, x1, y2, x2]`` with positive height and width.
        anchors: ``(..., 4)`` anchors, broadcastable to ``boxes``, with positive size.
        variances: optional 4 positive divisors for ``[dy, dx, dh, dw]``; ``None`` means 1.

    Returns:
        ``(..., 4)`` deltas. Boxes of zero height or width give ``-inf`` log-scales.
    """
    boxes = _as_float_tensor(boxes, "boxes")
    anchors = ops.cast(_as_float_tensor(anchors, "anchors"), boxes.dtype)
    by, bx, bh, bw = _split(corners_to_center(boxes))
    ay, ax, ah, aw = _split(corners_to_center(anchors))
    deltas = ops.stack(
        [(by - ay) / ah, (bx - ax) / aw, ops.log(bh / ah), ops.log(bw / aw)], axis=-1
    )
    return deltas / _variances_tensor(variances, deltas.dtype)


def decode_deltas(deltas, anchors, variances=None, log_scale_clip=DEFAULT_LOG_SCALE_CLIP):
    """Inverse of :func:`encode_deltas`: apply ``[dy, dx, dh, dw]`` to ``anchors``.

    ``y = y_a + dy * h_a``, ``x = x_a + dx * w_a``, ``h = h_a * exp(min(dh, clip))``,
    ``w = w_a * exp(min(dw, clip))`` after multiplying the deltas by ``variances``. The clip
    (default ``log(1000 / 16)``, as in Detectron) bounds how much one step may enlarge an anchor.

    Args:
        deltas: ``(..., 4)`` predicted deltas.
        anchors: ``(..., 4)`` anchors ``[y1, x1, y2, x2]``, broadcastable to ``deltas``.
        variances: the variances used in :func:`encode_deltas`.
        log_scale_clip: upper bound on ``dh`` and ``dw`` (after variance scaling);
            ``None`` disables clipping.

    Returns:
        ``(..., 4)`` boxes ``[y1, x1, y2, x2]``.
    """
    deltas = _as_float_tensor(deltas, "deltas")
    anchors = ops.cast(_as_float_tensor(anchors, "anchors"), deltas.dtype)
    deltas = deltas * _variances_tensor(variances, deltas.dtype)
    dy, dx, dh, dw = _split(deltas)
    if log_scale_clip is not None:
        dh = ops.minimum(dh, log_scale_clip)
        dw = ops.minimum(dw, log_scale_clip)
    ay, ax, ah, aw = _split(corners_to_center(anchors))
    center = ops.stack([ay + dy * ah, ax + dx * aw, ah * ops.exp(dh), aw * ops.exp(dw)], axis=-1)
    return center_to_corners(center)


def generate_anchors(feature_shape, stride, scales, aspect_ratios, offset=0.5):
    """Anchor boxes at every location of a feature map (Faster R-CNN's region proposal network).

    For feature-map cell ``(i, j)`` the anchors are centred at
    ``((i + offset) * stride, (j + offset) * stride)`` in input pixels. For each aspect ratio
    ``r = height / width`` (torchvision's convention) and scale ``s`` (the square root of the
    anchor area, in pixels) the anchor has ``height = s * sqrt(r)`` and ``width = s / sqrt(r)``.
    Unlike torchvision the sizes are not rounded to integers.

    Order: row-major over cells; within a cell, aspect-ratio-major then scale, i.e. anchor
    ``((i * W + j) * len(aspect_ratios) + r) * len(scales) + s``.

    Args:
        feature_shape: ``(height, width)`` of the feature map, positive ints.
        stride: input pixels per feature-map cell (positive number, or ``(stride_y, stride_x)``).
        scales: sequence of positive anchor sizes in pixels.
        aspect_ratios: sequence of positive height/width ratios.
        offset: position of the centre inside a cell, in cells (0.5 = cell centre).

    Returns:
        ``(height * width * len(aspect_ratios) * len(scales), 4)`` float32 tensor of
        ``[y1, x1, y2, x2]`` anchors.
    """
    feature_shape = arguments.image_shape("feature_shape", feature_shape, rank=2)
    if isinstance(stride, (tuple, list)):
        strides = arguments.positive_numbers("stride", stride, 2)
    else:
        strides = (arguments.positive_number("stride", stride),) * 2
    arguments.positive_numbers("scales", scales)
    arguments.positive_numbers("aspect_ratios", aspect_ratios)
    ratios = ops.convert_to_tensor(list(aspect_ratios), "float32")
    sizes = ops.convert_to_tensor(list(scales), "float32")
    heights = ops.reshape(ops.sqrt(ratios)[:, None] * sizes[None, :], (-1,))  # (k,)
    widths = ops.reshape(sizes[None, :] / ops.sqrt(ratios)[:, None], (-1,))
    rows = (ops.arange(feature_shape[0], dtype="float32") + offset) * strides[0]
    cols = (ops.arange(feature_shape[1], dtype="float32") + offset) * strides[1]
    cy, cx = ops.meshgrid(rows, cols, indexing="ij")  # (H, W)
    cy = ops.reshape(cy, (-1, 1))
    cx = ops.reshape(cx, (-1, 1))
    anchors = ops.stack(
        [cy - heights / 2, cx - widths / 2, cy + heights / 2, cx + widths / 2], axis=-1
    )  # (H * W, k, 4)
    return ops.reshape(anchors, (-1, 4))


def non_max_suppression(
    boxes,
    scores,
    max_detections_per_class=100,
    max_detections=100,
    iou_threshold=0.5,
    score_threshold=None,
    max_candidates_per_class=None,
):
    """Greedy per-class non-maximum suppression with fixed-size (padded) outputs.

    For each image and class independently: boxes are visited by decreasing score (ties: the
    lower box index first); a box is kept unless a box kept before it has ``IoU > iou_threshold``
    with it (strict, as torchvision and ``tf.image.non_max_suppression``). Boxes whose score is
    not ``> score_threshold``, or is NaN, or that have a NaN coordinate, are never kept. At most
    ``max_detections_per_class`` boxes are kept per class; then the kept boxes of all classes are
    merged and the ``max_detections`` best are returned (ties: the lower class first, then the
    earlier position in that class's ranking). Every shape is static, so the function runs
    under ``jit_compile=True``.

    Args:
        boxes: ``(batch, num_boxes, 4)`` boxes shared by all classes, or
            ``(batch, num_boxes, num_classes, 4)`` class-specific boxes, as ``[y1, x1, y2, x2]``.
        scores: ``(batch, num_boxes, num_classes)`` scores.
        max_detections_per_class: positive int.
        max_detections: positive int, the size of the padded outputs.
        iou_threshold: float in ``[0, 1]``.
        score_threshold: float or ``None`` (no threshold).
        max_candidates_per_class: if set, only the best this many boxes of each class enter the
            suppression (Faster R-CNN's pre-NMS top-k). The suppression holds a
            ``(batch, num_classes, k, k)`` IoU matrix and loops ``k`` times, where ``k`` is this
            number or ``num_boxes``, so set it when there are thousands of boxes.

    Returns:
        A dict with ``"boxes"`` ``(batch, max_detections, 4)``, ``"scores"``
        ``(batch, max_detections)``, ``"classes"`` ``(batch, max_detections)`` int32 and
        ``"num_detections"`` ``(batch,)`` int32. Detections are sorted by decreasing score; the
        padding after ``num_detections`` has box 0, score 0 and class -1.
    """
    checked = [
        ("max_detections_per_class", max_detections_per_class),
        ("max_detections", max_detections),
    ]
    if max_candidates_per_class is not None:
        checked.append(("max_candidates_per_class", max_candidates_per_class))
    for name, value in checked:
        arguments.positive_int(name, value)
    arguments.probability("iou_threshold", iou_threshold)
    scores = ops.convert_to_tensor(scores)
    if not keras.backend.is_float_dtype(scores.dtype):
        scores = ops.cast(scores, "float32")
    boxes = ops.cast(_as_float_tensor(boxes, "boxes"), scores.dtype)
    if len(scores.shape) != 3:
        raise ValueError(
            "`scores` must have shape (batch, num_boxes, num_classes). "
            f"Received: scores.shape={tuple(scores.shape)}"
        )
    if len(boxes.shape) not in (3, 4):
        raise ValueError(
            "`boxes` must have shape (batch, num_boxes, 4) or (batch, num_boxes, num_classes, 4). "
            f"Received: boxes.shape={tuple(boxes.shape)}"
        )
    expected = tuple(scores.shape[:2]) + (tuple(scores.shape[2:3]) if len(boxes.shape) == 4 else ())
    if any(e is not None and r is not None and e != r for e, r in zip(expected, boxes.shape)):
        raise ValueError(
            f"`boxes` leading dimensions must match `scores` {expected}. "
            f"Received: boxes.shape={tuple(boxes.shape)}, scores.shape={tuple(scores.shape)}"
        )
    num_boxes = scores.shape[1]
    num_classes = scores.shape[2]
    if num_boxes is None or num_classes is None:
        raise ValueError(
            "`non_max_suppression` needs a static number of boxes and classes. "
            f"Received: scores.shape={tuple(scores.shape)}"
        )
    dtype = scores.dtype
    batch = ops.shape(scores)[0]

    class_scores = ops.transpose(scores, (0, 2, 1))  # (B, C, N)
    if len(boxes.shape) == 3:
        class_boxes = ops.broadcast_to(boxes[:, None], (batch, num_classes, num_boxes, 4))
    else:
        class_boxes = ops.transpose(boxes, (0, 2, 1, 3))  # (B, C, N, 4)
    valid = ops.logical_and(
        ops.logical_not(ops.isnan(class_scores)),
        ops.all(ops.logical_not(ops.isnan(class_boxes)), axis=-1),
    )
    if score_threshold is not None:
        valid = ops.logical_and(valid, class_scores > score_threshold)
    neg_inf = ops.convert_to_tensor(-float("inf"), dtype)
    ranked_scores = ops.where(valid, class_scores, neg_inf)
    candidates = num_boxes
    if max_candidates_per_class is not None:
        candidates = min(num_boxes, int(max_candidates_per_class))
    if candidates == 0:
        sorted_scores, order = ranked_scores, ops.zeros_like(ranked_scores, dtype="int32")
    else:
        sorted_scores, order = ops.top_k(ranked_scores, k=candidates, sorted=True)
    sorted_boxes = ops.take_along_axis(class_boxes, order[..., None], axis=2)
    keep = sorted_scores > neg_inf
    iou = pairwise_iou(sorted_boxes, sorted_boxes)  # (B, C, N, N)
    positions = ops.arange(candidates)

    def suppress_step(i, keep):
        kept_i = ops.take(keep, i, axis=-1)[..., None]  # final: only earlier boxes suppress i
        overlaps = ops.take(iou, i, axis=-2) > iou_threshold
        later = positions > i
        suppressed = ops.logical_and(ops.logical_and(kept_i, overlaps), later)
        return ops.logical_and(keep, ops.logical_not(suppressed))

    if candidates > 0:  # on JAX, ops.fori_loop(0, 0, ...) still traces its body (fails on N = 0)
        keep = ops.fori_loop(0, candidates, suppress_step, keep)
    rank = ops.cumsum(ops.cast(keep, "int32"), axis=-1)
    keep = ops.logical_and(keep, rank <= max_detections_per_class)

    flat_scores = ops.reshape(ops.where(keep, sorted_scores, neg_inf), (batch, -1))
    flat_boxes = ops.reshape(sorted_boxes, (batch, -1, 4))
    total = num_classes * candidates
    if total < max_detections:  # pad so that top_k can return max_detections entries
        padding = max_detections - total
        flat_scores = ops.pad(flat_scores, [[0, 0], [0, padding]], constant_values=-float("inf"))
        flat_boxes = ops.pad(flat_boxes, [[0, 0], [0, padding], [0, 0]])
    best_scores, best = ops.top_k(flat_scores, k=max_detections, sorted=True)
    found = best_scores > neg_inf
    out_boxes = ops.take_along_axis(flat_boxes, best[..., None], axis=1)
    out_boxes = ops.where(found[..., None], out_boxes, ops.zeros_like(out_boxes))
    classes = ops.where(found, ops.cast(best // max(candidates, 1), "int32"), -1)
    return {
        "boxes": out_boxes,
        "scores": ops.where(found, best_scores, ops.zeros_like(best_scores)),
        "classes": classes,
        "num_detections": ops.sum(ops.cast(found, "int32"), axis=-1),
    }
