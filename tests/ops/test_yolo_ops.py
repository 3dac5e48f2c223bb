"""Tests of kerasnn.ops.yolo on hand-made boxes (cells, anchors and offsets worked out inline)."""

import numpy as np
import pytest

from kerasnn.ops import yolo

# 64 x 64 images, a 4 x 4 grid: cells of 16 x 16 pixels. Anchors as image fractions.
ANCHORS = np.array([[0.25, 0.125], [0.25, 0.25], [0.5, 0.5]], "float32")
GT_BOXES = np.array([
    [[4, 20, 20, 28],    # centre (12, 24): cell (0, 1), offsets (0.75, 0.5); 16 x 8: anchor 0
     [24, 8, 56, 40],    # centre (40, 24): cell (2, 1), offsets (0.5, 0.5); 32 x 32: anchor 2
     [0, 0, 0, 0]],      # padding
    [[40, 40, 56, 56],   # centre (48, 48): cell (3, 3), offsets (0, 0); 16 x 16: anchor 1
     [41, 41, 55, 55],   # same cell and anchor (14 x 14): the first box keeps the slot
     [0, 0, 8, 8]],      # label -1: padding
], "float32")
GT_LABELS = np.array([[2, 0, -1], [1, 4, -1]])


def _encode():
    return np.asarray(yolo.encode_targets(GT_BOXES, GT_LABELS, (4, 4), (64, 64), ANCHORS))


def test_encode_assigns_the_centre_cell_and_best_anchor_with_exact_offsets():
    targets = _encode()
    assert targets.shape == (2, 4, 4, 3, 6)
    np.testing.assert_allclose(targets[0, 0, 1, 0], [0.75, 0.5, 0.25, 0.125, 1, 2], rtol=1e-6)
    np.testing.assert_allclose(targets[0, 2, 1, 2], [0.5, 0.5, 0.5, 0.5, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(targets[1, 3, 3, 1], [0, 0, 0.25, 0.25, 1, 1], atol=1e-7)
    assert targets[..., 4].sum() == 3  # padding and the collided box have no slot
    empty = targets[..., 4] == 0
    np.testing.assert_array_equal(targets[empty], [[0, 0, 0, 0, 0, -1]] * int(empty.sum()))


def test_shape_iou_and_best_anchor_by_shape():
    # 16 x 8 against 16 x 8 (IoU 1), 16 x 16 (128 / 256), 32 x 32 (128 / 1024)
    iou = np.asarray(yolo.shape_iou([[0.25, 0.125]], ANCHORS))
    np.testing.assert_allclose(iou, [[1.0, 0.5, 0.125]], rtol=1e-6)


def _perfect_outputs(targets, anchors, num_classes, confidence=30.0):
    """Raw outputs whose decoding is exactly the encoded targets."""
    offsets = np.clip(targets[..., :2], 1e-4, 1 - 1e-4)
    outputs = np.zeros(targets.shape[:4] + (5 + num_classes,), "float64")
    outputs[..., :2] = np.log(offsets / (1 - offsets))
    sizes = np.where(targets[..., 4:5] > 0, targets[..., 2:4], anchors)
    outputs[..., 2:4] = np.log(sizes / anchors)
    outputs[..., 4] = np.where(targets[..., 4] > 0, confidence, -confidence)
    classes = np.maximum(targets[..., 5], 0).astype(int)
    outputs[..., 5:] = -confidence
    np.put_along_axis(outputs[..., 5:], classes[..., None], confidence, axis=-1)
    return outputs.astype("float32")


def test_decode_inverts_encode_back_to_the_pixel_boxes():
    targets = _encode()
    outputs = _perfect_outputs(targets, ANCHORS, 5)
    boxes = np.asarray(yolo.decode_boxes(outputs, ANCHORS, (64, 64)))
    np.testing.assert_allclose(boxes[0, 0, 1, 0], GT_BOXES[0, 0], atol=1e-3)
    np.testing.assert_allclose(boxes[0, 2, 1, 2], GT_BOXES[0, 1], atol=1e-3)
    np.testing.assert_allclose(boxes[1, 3, 3, 1], GT_BOXES[1, 0], atol=1e-2)  # offset 0 clipped


def test_detect_returns_the_true_boxes_classes_and_confident_scores():
    outputs = _perfect_outputs(_encode(), ANCHORS, 5)
    out = {k: np.asarray(v) for k, v in yolo.detect(outputs, ANCHORS, (64, 64), 4).items()}
    np.testing.assert_array_equal(out["num_detections"], [2, 1])
    np.testing.assert_array_equal(np.sort(out["classes"][0, :2]), [0, 2])
    np.testing.assert_allclose(out["scores"][0, :2], [1, 1], atol=1e-6)
    order = np.argsort(out["classes"][0, :2])[::-1]  # class 2 is box 0, class 0 is box 1
    np.testing.assert_allclose(out["boxes"][0, :2][order], GT_BOXES[0, :2], atol=1e-3)
    np.testing.assert_array_equal(out["classes"][1], [1, -1, -1, -1])


def test_anchor_priors_find_the_two_clusters_by_iou_distance():
    rng = np.random.default_rng(0)
    small = np.array([0.1, 0.2]) * rng.uniform(0.95, 1.05, (30, 1))
    large = np.array([0.5, 0.4]) * rng.uniform(0.95, 1.05, (30, 1))
    priors = yolo.anchor_priors(np.concatenate([small, large]), 2)
    np.testing.assert_allclose(priors, [small.mean(0), large.mean(0)], rtol=1e-6)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="Argument `anchors` must be a non-empty"):
        yolo.encode_targets(GT_BOXES, GT_LABELS, (4, 4), (64, 64), [0.5, 0.5])
    with pytest.raises(ValueError, match="Argument `grid_shape`"):
        yolo.encode_targets(GT_BOXES, GT_LABELS, (0, 4), (64, 64), ANCHORS)
    with pytest.raises(ValueError, match=r"Argument `outputs` must have shape \(batch, H, L, 3"):
        yolo.decode_boxes(np.zeros((1, 4, 4, 2, 7)), ANCHORS, (64, 64))
    with pytest.raises(ValueError, match="Argument `num_anchors` must be at most the number"):
        yolo.anchor_priors([[0.1, 0.1], [0.1, 0.1]], 2)
