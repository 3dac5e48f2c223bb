"""Tests of kerasnn.metrics.instances: mask IoU and mask AP on hand-scored examples."""

import numpy as np
import pytest

from kerasnn import metrics


def _mask(rows, cols, shape=(8, 8)):
    mask = np.zeros(shape, bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


def test_mask_iou_hand_counted():
    a = np.stack([_mask((0, 4), (0, 4)), _mask((4, 8), (4, 8)), np.zeros((8, 8), bool)])
    b = np.stack([_mask((0, 4), (2, 6)), np.zeros((8, 8), bool)])
    iou = metrics.mask_iou(a, b)
    # 8 shared pixels of 16 + 16 - 8; disjoint; empty against anything: 0
    np.testing.assert_allclose(iou, [[8 / 24, 0], [0, 0], [0, 0]])
    probabilities = np.where(a, 0.9, 0.2)  # thresholded at 0.5
    np.testing.assert_allclose(metrics.mask_iou(probabilities, b), iou)


def test_mask_ap_matches_on_mask_iou_not_on_boxes():
    truth = [{"masks": np.stack([_mask((0, 4), (0, 4)), _mask((4, 8), (4, 8))]),
              "classes": [0, 0]},
             {"masks": _mask((2, 6), (2, 6))[None], "classes": [1]}]
    # image 1: the best detection has the right box but only half the pixels (IoU 0.5),
    # the second hits the other object exactly; image 2: a detection of the wrong class
    half = _mask((0, 4), (0, 2))
    predictions = [{"masks": np.stack([half, _mask((4, 8), (4, 8))]), "scores": [0.9, 0.8],
                    "classes": [0, 0]},
                   {"masks": _mask((2, 6), (2, 6))[None], "scores": [0.7], "classes": [0]}]
    # class 0 at IoU 0.5: ranks TP, TP, FP over 2 truths -> AP 1; class 1 never found -> 0
    assert metrics.mask_average_precision_per_class(predictions, truth, 0.5) == {0: 1.0, 1: 0.0}
    assert metrics.mask_average_precision(predictions, truth, 0.5) == 0.5
    # at IoU 0.75 the half mask misses: class 0 ranks FP, TP, FP -> recall 0.5 at precision 0.5
    assert metrics.mask_average_precision_per_class(predictions, truth, 0.75)[0] == 0.25
    coco = metrics.coco_mask_average_precision(predictions, truth)
    assert 0.0 < coco < 0.5


def test_mask_ap_reads_padded_detections_and_rejects_bad_entries():
    truth = [{"masks": _mask((0, 4), (0, 4))[None], "classes": [0]}]
    padded = {"masks": np.stack([_mask((0, 4), (0, 4)), _mask((0, 4), (0, 4))]),
              "scores": [0.9, 0.0], "classes": [0, -1], "num_detections": 1}
    assert metrics.mask_average_precision([padded], truth) == 1.0
    with pytest.raises(ValueError, match=r"Argument `predictions\[0\]` must be a dict with keys "
                                         '"masks"'):
        metrics.mask_average_precision([{"boxes": [], "scores": [], "classes": []}], truth)
    with pytest.raises(ValueError, match="masks of shape"):
        metrics.mask_average_precision([{"masks": np.zeros((8, 8)), "scores": [1.0],
                                         "classes": [0]}], truth)
