"""The `kerasnn_shapes/segment` configuration: instance ids beside the semantic mask, touching
objects of one class, boxes of the visible pixels, and the other configurations untouched."""

import numpy as np
import tensorflow_datasets as tfds

from kerasnn import metrics
from kerasnn.data.builders import shapes

SPEC = {config.name: config.spec for config in shapes.CONFIGS}["segment"]


def test_instances_masks_and_boxes_describe_the_same_visible_pixels():
    for index in range(20):
        example = shapes.generate_example(SPEC, "train", index)
        again = shapes.generate_example(SPEC, "train", index)
        np.testing.assert_array_equal(example["instances"], again["instances"])
        np.testing.assert_array_equal(example["image"], again["image"])
        instances, mask = example["instances"][..., 0], example["mask"][..., 0]
        objects = example["objects"]
        assert SPEC.min_objects <= len(objects) <= SPEC.max_objects
        np.testing.assert_array_equal(np.unique(instances), np.arange(len(objects) + 1))
        np.testing.assert_array_equal(mask > 0, instances > 0)
        for k, obj in enumerate(objects, start=1):
            visible = instances == k
            assert np.all(mask[visible] == obj["label"] + 1)
            rows, cols = np.nonzero(visible)
            tight = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]) / 64
            np.testing.assert_allclose(obj["bbox"], tight, atol=1e-6)


def test_most_images_have_touching_objects_of_one_class():
    touching = [
        bool(metrics.touching_pairs(example["instances"][..., 0], example["mask"][..., 0]))
        for example in (shapes.generate_example(SPEC, "test", i) for i in range(40))
    ]
    assert np.mean(touching) >= 0.6  # measured 42 of the first 50 training images


def test_only_the_segment_config_has_instances(tmp_path):
    features = tfds.builder("kerasnn_shapes/segment", data_dir=str(tmp_path)).info.features
    assert features["instances"].shape == (64, 64, 1)
    detect = tfds.builder("kerasnn_shapes/detect", data_dir=str(tmp_path)).info.features
    assert "instances" not in detect
    assert "instances" not in shapes.generate_example(shapes.CONFIGS[3].spec, "train", 0)
