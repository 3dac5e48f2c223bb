"""Tests of kerasnn.ops.targets on hand-made boxes (IoUs worked out in the comments)."""

import numpy as np
import pytest

from kerasnn.ops import boxes, targets

ANCHORS = np.array(
    [
        [0, 0, 10, 10],  # IoU 1 with box 0: positive
        [0, 0, 10, 20],  # IoU 100/200 = 0.5 with box 0: ignored
        [20, 20, 30, 30],  # IoU 0: negative
        [0, 0, 10, 12],  # IoU 100/120 = 0.83 with box 0: positive
        [40, 40, 50, 50],  # IoU 100/200 = 0.5 with box 1, its best anchor: positive
        [40, 50, 50, 70],  # IoU 100/300 = 0.33 with box 1: ignored
        [35, 35, 45, 45],  # IoU 25/275 = 0.09 with box 1: negative
    ],
    "float32",
)
GT_BOXES = np.array(
    [
        [[0, 0, 10, 10], [40, 40, 50, 60], [0, 0, 0, 0]],
        [[10, 10, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],  # an inverted box counts as padding
    ],
    "float32",
)
GT_LABELS = np.array([[3, 5, -1], [2, -1, -1]])


def _call(function, *args, **kwargs):
    return {key: np.asarray(value) for key, value in function(*args, **kwargs).items()}


def test_label_anchors_positive_negative_ignored_and_best_match():
    out = _call(targets.label_anchors, ANCHORS, GT_BOXES, GT_LABELS)
    np.testing.assert_array_equal(out["labels"][0], [1, -1, 0, 1, 1, -1, 0])
    np.testing.assert_array_equal(out["labels"][1], [0] * 7)  # no valid box: all background
    np.testing.assert_array_equal(np.asarray(out["matched"])[0, [0, 3, 4]], [0, 0, 1])
    np.testing.assert_allclose(out["max_iou"][0, [0, 1, 4, 5]], [1, 0.5, 0.5, 1 / 3], rtol=1e-6)
    np.testing.assert_array_equal(out["max_iou"][1], [-1] * 7)


def test_label_anchors_without_best_match_and_with_border_rule():
    out = _call(targets.label_anchors, ANCHORS, GT_BOXES, GT_LABELS, best_match=False)
    np.testing.assert_array_equal(out["labels"][0], [1, -1, 0, 1, -1, -1, 0])
    out = _call(targets.label_anchors, ANCHORS, GT_BOXES, GT_LABELS, image_shape=(45, 45))
    np.testing.assert_array_equal(out["labels"][0], [1, -1, 0, 1, -1, -1, 0])


def test_label_anchors_against_a_numpy_reference_on_random_boxes():
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 50, (40, 2))
    anchors = np.concatenate([corner, corner + rng.uniform(5, 30, (40, 2))], 1).astype("f4")
    gt = anchors[None, [3, 17, 25]] + rng.uniform(-4, 4, (1, 3, 4)).astype("f4")
    labels = np.array([[0, 1, -1]])
    iou = np.asarray(boxes.pairwise_iou(anchors, gt[0, :2]))  # the padded box is left out
    best = iou.max(1)
    expected = np.where(best >= 0.7, 1, np.where(best < 0.3, 0, -1))
    expected[(iou == iou.max(0, keepdims=True)).any(1)] = 1
    out = _call(targets.label_anchors, anchors, gt, labels)
    np.testing.assert_array_equal(out["labels"][0], expected)


def test_sample_balanced_keeps_the_quota_at_random():
    labels = np.array([[1] * 5 + [0] * 10 + [-1] * 3, [1] + [0] * 10 + [-1] * 7])
    chosen = np.zeros(18)
    for seed in range(40):
        out = np.asarray(targets.sample_balanced(labels, num_samples=4, positive_fraction=0.5,
                                                 seed=seed))
        assert ((out[0] == 1).sum(), (out[0] == 0).sum()) == (2, 2)
        assert ((out[1] == 1).sum(), (out[1] == 0).sum()) == (1, 3)  # negatives fill up
        assert (out[labels == -1] == -1).all()
        chosen += out[0] >= 0
    assert (chosen[:15] > 0).all()  # every candidate is drawn by some seed
    same = targets.sample_balanced(labels, 4, 0.5, seed=7)
    np.testing.assert_array_equal(same, targets.sample_balanced(labels, 4, 0.5, seed=7))


def test_anchor_targets_round_trip_through_decode():
    variances = (0.1, 0.1, 0.2, 0.2)
    out = _call(targets.anchor_targets, ANCHORS, GT_BOXES, GT_LABELS, variances=variances, seed=0)
    objectness = np.asarray(out["objectness"])
    np.testing.assert_array_equal(objectness[0], [1, -1, 0, 1, 1, -1, 0])  # 256 > 7 anchors
    deltas = np.asarray(out["box_deltas"])
    decoded = np.asarray(boxes.decode_deltas(deltas[0], ANCHORS, variances))
    np.testing.assert_allclose(decoded[[0, 3, 4]], GT_BOXES[0, [0, 0, 1]], atol=1e-4)
    np.testing.assert_array_equal(deltas[0, [1, 2, 5, 6]], 0)
    np.testing.assert_array_equal(deltas[1], 0)
    np.testing.assert_allclose(deltas[0, 3], [0, -1 / 12 / 0.1, 0, np.log(10 / 12) / 0.2],
                               rtol=1e-5)


PROPOSALS = np.array(
    [[[0, 0, 10, 10],  # IoU 1: foreground
      [0, 0, 10, 15],  # IoU 0.67: foreground
      [0, 5, 10, 15],  # IoU 0.33: background
      [0, 0, 10, 100],  # IoU 0.1: background (the low end is included)
      [50, 50, 60, 60]]],  # IoU 0: neither
    "float32",
)


def test_sample_rois_labels_classes_and_targets():
    gt, labels = np.array([[[0, 0, 10, 10]]], "f4"), np.array([[3]])
    out = _call(targets.sample_rois, PROPOSALS, gt, labels, num_rois=4, foreground_fraction=0.5,
                              include_ground_truth=False, seed=0)
    rois, classes = np.asarray(out["rois"])[0], np.asarray(out["classes"])[0]
    assert sorted(map(tuple, rois.tolist())) == sorted(map(tuple, PROPOSALS[0, :4].tolist()))
    by_roi = {tuple(r): c for r, c in zip(rois.tolist(), classes)}
    assert by_roi[(0, 0, 10, 10)] == 4 and by_roi[(0, 0, 10, 15)] == 4  # class 3 + 1
    assert by_roi[(0, 5, 10, 15)] == 0 and by_roi[(0, 0, 10, 100)] == 0
    foreground = classes > 0
    decoded = boxes.decode_deltas(out["box_deltas"][0], rois)
    np.testing.assert_allclose(np.asarray(decoded)[foreground], [[0, 0, 10, 10]] * 2, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(out["box_deltas"])[0][~foreground], 0)


def test_sample_rois_quota_fillers_and_ground_truth():
    gt, labels = np.array([[[0, 0, 10, 10], [0, 0, 0, 0]]], "f4"), np.array([[3, -1]])
    for seed in range(5):
        out = _call(targets.sample_rois, PROPOSALS, gt, labels, num_rois=4,
                    foreground_fraction=0.25, seed=seed)
        classes = np.sort(np.asarray(out["classes"])[0])
        np.testing.assert_array_equal(classes, [-1, 0, 0, 4])  # 1 fg of 3, both bg, 1 filler
    padded = np.concatenate([PROPOSALS, np.zeros((1, 2, 4), "float32")], axis=1)
    out = _call(targets.sample_rois, padded, gt, labels, num_rois=7, seed=0)
    assert out["rois"].shape == (1, 7, 4)
    assert np.isfinite(out["box_deltas"]).all()  # empty padding proposals: no 0 / 0
    # the padded true box never becomes a candidate: 6 usable, so at least one filler
    assert (np.asarray(out["classes"]) == -1).sum() >= 2


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Argument `negative_threshold` must be <= positive_"
                                         r"threshold=0.5. Received: negative_threshold=0.6"):
        targets.label_anchors(ANCHORS, GT_BOXES, GT_LABELS, 0.5, 0.6)
    with pytest.raises(ValueError, match=r"Argument `gt_boxes` must have shape \(batch, num_boxes"
                                         r", 4\). Received: gt_boxes.shape=\(3, 4\)"):
        targets.label_anchors(ANCHORS, GT_BOXES[0], GT_LABELS[0])
    with pytest.raises(ValueError, match=r"Argument `num_rois` must be at most the number of "
                                         r"candidate boxes \(5\)"):
        targets.sample_rois(PROPOSALS, GT_BOXES[:1], GT_LABELS[:1], num_rois=6,
                            include_ground_truth=False)
