"""Tests of kerasnn.data.detection: padded detection batches in pixel boxes."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnn.data import detection


def _example(boxes, labels, size=(8, 16)):
    return {
        "image": np.full(size + (3,), 255, "uint8"),
        "objects": {
            "bbox": np.asarray(boxes, "float32").reshape(-1, 4),
            "label": np.asarray(labels, "int64"),
        },
    }


def _padded(example, **kwargs):
    out = detection.pad_objects(example, **kwargs)
    return {key: np.asarray(value) for key, value in out.items()}


def test_no_object_gives_only_padding():
    out = _padded(_example([], []), max_boxes=3)
    np.testing.assert_array_equal(out["boxes"], np.zeros((3, 4)))
    np.testing.assert_array_equal(out["labels"], [-1, -1, -1])
    assert out["num_objects"] == 0
    assert out["image"].dtype == np.float32 and out["image"].max() == 1.0


def test_one_object_in_pixels_of_a_non_square_image():
    out = _padded(_example([[0.25, 0.5, 0.75, 1.0]], [4]), max_boxes=2)
    # height 8, width 16: y scaled by 8, x by 16
    np.testing.assert_allclose(out["boxes"], [[2, 8, 6, 16], [0, 0, 0, 0]])
    np.testing.assert_array_equal(out["labels"], [4, -1])
    assert out["num_objects"] == 1


def test_many_objects_fill_the_padding_exactly_and_follow_a_resize():
    boxes = [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0.1, 0.2, 0.3, 0.4]]
    out = _padded(_example(boxes, [0, 1, 2]), max_boxes=3, image_size=10)
    np.testing.assert_allclose(out["boxes"], np.asarray(boxes) * 10, rtol=1e-6)
    np.testing.assert_array_equal(out["labels"], [0, 1, 2])
    assert out["image"].shape == (10, 10, 3) and out["num_objects"] == 3


def test_too_many_objects_is_an_error_not_a_truncation():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"more objects than `max_boxes`=1"):
        detection.pad_objects(_example([[0, 0, 1, 1]] * 2, [0, 1]), max_boxes=1)
    with pytest.raises(ValueError, match=r"Argument `max_boxes` must be a positive integer"):
        detection.pad_objects(_example([], []), max_boxes=0)


def test_examples_with_0_1_and_3_objects_batch_together_in_a_dataset():
    examples = [_example([], []), _example([[0, 0, 1, 1]], [5]),
                _example([[0, 0, 0.5, 0.5]] * 3, [1, 2, 3])]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(examples),
        output_signature={
            "image": tf.TensorSpec((8, 16, 3), tf.uint8),
            "objects": {"bbox": tf.TensorSpec((None, 4), tf.float32),
                        "label": tf.TensorSpec((None,), tf.int64)},
        },
    ).map(lambda e: detection.pad_objects(e, max_boxes=4)).batch(3)
    batch = next(iter(dataset))
    assert batch["boxes"].shape == (3, 4, 4) and batch["labels"].shape == (3, 4)
    np.testing.assert_array_equal(batch["num_objects"], [0, 1, 3])
    np.testing.assert_array_equal(
        batch["labels"], [[-1, -1, -1, -1], [5, -1, -1, -1], [1, 2, 3, -1]]
    )
    np.testing.assert_allclose(batch["boxes"][1, 0], [0, 0, 8, 16])


def test_load_batches_the_embedded_detect_dataset(tfds_data_dir):
    dataset = detection.load(
        "kerasnn_shapes/detect", "test[:6]", data_dir=tfds_data_dir, batch_size=6, max_boxes=3
    )
    batch = next(iter(dataset))
    assert batch["image"].shape == (6, 64, 64, 3)
    boxes, labels, count = (batch[k].numpy() for k in ("boxes", "labels", "num_objects"))
    assert boxes.shape == (6, 3, 4) and ((count >= 1) & (count <= 3)).all()
    real = labels >= 0
    np.testing.assert_array_equal(real.sum(axis=1), count)
    assert (boxes[real][:, 2:] > boxes[real][:, :2]).all() and boxes.max() <= 64
    assert (boxes[real] > 1.0).any()  # pixels, not fractions
    np.testing.assert_array_equal(boxes[~real], 0)


def test_load_refuses_a_dataset_without_boxes(tfds_data_dir):
    with pytest.raises(ValueError, match=r"Detection needs `image` and `objects`"):
        detection.load("kerasnn_digits", "test[:2]", data_dir=tfds_data_dir)
