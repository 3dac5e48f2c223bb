"""YOLO's grid targets and decoding, written in ``keras.ops`` (anchor priors in NumPy).

Course notes, "YOLO": the image is divided into an ``H x L`` grid, each cell holds ``B`` anchor
boxes, and for each anchor of each cell one forward pass predicts the offset of the base box
``(dx, dy, dh, dw)``, an objectness score and ``C`` class scores: an output of
``H x L x B x (5 + C)``. The notes' "``C`` categories + background" is what the objectness does:
``1 - objectness`` is the probability that the anchor holds background, so the class scores only
cover the ``C`` object classes (as in the papers).

The notes give the output tensor only; the parameterization is **YOLO v2's** (Redmon & Farhadi,
2017, "Direct location prediction"), on the channels ``[ty, tx, th, tw, to, class logits]``::

    centre_y = (row + sigmoid(ty)) * cell_height     height = anchor_height * exp(th)
    centre_x = (col + sigmoid(tx)) * cell_width      width  = anchor_width  * exp(tw)
    objectness = sigmoid(to)                          class probabilities = softmax(logits)

and a detection's score is YOLO's class-specific confidence ``objectness * P(class | object)``.

Target encoding (v1's rule with v2's anchors): a true box is assigned to the grid cell holding its
centre and, in that cell, to the anchor whose shape has the best IoU with the box's shape (both
centred at the same point). Its target is ``[offset_y, offset_x, height, width, 1, class]`` with
the offsets the centre's position inside the cell, in ``[0, 1)``, and the sizes as fractions of
the image; every other anchor has ``[0, 0, 0, 0, 0, -1]``. When two boxes fall on the same cell
and anchor, the first (lowest index) keeps it and the other has no target (it cannot be
predicted: the papers' implementations overwrite one with the other the same way).

Anchors are ``(B, 2)`` ``[height, width]`` **fractions of the image** (v2 chooses them by k-means
on the training boxes: :func:`anchor_priors`). Boxes are ``kerasnn.ops.boxes``' pixel
``[y1, x1, y2, x2]``; padding (label ``< 0`` or empty box) is ignored, as in ``ops.targets``.
"""

import numpy as np
from keras import ops

from kerasnn import arguments
from kerasnn.ops import boxes as box_ops
from kerasnn.ops import targets as target_ops

# The layout of an encoded target's last axis.
TARGET_SIZE = 6  # [offset_y, offset_x, height, width, objectness, class]


def check_anchors(anchors):
    """``anchors`` as a ``(B, 2)`` float32 NumPy array of ``[height, width]`` image fractions."""
    array = np.asarray(anchors, "float32")
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0 or not np.all(array > 0):
        arguments.fail("anchors", "a non-empty (num_anchors, 2) array of positive [height, width] "
                       "image fractions", np.asarray(anchors).tolist())
    return array


def _grid(grid_shape, image_shape):
    rows, cols = arguments.image_shape("grid_shape", grid_shape, rank=2)
    height, width = arguments.image_shape("image_shape", image_shape, rank=2)
    return rows, cols, height / rows, width / cols


def shape_iou(sizes, anchors):
    """IoU of boxes and anchors of the given ``[height, width]`` placed at the same centre.

    ``min(h, h_a) * min(w, w_a) / (h * w + h_a * w_a - min(h, h_a) * min(w, w_a))``

    Args:
        sizes: ``(..., 2)`` box heights and widths.
        anchors: ``(B, 2)`` anchor heights and widths (same unit).

    Returns:
        ``(..., B)`` IoU values (0 when both areas are 0).
    """
    sizes = ops.convert_to_tensor(sizes, "float32")[..., None, :]
    anchors = ops.convert_to_tensor(anchors, "float32")
    inter = ops.prod(ops.minimum(sizes, anchors), axis=-1)
    union = ops.prod(sizes, axis=-1) + ops.prod(anchors, axis=-1) - inter
    return ops.where(union > 0, inter / ops.where(union > 0, union, 1.0), 0.0)


def encode_targets(gt_boxes, gt_labels, grid_shape, image_shape, anchors):
    """YOLO's training targets of padded true boxes (see the module docstring for the rule).

    Args:
        gt_boxes: ``(batch, G, 4)`` pixel boxes ``[y1, x1, y2, x2]``.
        gt_labels: ``(batch, G)`` class ids, ``-1`` for padding.
        grid_shape: ``(H, L)``, the grid.
        image_shape: ``(height, width)`` of the images in pixels.
        anchors: ``(B, 2)`` anchor ``[height, width]`` as image fractions.

    Returns:
        ``(batch, H, L, B, 6)`` float32 targets ``[offset_y, offset_x, height, width,
        objectness, class]`` (sizes as image fractions, class ``-1`` where no object).

    Example:

    >>> targets = encode_targets([[[8.0, 8.0, 24.0, 40.0]]], [[2]], (2, 2), (32, 64),
    ...                          [[0.5, 0.25], [0.5, 0.5]])
    >>> # centre (16, 24), size 16 x 32: row 16 // 16 = 1, column 24 // 32 = 0, anchor 1
    >>> np.asarray(targets[0, 1, 0, 1]).tolist()
    [0.0, 0.75, 0.5, 0.5, 1.0, 2.0]
    """
    rows, cols, cell_height, cell_width = _grid(grid_shape, image_shape)
    height, width = image_shape
    anchors = check_anchors(anchors)
    num_anchors = len(anchors)
    gt_boxes, gt_labels, valid = target_ops._prepare_truth(gt_boxes, gt_labels)
    gt_boxes = ops.cast(gt_boxes, "float32")
    centre = box_ops.corners_to_center(gt_boxes)  # [cy, cx, h, w] pixels
    grid_y, grid_x = centre[..., 0] / cell_height, centre[..., 1] / cell_width
    row = ops.clip(ops.floor(grid_y), 0, rows - 1)
    col = ops.clip(ops.floor(grid_x), 0, cols - 1)
    sizes = centre[..., 2:] / ops.convert_to_tensor([height, width], "float32")
    anchor = ops.argmax(shape_iou(sizes, anchors), axis=-1)
    slot = (ops.cast(row, "int32") * cols + ops.cast(col, "int32")) * num_anchors
    slot = slot + ops.cast(anchor, "int32")  # (batch, G)
    num_slots = rows * cols * num_anchors
    assigned = ops.one_hot(slot, num_slots) * ops.cast(valid, "float32")[..., None]  # (b, G, N)
    has_object = ops.max(assigned, axis=1) > 0  # (batch, N)
    first = ops.argmax(assigned, axis=1)  # the lowest-index box of each slot
    values = ops.stack([grid_y - row, grid_x - col, sizes[..., 0], sizes[..., 1],
                        ops.ones_like(row), ops.cast(gt_labels, "float32")], axis=-1)
    chosen = ops.take_along_axis(values, ops.cast(first, "int32")[..., None], axis=1)
    empty = ops.convert_to_tensor([0.0, 0.0, 0.0, 0.0, 0.0, -1.0], "float32")
    chosen = ops.where(has_object[..., None], chosen, empty)
    return ops.reshape(chosen, (-1, rows, cols, num_anchors, TARGET_SIZE))


def _cell_corners(grid_shape, image_shape):
    rows, cols, cell_height, cell_width = _grid(grid_shape, image_shape)
    row = ops.arange(rows, dtype="float32")[:, None, None]
    col = ops.arange(cols, dtype="float32")[None, :, None]
    return row, col, cell_height, cell_width


def decode_boxes(outputs, anchors, image_shape):
    """Pixel boxes of YOLO head outputs (the module docstring's v2 parameterization).

    Args:
        outputs: ``(batch, H, L, B, 5 + C)`` raw head outputs ``[ty, tx, th, tw, to, ...]``.
        anchors: ``(B, 2)`` anchor ``[height, width]`` image fractions.
        image_shape: ``(height, width)`` in pixels.

    Returns:
        ``(batch, H, L, B, 4)`` boxes ``[y1, x1, y2, x2]`` (``th``, ``tw`` clipped at
        ``log(1000 / 16)`` as ``ops.boxes.decode_deltas``).
    """
    outputs = ops.cast(ops.convert_to_tensor(outputs), "float32")
    _check_outputs(outputs.shape, len(check_anchors(anchors)))
    height, width = image_shape
    row, col, cell_height, cell_width = _cell_corners(outputs.shape[1:3], image_shape)
    anchors = ops.convert_to_tensor(check_anchors(anchors) * [height, width], "float32")
    centre_y = (row + ops.sigmoid(outputs[..., 0])) * cell_height
    centre_x = (col + ops.sigmoid(outputs[..., 1])) * cell_width
    scales = ops.exp(ops.minimum(outputs[..., 2:4], box_ops.DEFAULT_LOG_SCALE_CLIP))
    sizes = anchors * scales
    centre = ops.stack([centre_y, centre_x, sizes[..., 0], sizes[..., 1]], axis=-1)
    return box_ops.center_to_corners(centre)


def _check_outputs(shape, num_anchors, num_classes=None):
    shape = tuple(shape)
    if len(shape) != 5 or shape[3] != num_anchors or shape[4] is None or shape[4] < 6:
        arguments.shape_error("outputs", f"(batch, H, L, {num_anchors}, 5 + num_classes) with "
                              "num_classes >= 1 and a static grid", shape)
    if shape[1] is None or shape[2] is None:
        arguments.shape_error("outputs", "a static grid (H, L)", shape)


def detect(outputs, anchors, image_shape, max_detections=20, iou_threshold=0.5,
           score_threshold=0.05, max_candidates_per_class=32):
    """Detections of YOLO head outputs: decode, score, per-class NMS (``ops.boxes``).

    The score of class ``c`` at an anchor is ``sigmoid(to) * softmax(logits)_c`` (YOLO's
    class-specific confidence); boxes are clipped to the image, the best
    ``max_candidates_per_class`` of each class (``None``: all ``H * L * B``) enter
    :func:`kerasnn.ops.boxes.non_max_suppression`, which keeps the best ``max_detections`` (its
    loop runs once per candidate: the pre-NMS top-k keeps it short).

    Returns:
        ``non_max_suppression``'s padded dict: ``"boxes"``, ``"scores"``, ``"classes"`` (from 0,
        ``-1`` padding), ``"num_detections"``.
    """
    boxes = decode_boxes(outputs, anchors, image_shape)
    outputs = ops.cast(ops.convert_to_tensor(outputs), "float32")
    count = int(np.prod(outputs.shape[1:4]))
    boxes = box_ops.clip_to_image(ops.reshape(boxes, (-1, count, 4)), image_shape)
    objectness = ops.sigmoid(outputs[..., 4:5])
    scores = objectness * ops.softmax(outputs[..., 5:], axis=-1)
    scores = ops.reshape(scores, (-1, count, outputs.shape[-1] - 5))
    return box_ops.non_max_suppression(
        boxes, scores, max_detections_per_class=max_detections, max_detections=max_detections,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
        max_candidates_per_class=max_candidates_per_class)


def anchor_priors(box_sizes, num_anchors, iterations=50, seed=0):
    """YOLO v2's anchors: k-means of the training boxes' shapes with the distance ``1 - IoU``.

    Shapes are compared centred at one point (:func:`shape_iou`); each centre is the mean of its
    cluster; an emptied cluster keeps its centre. Initial centres: ``num_anchors`` distinct
    shapes drawn at random (``seed``).

    Args:
        box_sizes: ``(N, 2)`` box ``[height, width]`` (e.g. image fractions), positive.
        num_anchors: ``k``, positive int, at most the number of distinct shapes.
        iterations: positive int, the number of assignment/update steps at most.
        seed: NumPy seed of the initial centres.

    Returns:
        ``(num_anchors, 2)`` float32 centres sorted by area.
    """
    num_anchors = arguments.positive_int("num_anchors", num_anchors)
    iterations = arguments.positive_int("iterations", iterations)
    sizes = np.asarray(box_sizes, "float64")
    if sizes.ndim != 2 or sizes.shape[1] != 2 or not np.all(sizes > 0):
        arguments.shape_error("box_sizes", "(N, 2) positive [height, width]", sizes.shape)
    distinct = np.unique(sizes, axis=0)
    if num_anchors > len(distinct):
        arguments.fail("num_anchors", f"at most the number of distinct box shapes "
                       f"({len(distinct)})", num_anchors)
    rng = np.random.default_rng(seed)
    centres = distinct[rng.choice(len(distinct), num_anchors, replace=False)]
    for _ in range(iterations):
        nearest = np.argmax(np.asarray(shape_iou(sizes, centres)), axis=-1)
        updated = np.array([sizes[nearest == k].mean(axis=0) if np.any(nearest == k)
                            else centres[k] for k in range(num_anchors)])
        if np.allclose(updated, centres):
            break
        centres = updated
    return centres[np.argsort(centres.prod(axis=-1))].astype("float32")

