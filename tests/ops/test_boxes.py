"""Tests of kerasnn.ops.boxes: formats, IoU, deltas, anchors and non-max suppression."""

import math

import keras
import numpy as np
import pytest
from layer_harness import XLA_JIT

from kerasnn.ops import boxes as box_ops


def np_(tensor):
    return keras.ops.convert_to_numpy(tensor)


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


def test_normalized_to_pixels_and_back():
    normalized = np.array([[0.1, 0.25, 0.5, 1.0]], "float32")
    pixels = np_(box_ops.normalized_to_pixels(normalized, (200, 40)))
    np.testing.assert_allclose(pixels, [[20.0, 10.0, 100.0, 40.0]])
    np.testing.assert_allclose(np_(box_ops.pixels_to_normalized(pixels, (200, 40))), normalized)


def test_corners_center_round_trip():
    corners = np.array([[2.0, 4.0, 6.0, 10.0], [0.0, 0.0, 1.0, 3.0]], "float32")
    center = np_(box_ops.corners_to_center(corners))
    np.testing.assert_allclose(center, [[4.0, 7.0, 4.0, 6.0], [0.5, 1.5, 1.0, 3.0]])
    np.testing.assert_allclose(np_(box_ops.center_to_corners(center)), corners)


def test_clip_to_image():
    clipped = np_(box_ops.clip_to_image(np.array([[-3.0, 5.0, 12.0, 30.0]]), (10, 20)))
    np.testing.assert_allclose(clipped, [[0.0, 5.0, 10.0, 20.0]])


def test_wrong_last_dimension_raises():
    for function, args in (
        (box_ops.corners_to_center, ()),
        (box_ops.pairwise_iou, (np.zeros((2, 4)),)),
        (box_ops.normalized_to_pixels, ((10, 10),)),
    ):
        with pytest.raises(
            ValueError, match=r"last dimension of size 4 .* Received: boxes\d?.shape=\(2, 5\)"
        ):
            function(np.zeros((2, 5)), *args)


def test_bad_image_shape_raises():
    with pytest.raises(ValueError, match=r"Received: image_shape=\(0, 10\)"):
        box_ops.normalized_to_pixels(np.zeros((1, 4)), (0, 10))


# --------------------------------------------------------------------------------------------------
# IoU
# --------------------------------------------------------------------------------------------------


def test_iou_hand_computed():
    a = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 4.0, 4.0]], "float32")
    b = np.array(
        [
            [1.0, 1.0, 3.0, 3.0],  # a[0]: overlap 1, union 7; inside a[1]: 4/16
            [0.0, 0.0, 2.0, 2.0],  # identical to a[0]; inside a[1]: 4/16
            [2.0, 0.0, 4.0, 2.0],  # touches a[0] along an edge: 0
            [10.0, 10.0, 11.0, 11.0],  # disjoint
            [1.0, 1.0, 1.0, 1.0],  # empty box
        ],
        "float32",
    )
    expected = [[1 / 7, 1.0, 0.0, 0.0, 0.0], [4 / 16, 4 / 16, 4 / 16, 0.0, 0.0]]
    np.testing.assert_allclose(np_(box_ops.pairwise_iou(a, b)), expected, rtol=1e-6)


def test_iou_of_empty_and_inverted_boxes_is_zero_not_nan():
    empty = np.array([[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 1.0, 1.0]], "float32")
    iou = np_(box_ops.pairwise_iou(empty, empty))
    np.testing.assert_array_equal(iou, np.zeros((2, 2)))


def test_iou_matches_numpy_reference_with_batch_dims():
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(0, 10, size=(2, 9, 2, 2)), axis=2)
    boxes = np.concatenate([corners[:, :, 0], corners[:, :, 1]], axis=-1)  # (2, 9, 4)
    a, b = boxes[:, :4], boxes[:, 4:]
    expected = np.zeros((2, 4, 5))
    for i in range(2):
        for n in range(4):
            for m in range(5):
                y1, x1 = np.maximum(a[i, n, :2], b[i, m, :2])
                y2, x2 = np.minimum(a[i, n, 2:], b[i, m, 2:])
                inter = max(y2 - y1, 0) * max(x2 - x1, 0)
                area_a = np.prod(a[i, n, 2:] - a[i, n, :2])
                area_b = np.prod(b[i, m, 2:] - b[i, m, :2])
                expected[i, n, m] = inter / (area_a + area_b - inter)
    np.testing.assert_allclose(np_(box_ops.pairwise_iou(a, b)), expected, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# Deltas
# --------------------------------------------------------------------------------------------------


def test_encode_hand_computed_with_variances():
    anchor = np.array([[0.0, 0.0, 10.0, 20.0]])  # centre (5, 10), size 10 x 20
    box = np.array([[1.0, 2.0, 13.0, 25.0]])  # centre (7, 13.5), size 12 x 23
    deltas = np_(box_ops.encode_deltas(box, anchor))
    np.testing.assert_allclose(deltas, [[0.2, 0.175, math.log(1.2), math.log(1.15)]], rtol=1e-6)
    scaled = np_(box_ops.encode_deltas(box, anchor, variances=(0.1, 0.1, 0.2, 0.2)))
    np.testing.assert_allclose(scaled, deltas / [0.1, 0.1, 0.2, 0.2], rtol=1e-6)


@pytest.mark.parametrize("variances", [None, (0.1, 0.1, 0.2, 0.2)])
def test_encode_decode_round_trip(variances):
    rng = np.random.default_rng(1)
    anchors = np.concatenate([rng.uniform(0, 50, (20, 2)), rng.uniform(60, 120, (20, 2))], -1)
    boxes = np.concatenate([rng.uniform(0, 50, (20, 2)), rng.uniform(60, 120, (20, 2))], -1)
    deltas = box_ops.encode_deltas(boxes, anchors, variances)
    decoded = np_(box_ops.decode_deltas(deltas, anchors, variances))
    np.testing.assert_allclose(decoded, boxes, rtol=1e-6, atol=1e-6)


def test_decode_clips_large_log_scales():
    anchor = np.array([[0.0, 0.0, 16.0, 16.0]], "float32")
    deltas = np.array([[0.0, 0.0, 100.0, -1.0]], "float32")  # exp(100) overflows float32
    decoded = np_(box_ops.decode_deltas(deltas, anchor))
    height = 16.0 * 1000.0 / 16.0  # exp(log(1000 / 16)) * 16
    width = 16.0 * math.exp(-1.0)
    np.testing.assert_allclose(
        decoded, [[8 - height / 2, 8 - width / 2, 8 + height / 2, 8 + width / 2]], rtol=1e-5
    )
    unclipped = np_(box_ops.decode_deltas(deltas, anchor, log_scale_clip=None))
    assert np.isinf(unclipped[0, 2])


def test_bad_variances_raise():
    for variances in ((1.0, 1.0, 1.0), (0.1, 0.0, 0.2, 0.2)):
        with pytest.raises(
            ValueError,
            match=r"Argument `variances` must be 4 positive numbers. Received: variances=",
        ):
            box_ops.encode_deltas(np.ones((1, 4)), np.ones((1, 4)), variances)


# --------------------------------------------------------------------------------------------------
# Anchors
# --------------------------------------------------------------------------------------------------


def test_anchors_of_a_2x2_map():
    anchors = np_(
        box_ops.generate_anchors((2, 2), stride=16, scales=(16, 32), aspect_ratios=(1.0, 4.0))
    )
    assert anchors.shape == (2 * 2 * 4, 4)
    # Per cell: (ratio 1, scale 16) 16x16, (ratio 1, scale 32) 32x32,
    # (ratio 4, scale 16) 32 high x 8 wide, (ratio 4, scale 32) 64 high x 16 wide.
    sizes = [(16, 16), (32, 32), (32, 8), (64, 16)]
    centres = [(8, 8), (8, 24), (24, 8), (24, 24)]  # row-major cells, stride 16, offset 0.5
    expected = [
        [cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2] for cy, cx in centres for h, w in sizes
    ]
    np.testing.assert_allclose(anchors, expected)
    np.testing.assert_allclose(anchors[0], [0.0, 0.0, 16.0, 16.0])
    np.testing.assert_allclose(anchors[-1], [-8.0, 16.0, 56.0, 32.0])


def test_anchors_offset_and_rectangular_stride():
    anchors = np_(
        box_ops.generate_anchors((1, 2), stride=(8, 4), scales=(2,), aspect_ratios=(1,), offset=0)
    )
    np.testing.assert_allclose(anchors, [[-1, -1, 1, 1], [-1, 3, 1, 5]])


def test_bad_anchor_arguments_raise():
    for kwargs, message in (
        (
            {"feature_shape": (0, 2)},
            r"Argument `feature_shape` must be 2 positive integers. "
            r"Received: feature_shape=\(0, 2\)",
        ),
        ({"stride": 0}, r"Argument `stride` must be a positive number. Received: stride=0"),
        ({"stride": (8, 0)}, r"Argument `stride` must be 2 positive numbers. Received: stride="),
        ({"scales": ()}, r"Argument `scales` must be a non-empty sequence of positive numbers"),
        ({"aspect_ratios": (1.0, -2.0)}, r"`aspect_ratios` must be a non-empty sequence .* -2.0"),
    ):
        arguments = {
            "feature_shape": (2, 2),
            "stride": 16,
            "scales": (32,),
            "aspect_ratios": (1.0,),
        }
        arguments.update(kwargs)
        with pytest.raises(ValueError, match=message):
            box_ops.generate_anchors(**arguments)


# --------------------------------------------------------------------------------------------------
# Non-max suppression
# --------------------------------------------------------------------------------------------------


def reference_nms(
    boxes,
    scores,
    iou_threshold,
    max_per_class,
    max_detections,
    score_threshold=None,
    max_candidates=None,
):
    """Per-image, per-class greedy NMS in plain NumPy; returns (box, score, class) lists."""
    results = []
    for image in range(scores.shape[0]):
        kept = []
        for cls in range(scores.shape[2]):
            class_boxes = boxes[image] if boxes.ndim == 3 else boxes[image, :, cls]
            order = sorted(range(scores.shape[1]), key=lambda i: (-scores[image, i, cls], i))
            order = order[:max_candidates]
            chosen = []
            for i in order:
                if score_threshold is not None and not scores[image, i, cls] > score_threshold:
                    continue
                if all(_iou(class_boxes[i], class_boxes[j]) <= iou_threshold for j in chosen):
                    chosen.append(i)
            chosen = chosen[:max_per_class]
            kept += [
                (scores[image, i, cls], cls, rank, class_boxes[i]) for rank, i in enumerate(chosen)
            ]
        kept.sort(key=lambda item: (-item[0], item[1], item[2]))
        results.append(kept[:max_detections])
    return results


def _iou(a, b):
    inter = max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_nms_overlapping_boxes_and_ties():
    boxes = np.array(
        [[[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]]], "float32"
    )
    scores = np.array([[[0.9, 0.1], [0.8, 0.7], [0.7, 0.2], [0.9, 0.3]]], "float32")
    out = box_ops.non_max_suppression(boxes, scores, max_detections=6, iou_threshold=0.5)
    # Class 0: boxes 0 and 3 tie at 0.9 and are identical -> the lower index (0) wins and
    # suppresses 3; box 1 (IoU 81/119 = 0.68 with box 0) is suppressed; box 2 is kept.
    # Class 1: box 1 (0.7) suppresses box 3 (0.3) and box 0 (0.1); box 2 (0.2) is kept.
    # Merged by score; the 0.7 tie between classes goes to the lower class.
    np.testing.assert_allclose(np_(out["scores"]), [[0.9, 0.7, 0.7, 0.2, 0.0, 0.0]])
    np.testing.assert_array_equal(np_(out["classes"]), [[0, 0, 1, 1, -1, -1]])
    np.testing.assert_allclose(
        np_(out["boxes"])[0],
        [[0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 11, 11], [20, 20, 30, 30], [0] * 4, [0] * 4],
    )
    np.testing.assert_array_equal(np_(out["num_detections"]), [4])


def test_nms_threshold_is_strict_and_limits_apply():
    # IoU of these two boxes is exactly 0.5: not suppressed at iou_threshold=0.5.
    boxes = np.array([[[0, 0, 2, 3], [0, 1, 2, 4], [0, 0, 1, 1]]], "float32")
    scores = np.array([[[0.9], [0.8], [0.05]]], "float32")
    out = box_ops.non_max_suppression(boxes, scores, iou_threshold=0.5, max_detections=3)
    np.testing.assert_array_equal(np_(out["num_detections"]), [3])
    out = box_ops.non_max_suppression(boxes, scores, iou_threshold=0.49, max_detections=3)
    np.testing.assert_array_equal(np_(out["num_detections"]), [2])
    out = box_ops.non_max_suppression(
        boxes, scores, iou_threshold=0.5, max_detections=3, max_detections_per_class=1
    )
    np.testing.assert_array_equal(np_(out["num_detections"]), [1])
    out = box_ops.non_max_suppression(boxes, scores, max_detections=3, score_threshold=0.1)
    np.testing.assert_allclose(np_(out["scores"]), [[0.9, 0.8, 0.0]])
    # Only the best 2 boxes enter the suppression: the low-scoring third one is never considered.
    out = box_ops.non_max_suppression(boxes, scores, max_detections=3, max_candidates_per_class=2)
    np.testing.assert_allclose(np_(out["scores"]), [[0.9, 0.8, 0.0]])
    np.testing.assert_array_equal(np_(out["classes"]), [[0, 0, -1]])


@pytest.mark.parametrize("class_specific,max_candidates", [(False, None), (True, None), (False, 3)])
def test_nms_matches_numpy_reference_on_random_boxes(class_specific, max_candidates):
    rng = np.random.default_rng(2)
    prefix = (2, 30, 3) if class_specific else (2, 30)
    corners = rng.uniform(0, 40, size=prefix + (2,))
    size = rng.uniform(5, 20, size=prefix + (2,))
    boxes = np.concatenate([corners, corners + size], axis=-1).astype("float32")
    scores = rng.uniform(size=(2, 30, 3)).astype("float32")
    out = box_ops.non_max_suppression(
        boxes,
        scores,
        5,
        12,
        iou_threshold=0.3,
        score_threshold=0.2,
        max_candidates_per_class=max_candidates,
    )
    expected = reference_nms(boxes, scores, 0.3, 5, 12, 0.2, max_candidates)
    if max_candidates is not None:  # the restriction must matter for this case to test it
        unrestricted = reference_nms(boxes, scores, 0.3, 5, 12, 0.2)
        assert [len(e) for e in expected] != [len(e) for e in unrestricted]
    for image in range(2):
        count = len(expected[image])
        assert int(np_(out["num_detections"])[image]) == count
        np.testing.assert_allclose(
            np_(out["scores"])[image, :count], [e[0] for e in expected[image]]
        )
        np.testing.assert_array_equal(
            np_(out["classes"])[image, :count], [e[1] for e in expected[image]]
        )
        np.testing.assert_allclose(
            np_(out["boxes"])[image, :count], [e[3] for e in expected[image]]
        )
        np.testing.assert_array_equal(np_(out["classes"])[image, count:], -1)


class _NonMaxSuppression(keras.layers.Layer):
    """non_max_suppression as a layer, to run it in a compiled functional model."""

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def call(self, boxes, scores):
        return box_ops.non_max_suppression(boxes, scores, **self.kwargs)


def _jit_compiled_nms(boxes, scores, **kwargs):
    """The outputs of a functional model compiled with ``jit_compile=True`` (XLA)."""
    boxes_in = keras.Input(boxes.shape[1:], batch_size=boxes.shape[0])
    scores_in = keras.Input(scores.shape[1:], batch_size=scores.shape[0])
    model = keras.Model([boxes_in, scores_in], _NonMaxSuppression(**kwargs)(boxes_in, scores_in))
    model.compile(jit_compile=True)
    return model.predict([boxes, scores], batch_size=boxes.shape[0], verbose=0)


skip_jit_on_torch = pytest.mark.skipif(
    not XLA_JIT, reason="jit_compile=True is torch.compile, not XLA"
)


@skip_jit_on_torch
def test_nms_runs_under_jit_compile():
    rng = np.random.default_rng(3)
    corners = rng.uniform(0, 40, size=(2, 16, 2))
    boxes = np.concatenate([corners, corners + 10], -1).astype("float32")
    scores = rng.uniform(size=(2, 16, 2)).astype("float32")
    eager = box_ops.non_max_suppression(boxes, scores, 4, 8, iou_threshold=0.4)
    compiled = _jit_compiled_nms(
        boxes, scores, max_detections_per_class=4, max_detections=8, iou_threshold=0.4
    )
    for key in ("boxes", "scores", "classes", "num_detections"):
        np.testing.assert_allclose(np_(compiled[key]), np_(eager[key]))


def _assert_empty_detections(out):
    assert np_(out["boxes"]).shape == (2, 4, 4)
    np.testing.assert_array_equal(np_(out["num_detections"]), [0, 0])
    np.testing.assert_array_equal(np_(out["classes"]), -np.ones((2, 4)))


def test_nms_drops_nan_and_handles_zero_boxes():
    boxes = np.array([[[0, 0, 1, 1], [np.nan, 0, 1, 1], [5, 5, 6, 6]]], "float32")
    scores = np.array([[[0.5], [0.9], [np.nan]]], "float32")
    out = box_ops.non_max_suppression(boxes, scores, max_detections=3)
    np.testing.assert_array_equal(np_(out["num_detections"]), [1])
    np.testing.assert_allclose(np_(out["boxes"])[0, 0], [0, 0, 1, 1])
    # Zero boxes, on every backend (on JAX the suppression loop used to be traced for N = 0).
    empty_boxes, empty_scores = np.zeros((2, 0, 4), "float32"), np.zeros((2, 0, 3), "float32")
    _assert_empty_detections(
        box_ops.non_max_suppression(empty_boxes, empty_scores, max_detections=4)
    )


@skip_jit_on_torch
def test_nms_handles_zero_boxes_under_jit_compile():
    empty_boxes, empty_scores = np.zeros((2, 0, 4), "float32"), np.zeros((2, 0, 3), "float32")
    _assert_empty_detections(_jit_compiled_nms(empty_boxes, empty_scores, max_detections=4))


def test_nms_bad_input_raises():
    for boxes_shape, scores_shape, kwargs, message in (
        ((1, 3, 4), (1, 3), {}, r"`scores` must have shape \(batch, num_boxes, num_classes\)"),
        ((1, 4, 4), (1, 3, 2), {}, r"leading dimensions must match `scores` \(1, 3\)"),
        ((1, 3, 3, 4), (1, 3, 2), {}, r"leading dimensions must match `scores` \(1, 3, 2\)"),
        ((1, 3, 5), (1, 3, 2), {}, r"last dimension of size 4"),
        (
            (1, 3, 4),
            (1, 3, 2),
            {"max_detections": 0},
            r"Argument `max_detections` must be a positive integer. Received: max_detections=0",
        ),
        (
            (1, 3, 4),
            (1, 3, 2),
            {"iou_threshold": 1.5},
            r"Argument `iou_threshold` must be a float in \[0, 1\]. Received: iou_threshold=1.5",
        ),
        (
            (1, 3, 4),
            (1, 3, 2),
            {"max_candidates_per_class": 0},
            r"Received: max_candidates_per_class=0",
        ),
    ):
        with pytest.raises(ValueError, match=message):
            box_ops.non_max_suppression(np.zeros(boxes_shape), np.zeros(scores_shape), **kwargs)
