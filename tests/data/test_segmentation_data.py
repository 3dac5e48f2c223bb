"""Tests of kerasnn.data.segmentation: trimaps to classes with nearest resizing (oxford_iiit_pet's
features, built offline), the shapes masks, and centre-labelled patches against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnn import data
from kerasnn.data import segmentation


def _pet_like(sizes):
    """Feature dicts shaped like oxford_iiit_pet's (images of different sizes, a trimap of 1 pet,
    2 background, 3 border), batched by one as ``data.load(..., batch_size=1)`` gives them."""
    examples = []
    for height, width in sizes:
        trimap = np.full((height, width, 1), 2, np.uint8)
        trimap[: height // 2] = 1  # the top half is pet, with a band of border below it
        trimap[height // 2: 3 * height // 4] = 3
        examples.append({"image": np.full((height, width, 3), 0.5, np.float32),
                         "segmentation_mask": trimap, "label": np.int64(0)})

    def generate():
        yield from examples

    signature = {"image": tf.TensorSpec((None, None, 3), tf.float32),
                 "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
                 "label": tf.TensorSpec((), tf.int64)}
    return tf.data.Dataset.from_generator(generate, output_signature=signature).batch(1)


def test_trimaps_become_classes_resized_nearest():
    images, masks, instances = segmentation.arrays(_pet_like([(40, 30), (16, 24)]), image_size=8)
    assert images.shape == (2, 8, 8, 3) and masks.shape == (2, 8, 8)
    np.testing.assert_allclose(images, 0.5)
    # nearest: no blended ids; pet (1) on top, background (0) at the bottom, border (2) between
    assert set(np.unique(masks)) <= {0, 1, 2}
    np.testing.assert_array_equal(masks[:, 0], 1)
    np.testing.assert_array_equal(masks[:, -1], 0)
    assert (masks == 2).any()
    np.testing.assert_array_equal(instances, (masks == 1).astype("int32"))  # one pet instance
    assert segmentation.PET_CLASSES == ("background", "pet", "border")


def test_shapes_masks_and_instances(tfds_data_dir):
    dataset = data.load("kerasnn_shapes/segment", "test[:4]", data_dir=tfds_data_dir,
                        supervised=False, shuffle=False, batch_size=1)
    images, masks, instances = segmentation.arrays(dataset)
    features = data.feature_arrays(dataset, keys=("mask", "instances"))
    np.testing.assert_array_equal(masks, features["mask"][..., 0])
    np.testing.assert_array_equal(instances, features["instances"][..., 0])
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.float32
    assert segmentation.class_names("kerasnn_shapes/segment", tfds_data_dir) == (
        "background", "circle", "square", "triangle")
    with pytest.raises(ValueError, match="Argument `dataset` must be a dataset with a `mask`"):
        segmentation.class_names("kerasnn_digits", tfds_data_dir)


def test_center_patches_are_labelled_by_their_centre_pixel():
    rng = np.random.default_rng(0)
    images = rng.random((3, 10, 12, 2)).astype("float32")
    masks = np.zeros((3, 10, 12), int)
    masks[1, 2:4, 5:7] = 2  # 4 pixels of class 2, 356 of class 0
    patches, labels = segmentation.center_patches(images, masks, 5, 400, seed=1)
    padded = np.pad(images, ((0, 0), (2, 3), (2, 3), (0, 0)), mode="reflect")
    # every patch is a window of the padded images whose centre (2, 2) carries its label
    for patch, label in zip(patches[:50], labels[:50]):
        hits = [(n, r, c) for n in range(3) for r in range(10) for c in range(12)
                if np.array_equal(padded[n, r:r + 5, c:c + 5], patch)]
        assert hits and all(masks[n, r, c] == label for n, r, c in hits)
        np.testing.assert_array_equal(patch[2, 2], images[hits[0]])
    assert 150 < (labels == 2).sum() < 250  # balanced: about half, not 1%
    _, uniform = segmentation.center_patches(images, masks, 5, 400, seed=1, balanced=False)
    assert (uniform == 2).sum() < 20
    with pytest.raises(ValueError, match=r"Argument `masks` must have shape \(3, 10, 12\)"):
        segmentation.center_patches(images, masks[:, :5], 5, 10)
