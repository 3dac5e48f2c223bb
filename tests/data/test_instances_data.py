"""kerasnn.data.instances: one binary mask per padded object, from the instance ids."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnn.data import instances


def _example():
    ids = np.zeros((6, 8, 1), np.uint8)
    ids[1:3, 1:4] = 1
    ids[3:6, 4:8] = 2
    return {"image": tf.zeros((6, 8, 3), tf.uint8), "instances": tf.constant(ids),
            "objects": {"bbox": tf.constant([[1 / 6, 1 / 8, 3 / 6, 4 / 8], [3 / 6, 4 / 8, 1, 1]]),
                        "label": tf.constant([2, 0])}}


def test_pad_instances_gives_each_object_its_mask_and_zero_padding():
    features = instances.pad_instances(_example(), max_boxes=3)
    masks = features["masks"].numpy()
    assert masks.shape == (3, 6, 8) and masks.dtype == np.uint8
    ids = _example()["instances"].numpy()[..., 0]
    np.testing.assert_array_equal(masks[0], ids == 1)
    np.testing.assert_array_equal(masks[1], ids == 2)
    np.testing.assert_array_equal(masks[2], 0)
    np.testing.assert_allclose(features["boxes"].numpy()[:2], [[1, 1, 3, 4], [3, 4, 6, 8]],
                               atol=1e-5)
    np.testing.assert_array_equal(features["labels"].numpy(), [2, 0, -1])


def test_load_needs_instance_ids(tfds_data_dir):
    with pytest.raises(ValueError, match="Instance segmentation needs an `instances` feature"):
        instances.load("kerasnn_shapes/detect", "test[:2]", data_dir=tfds_data_dir)
