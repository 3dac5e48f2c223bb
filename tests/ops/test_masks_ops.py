"""Tests of kerasnn.ops.masks: mask targets against a NumPy crop-and-resize, pasting back."""

import numpy as np
import pytest

from kerasnn.metrics import mask_iou
from kerasnn.ops import masks


def np_crop_and_resize(mask, box, size):
    """RoIAlign (aligned, 2 x 2 samples per bin) of one binary mask, written out directly."""
    height, width = mask.shape
    y1, x1, y2, x2 = np.asarray(box, "float64") - 0.5  # pixel centres at half-integers
    out = np.zeros((size, size))

    def bilinear(y, x):
        if y < -1 or y > height or x < -1 or x > width:
            return 0.0
        y, x = min(max(y, 0), height - 1), min(max(x, 0), width - 1)
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        y1_, x1_ = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
        dy, dx = y - y0, x - x0
        return ((1 - dy) * (1 - dx) * mask[y0, x0] + (1 - dy) * dx * mask[y0, x1_]
                + dy * (1 - dx) * mask[y1_, x0] + dy * dx * mask[y1_, x1_])

    bin_h, bin_w = (y2 - y1) / size, (x2 - x1) / size
    for i in range(size):
        for j in range(size):
            samples = [bilinear(y1 + (i + (a + 0.5) / 2) * bin_h, x1 + (j + (b + 0.5) / 2) * bin_w)
                       for a in range(2) for b in range(2)]
            out[i, j] = np.mean(samples)
    return (out >= 0.5).astype("float32")


def _disk(shape, centre, radius):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    return (np.hypot(yy - centre[0], xx - centre[1]) <= radius).astype("float32")


def test_mask_targets_equal_a_numpy_crop_and_resize_of_the_matched_instance():
    instance_masks = np.stack([_disk((32, 32), (10, 12), 6), _disk((32, 32), (22, 20), 8),
                               np.zeros((32, 32), "float32")])[None]
    rois = np.array([[[4, 6, 16, 18], [13.3, 11.7, 31.2, 28.9], [2, 3, 30, 29]]], "float32")
    matched = np.array([[0, 1, 1]])
    out = np.asarray(masks.mask_targets(instance_masks, rois, matched, 7))
    assert out.shape == (1, 3, 7, 7)
    for r in range(3):
        expected = np_crop_and_resize(instance_masks[0, matched[0, r]], rois[0, r], 7)
        np.testing.assert_array_equal(out[0, r], expected)
    assert 0 < out.sum() < out.size


def test_pasting_a_cropped_mask_back_reproduces_the_instance():
    rectangle = np.zeros((1, 1, 24, 32), "float32")
    rectangle[0, 0, 5:17, 9:25] = 1  # box [5, 9, 17, 25]
    box = np.array([[[5, 9, 17, 25]]], "float32")
    crop = masks.mask_targets(rectangle, box, np.zeros((1, 1), "int32"), 14)
    pasted = np.asarray(masks.paste_masks(crop, box, (24, 32)))
    np.testing.assert_array_equal(pasted > 0.5, rectangle > 0.5)  # exactly the instance
    disk = _disk((40, 40), (18.5, 21.0), 9)[None, None]
    box = np.array([[[9.5, 12.0, 27.5, 30.0]]], "float32")
    crop = masks.mask_targets(disk, box, np.zeros((1, 1), "int32"), 28)
    pasted = np.asarray(masks.paste_masks(crop, box, (40, 40)))[0]
    assert mask_iou(pasted, disk[0])[0, 0] > 0.95


def test_paste_interpolates_between_cell_centres_and_zeroes_outside_the_box():
    # a 1 x 2 mask [0, 1] over a box 4 pixels wide: pixel centres at 0.5, 1.5, 2.5, 3.5 are at
    # mask positions -0.25, 0.25, 0.75, 1.25 -> clamped, 0.25, 0.75, clamped
    pasted = np.asarray(masks.paste_masks(np.array([[[[0.0, 1.0]]]]), [[[0.0, 0.0, 1.0, 4.0]]],
                                          (2, 5)))[0, 0]
    np.testing.assert_allclose(pasted, [[0, 0.25, 0.75, 1, 0], [0, 0, 0, 0, 0]], atol=1e-6)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"Argument `instance_masks` must have shape"):
        masks.mask_targets(np.zeros((4, 4)), np.zeros((1, 1, 4)), np.zeros((1, 1)), 7)
    with pytest.raises(ValueError, match=r"Argument `boxes` must have shape \(batch, N, 4\)"):
        masks.paste_masks(np.zeros((1, 1, 2, 2)), np.zeros((1, 4)), (4, 4))
    with pytest.raises(ValueError, match="Argument `image_shape`"):
        masks.paste_masks(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 4)), (0, 4))
