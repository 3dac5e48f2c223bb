"""Tests of kerasnn.metrics.segmentation: IoU by hand, parity with keras.metrics.MeanIoU, the
boundary band against a brute-force NumPy reference."""

import keras
import numpy as np
import pytest

from kerasnn import metrics


def test_iou_per_class_by_hand_and_absent_class_is_nan():
    # class 0: TP 3, FN 1, FP 0 -> 3/4; class 1: TP 2, FP 1 -> 2/3; class 2 absent
    confusion = [[3, 1, 0], [0, 2, 0], [0, 0, 0]]
    ious = metrics.iou_per_class(confusion)
    np.testing.assert_allclose(ious[:2], [0.75, 2 / 3])
    assert np.isnan(ious[2])
    assert metrics.mean_iou(confusion) == pytest.approx((0.75 + 2 / 3) / 2)


def test_mean_iou_agrees_with_keras_mean_iou():
    rng = np.random.default_rng(0)
    masks_true = rng.integers(0, 4, size=(3, 9, 7))
    masks_true[masks_true == 3] = 2  # class 3 absent from the labels, present in predictions
    scores = rng.normal(size=(3, 9, 7, 4))
    confusion = metrics.segmentation_confusion_matrix(masks_true, scores, num_classes=4)
    reference = keras.metrics.MeanIoU(num_classes=4)
    reference.update_state(masks_true.reshape(-1), scores.argmax(-1).reshape(-1))
    assert metrics.mean_iou(confusion) == pytest.approx(float(reference.result()), abs=1e-6)
    per_class = keras.metrics.IoU(num_classes=4, target_class_ids=[1])
    per_class.update_state(masks_true.reshape(-1), scores.argmax(-1).reshape(-1))
    assert metrics.iou_per_class(confusion)[1] == pytest.approx(float(per_class.result()))


def test_uint8_masks_as_tfds_stores_them():
    masks = np.array([[[0, 1], [1, 2]]], dtype=np.uint8)
    confusion = metrics.segmentation_confusion_matrix(masks, masks, 3)
    np.testing.assert_array_equal(confusion, np.diag([1, 2, 1]))


def _brute_force_band(mask, radius):
    height, width = mask.shape
    border = [
        (r, c)
        for r in range(height)
        for c in range(width)
        if any(
            0 <= r + dr < height and 0 <= c + dc < width and mask[r + dr, c + dc] != mask[r, c]
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
        )
    ]
    band = np.zeros(mask.shape, dtype=bool)
    for r in range(height):
        for c in range(width):
            band[r, c] = any((r - br) ** 2 + (c - bc) ** 2 <= radius**2 for br, bc in border)
    return band


@pytest.mark.parametrize("radius", [0, 1, 2.5])
def test_boundary_band_matches_brute_force(radius):
    mask = np.zeros((10, 12), dtype=int)
    mask[2:6, 3:8] = 1
    mask[6:9, 5:11] = 2
    expected = _brute_force_band(mask, radius)
    np.testing.assert_array_equal(metrics.boundary_band(mask, radius), expected)


def test_boundary_band_iou_ignores_errors_far_from_borders():
    masks_true = np.zeros((1, 20, 20), dtype=int)
    masks_true[0, 5:15, 5:15] = 1
    masks_pred = masks_true.copy()
    masks_pred[0, 9:11, 9:11] = 0  # an error in the middle of the object: outside the band
    assert metrics.boundary_band_iou(masks_true, masks_pred, 2, radius=1) == 1.0
    assert metrics.mean_iou(metrics.segmentation_confusion_matrix(masks_true, masks_pred)) < 1.0
    masks_pred[0, 5, 5:15] = 0  # a wrong row on the border: inside the band
    assert metrics.boundary_band_iou(masks_true, masks_pred, 2, radius=1) < 1.0


def test_boundary_band_iou_with_instances_sees_touching_borders():
    semantic = np.zeros((1, 8, 8), dtype=int)
    semantic[0, 2:6, 1:7] = 1
    instances = np.zeros_like(semantic)
    instances[0, 2:6, 1:4], instances[0, 2:6, 4:7] = 1, 2  # two touching objects of class 1
    band = metrics.boundary_band(instances, 0)
    assert band[0, 3, 3] and band[0, 3, 4] and not metrics.boundary_band(semantic, 0)[0, 3, 3]
    masks_pred = semantic.copy()
    masks_pred[0, 3:5, 3:5] = 0  # predicted a gap between the two objects
    assert metrics.boundary_band_iou(semantic, masks_pred, 2, radius=0) == 1.0
    assert metrics.boundary_band_iou(semantic, masks_pred, 2, radius=0, instances=instances) < 1


def test_separated_objects_counts_pairs_split_apart():
    instances = np.zeros((1, 6, 9), dtype=int)
    instances[0, 1:5, 1:4], instances[0, 1:5, 4:7] = 1, 2  # touching, same class
    instances[0, 1:5, 7:9] = 3  # touches 2, but another class: not a pair
    truth = np.where(instances > 0, 1, 0)
    truth[instances == 3] = 2
    assert metrics.touching_pairs(instances[0], truth[0]) == [(1, 2)]
    merged = truth.copy()  # one blob of class 1: not separated
    assert metrics.separated_objects(instances, truth, merged) == (0, 1)
    split = truth.copy()
    split[0, :, 4] = 0  # a background line between them: separated
    assert metrics.separated_objects(instances, truth, split) == (1, 1)
    missed = truth.copy()
    missed[instances == 2] = 0  # object 2 not found at all: not separated
    assert metrics.separated_objects(instances, truth, missed) == (0, 1)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="Argument `masks_pred` must be label maps"):
        metrics.segmentation_confusion_matrix(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"Argument `confusion` must have shape"):
        metrics.iou_per_class(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Argument `instances` must have shape \(1, 4, 4\)"):
        metrics.boundary_band_iou(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 2, 1, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="Argument `radius` must be a non-negative number"):
        metrics.boundary_band(np.zeros((4, 4)), -1)
