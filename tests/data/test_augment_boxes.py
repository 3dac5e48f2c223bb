"""Box-aware augmentation (kerasnn.data.augment.with_boxes): boxes move with the image, are
clipped, and are dropped when they leave it; the same geometry as the masks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnn import data
from kerasnn.data import augment

BOXES = np.array([[[2, 3, 12, 15], [18, 16, 30, 28], [0, 0, 0, 0]],
                  [[6, 6, 26, 22], [0, 0, 0, 0], [0, 0, 0, 0]]], "float32")
LABELS = np.array([[0, 1, -1], [2, -1, -1]], "int32")


def _images_and_instance_masks():
    images = np.zeros((2, 32, 32, 3), "float32")
    masks = np.zeros((2, 32, 32), "int32")
    for i in range(2):
        for j, (y1, x1, y2, x2) in enumerate(BOXES[i].astype(int)):
            if LABELS[i, j] >= 0:
                images[i, y1:y2, x1:x2] = 1.0
                masks[i, y1:y2, x1:x2] = j + 1
    return images, masks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boxes_follow_the_pixels_of_their_object(seed):
    # Each object is also an instance mask: after flips, shifts and zooms (one geometry for
    # images, masks and boxes) the moved box is the bounding box of the moved mask, clipped.
    pipeline = augment.geometric(shift=0.3, rotation=0, zoom=0.3, shear=0,
                                 flip="horizontal_and_vertical", fill_mode="constant",
                                 interpolation="nearest", seed=seed)
    images, masks = _images_and_instance_masks()
    _, boxes, labels, moved = augment.with_boxes(pipeline, images, BOXES, LABELS, masks)
    boxes, labels, moved = np.asarray(boxes), np.asarray(labels), np.asarray(moved)
    checked = 0
    for i in range(2):
        for j in range(3):
            ys, xs = np.nonzero(moved[i] == j + 1)
            if labels[i, j] < 0:
                assert (boxes[i, j] == 0).all()
                assert len(ys) == 0 or LABELS[i, j] >= 0  # padding stays padding
                continue
            assert labels[i, j] == LABELS[i, j]
            np.testing.assert_allclose(
                boxes[i, j], [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1], atol=1.5)
            checked += 1
    assert checked >= 2


def test_a_box_that_leaves_the_image_is_dropped_and_a_crossing_one_clipped():
    shift_down = keras.Sequential([keras.layers.RandomTranslation(
        (0.75, 0.75), (0.0, 0.0), fill_mode="constant", interpolation="nearest")])
    images, _ = _images_and_instance_masks()
    _, boxes, labels = augment.with_boxes(shift_down, images, BOXES, LABELS)
    # 0.75 * 32 = 24 pixels down: [2, 3, 12, 15] -> [26, 3, 36, 15], clipped to the bottom edge;
    # [18, 16, 30, 28] -> [42, ...] is outside: dropped; [6, 6, 26, 22] -> [30, 6, 50, 22] kept.
    np.testing.assert_allclose(np.asarray(boxes)[0, 0], [26, 3, 32, 15], atol=1e-4)
    np.testing.assert_array_equal(np.asarray(labels), [[0, -1, -1], [2, -1, -1]])
    assert (np.asarray(boxes)[0, 1:] == 0).all()
    np.testing.assert_allclose(np.asarray(boxes)[1, 0], [30, 6, 32, 22], atol=1e-4)
    # min_size: the 2-pixel sliver of the second image is dropped when 3 pixels are required.
    _, _, labels = augment.with_boxes(shift_down, images, BOXES, LABELS, min_size=3)
    np.testing.assert_array_equal(np.asarray(labels)[1], [-1, -1, -1])


def test_not_training_leaves_boxes_unchanged():
    pipeline = augment.geometric(flip="horizontal", seed=0)
    images, _ = _images_and_instance_masks()
    _, boxes, labels = augment.with_boxes(pipeline, images, BOXES, LABELS, training=False)
    np.testing.assert_array_equal(np.asarray(boxes), BOXES)
    np.testing.assert_array_equal(np.asarray(labels), LABELS)


def test_detection_batches_are_augmented_with_their_boxes():
    # data.batch (what kerasnn.data.detection.load uses) moves "boxes" with "image" and
    # recounts "num_objects".
    images, _ = _images_and_instance_masks()
    examples = tf.data.Dataset.from_tensor_slices(
        {"image": images, "boxes": BOXES, "labels": LABELS, "num_objects": [2, 1]})
    shift_left = keras.Sequential([keras.layers.RandomTranslation(
        (0.0, 0.0), (-0.5, -0.5), fill_mode="constant")])
    (batch,) = list(data.batch(examples, 2, augment=shift_left))
    # 16 pixels to the left: the first box leaves the image, the others are clipped at x = 0.
    np.testing.assert_array_equal(batch["labels"].numpy(), [[-1, 1, -1], [2, -1, -1]])
    np.testing.assert_allclose(batch["boxes"].numpy()[:, :2],
                               [[[0, 0, 0, 0], [18, 0, 30, 12]], [[6, 0, 26, 6], [0, 0, 0, 0]]],
                               atol=1e-4)
    np.testing.assert_array_equal(batch["num_objects"].numpy(), [1, 1])
    assert batch["image"].shape == (2, 32, 32, 3)
    assert float(batch["image"][0, 20, 5, 0]) == 1.0  # the image moved the same way (x 21 -> 5)


def test_bad_boxes_shape_is_refused():
    pipeline = augment.geometric(seed=0)
    images, _ = _images_and_instance_masks()
    with pytest.raises(ValueError,
                       match=r"Argument `boxes` must have shape \(batch, max_boxes, 4\)"):
        augment.with_boxes(pipeline, images, BOXES[0], LABELS)
    with pytest.raises(ValueError, match="Argument `labels` must have shape"):
        augment.with_boxes(pipeline, images, BOXES, LABELS[:, :2])
