"""Tests of kerasnn.metrics: VOC- and COCO-style mean average precision on hand-scored examples."""

import numpy as np
import pytest

from kerasnn import metrics


def gt(boxes, classes):
    return {"boxes": np.array(boxes, "float32").reshape(-1, 4), "classes": np.array(classes)}


def pred(boxes, scores, classes):
    return {
        "boxes": np.array(boxes, "float32").reshape(-1, 4),
        "scores": np.array(scores, "float32"),
        "classes": np.array(classes),
    }


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 0, 50, 10]
FAR = [100, 100, 110, 110]


def test_perfect_detector_scores_one():
    truths = [gt([A, B], [0, 1]), gt([C], [0])]
    predictions = [pred([A, B], [0.9, 0.8], [0, 1]), pred([C], [0.7], [0])]
    assert metrics.mean_average_precision(predictions, truths) == 1.0
    assert metrics.coco_mean_average_precision(predictions, truths) == 1.0


def test_missed_object_halves_recall():
    # Two objects of class 0, one found with precision 1: recall stops at 1/2, AP = 1/2.
    truths = [gt([A, B], [0, 0])]
    predictions = [pred([A], [0.9], [0])]
    assert metrics.mean_average_precision(predictions, truths) == pytest.approx(0.5)


def test_hand_scored_ranking_all_points_and_101_points():
    # Ranked detections: TP (0.9), FP (0.8), TP (0.7), FP (0.6) for 3 objects.
    # precision 1, 1/2, 2/3, 1/2; recall 1/3, 1/3, 2/3, 2/3.
    truths = [gt([A, B], [0, 0]), gt([C], [0])]
    predictions = [
        pred([A, FAR], [0.9, 0.8], [0, 0]),
        pred([C, FAR], [0.7, 0.6], [0, 0]),
    ]
    all_points = 1 / 3 * 1.0 + 1 / 3 * 2 / 3
    assert metrics.mean_average_precision(predictions, truths) == pytest.approx(all_points)
    # 101 points: recalls 0.00..0.33 (34 points) at precision 1, 0.34..0.66 (33) at 2/3, rest 0.
    coco_style = (34 * 1.0 + 33 * 2 / 3) / 101
    assert metrics.mean_average_precision(
        predictions, truths, method="101_points"
    ) == pytest.approx(coco_style)


def test_duplicate_detection_is_a_false_positive_and_envelope_applies():
    truths = [gt([A, B], [0, 0])]
    # TP(A), FP(duplicate of A), TP(B): precision 1, 1/2, 2/3; the envelope lifts rank 2 to 2/3.
    predictions = [pred([A, A, B], [0.9, 0.8, 0.7], [0, 0, 0])]
    assert metrics.mean_average_precision(predictions, truths) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_mean_over_classes_ignores_classes_without_ground_truth():
    truths = [gt([A, B], [0, 1])]
    # Class 0 perfect (AP 1); class 1 detected at the wrong place (AP 0); class 2 has no truth.
    predictions = [pred([A, FAR, C], [0.9, 0.8, 0.7], [0, 1, 2])]
    per_class = metrics.average_precision_per_class(predictions, truths)
    assert per_class == {0: 1.0, 1: 0.0}
    assert metrics.mean_average_precision(predictions, truths) == pytest.approx(0.5)


def test_class_with_no_detection_has_zero_ap():
    truths = [gt([A, B], [0, 1])]
    predictions = [pred([A], [0.9], [0])]
    assert metrics.average_precision_per_class(predictions, truths) == {0: 1.0, 1: 0.0}


def test_coco_average_over_thresholds():
    # IoU of [0, 0, 10, 7.2] with A is 0.72: a match at 0.50 .. 0.70 (5 thresholds), not above.
    truths = [gt([A], [0])]
    predictions = [pred([[0, 0, 10, 7.2]], [0.9], [0])]
    assert metrics.coco_mean_average_precision(predictions, truths) == pytest.approx(0.5)
    assert metrics.mean_average_precision(predictions, truths, iou_threshold=0.75) == 0.0


def test_threshold_is_inclusive():
    truths = [gt([A], [0])]
    predictions = [pred([[0, 0, 10, 5]], [0.9], [0])]  # IoU exactly 0.5
    assert metrics.mean_average_precision(predictions, truths, iou_threshold=0.5) == 1.0


def test_padded_nms_output_is_read_up_to_num_detections():
    truths = [gt([A], [0])]
    padded = {
        "boxes": np.array([A, [0, 0, 0, 0], [0, 0, 0, 0]], "float32"),
        "scores": np.array([0.9, 0.0, 0.0], "float32"),
        "classes": np.array([0, -1, -1]),
        "num_detections": np.array(1),
    }
    assert metrics.mean_average_precision([padded], truths) == 1.0


def test_average_precision_of_a_curve():
    assert metrics.average_precision([0.5, 1.0], [1.0, 0.5]) == pytest.approx(0.75)
    assert metrics.average_precision([], []) == 0.0


def test_no_ground_truth_gives_nan():
    assert np.isnan(metrics.mean_average_precision([pred([A], [0.9], [0])], [gt([], [])]))


def test_bad_inputs_raise():
    truths = [gt([A], [0])]
    with pytest.raises(
        ValueError, match=r"one entry per image of `ground_truths`. Received: 2 predictions and 1"
    ):
        metrics.mean_average_precision([pred([A], [0.9], [0])] * 2, truths)
    with pytest.raises(
        ValueError,
        match=r"`iou_threshold` must be a number in \(0.0, 1.0\]. Received: iou_threshold=0",
    ):
        metrics.mean_average_precision([pred([A], [0.9], [0])], truths, iou_threshold=0)
    with pytest.raises(
        ValueError, match=r"boxes of shape \(n, 4\) .* Received: boxes.shape=\(1, 3\)"
    ):
        metrics.mean_average_precision(
            [pred([A], [0.9], [0])], [{"boxes": [[0, 0, 1]], "classes": [0]}]
        )
    with pytest.raises(ValueError, match=r"and n scores. .* scores.shape=\(2,\)"):
        metrics.mean_average_precision([pred([A], [0.9, 0.8], [0])], truths)
    with pytest.raises(ValueError, match=r'must be a dict with keys "boxes", "scores", "classes"'):
        metrics.mean_average_precision([{"boxes": [A], "classes": [0]}], truths)
    with pytest.raises(
        ValueError,
        match=r"`method` must be one of 'all_points', '101_points'. Received: method='11_points'",
    ):
        metrics.average_precision([1.0], [1.0], method="11_points")
