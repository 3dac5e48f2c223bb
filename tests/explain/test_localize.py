"""Tests of kerasnn.explain.localize on hand-made heatmaps: boxes, pointing game, mask IoU."""

import numpy as np
import pytest

from kerasnn import explain


def test_heatmap_to_box_keeps_the_largest_connected_region():
    heatmap = np.zeros((10, 10))
    heatmap[1:3, 1:3] = 1.0  # 4 pixels, holds the maximum
    heatmap[5:9, 4:7] = 0.5  # 12 pixels: the largest region above 0.2 of the maximum
    np.testing.assert_array_equal(explain.heatmap_to_box(heatmap), [5, 4, 9, 7])
    # above 0.6 of the maximum only the small bright region is left
    np.testing.assert_array_equal(explain.heatmap_to_box(heatmap, 0.6), [1, 1, 3, 3])
    # diagonal neighbours are connected (8-connectivity): 5 pixels beat the 4-pixel block
    heatmap[7:9, 7:9] = 0.0
    diagonal = np.zeros((10, 10))
    for i in range(5):
        diagonal[5 + i, 2 + i] = 0.9
    diagonal[0:2, 0:2] = 1.0
    np.testing.assert_array_equal(explain.heatmap_to_box(diagonal), [5, 2, 10, 7])


def test_boxes_use_the_range_of_the_map_and_a_constant_map_gives_the_image():
    heatmap = np.full((4, 6), -3.0)
    heatmap[1, 2:4] = -1.0  # the maximum of a negative (CAM) map
    np.testing.assert_array_equal(explain.heatmap_to_box(heatmap, 0.5), [1, 2, 2, 4])
    boxes = explain.heatmaps_to_boxes(np.stack([heatmap, np.zeros((4, 6))]), 0.5)
    np.testing.assert_array_equal(boxes, [[1, 2, 2, 4], [0, 0, 4, 6]])


def test_pointing_game_with_masks_and_boxes():
    heatmaps = np.zeros((3, 5, 5))
    heatmaps[0, 1, 1] = heatmaps[1, 4, 4] = heatmaps[2, 2, 3] = 1.0
    masks = np.zeros((3, 5, 5, 1), "uint8")
    masks[0, 0:2, 0:2] = 3
    masks[1, 0:2, 0:2] = 3
    masks[2, 2, 3] = 1
    np.testing.assert_array_equal(explain.pointing_game(heatmaps, masks=masks), [1, 0, 1])
    boxes = [[1, 1, 2, 2], [0, 0, 4, 4], [0, 0, 5, 5]]  # exclusive ends: (4, 4) is outside
    np.testing.assert_array_equal(explain.pointing_game(heatmaps, boxes=boxes), [1, 0, 1])
    with pytest.raises(ValueError, match="exactly one of `masks` and `boxes`"):
        explain.pointing_game(heatmaps)


def test_heatmap_mask_iou_by_hand():
    heatmap = np.zeros((1, 4, 4))
    heatmap[0, 0:2, 0:2] = 1.0  # 4 pixels over the threshold
    mask = np.zeros((1, 4, 4))
    mask[0, 1:3, 0:2] = 1  # 4 pixels, 2 shared
    np.testing.assert_allclose(explain.heatmap_mask_iou(heatmap, mask), [2 / 6])


def test_bad_inputs():
    with pytest.raises(
        ValueError,
        match=r"Argument `heatmap` must be 2-D \(height, width\). "
        r"Received: heatmap.shape=\(1, 4, 4\)",
    ):
        explain.heatmap_to_box(np.zeros((1, 4, 4)))
    with pytest.raises(
        ValueError,
        match=r"Argument `threshold` must be a float in \[0, 1\]. "
        r"Received: threshold=1.5",
    ):
        explain.heatmap_to_box(np.zeros((4, 4)), 1.5)
    with pytest.raises(
        ValueError,
        match=r"Argument `masks` must have the heatmaps' shape "
        r"\(2, 4, 4\).*Received: masks.shape=\(2, 3, 4\)",
    ):
        explain.pointing_game(np.zeros((2, 4, 4)), masks=np.zeros((2, 3, 4)))
