"""augment.with_masks: image, semantic mask and instance ids stay aligned pixel for pixel."""

import numpy as np
import pytest

from kerasnn.data import augment
from kerasnn.data.builders import shapes

SPEC = {config.name: config.spec for config in shapes.CONFIGS}["segment"]


def test_image_masks_and_instances_move_together():
    examples = [shapes.generate_example(SPEC, "train", i) for i in range(4)]
    masks = np.stack([e["mask"][..., 0] for e in examples]).astype("int32")
    instances = np.stack([e["instances"][..., 0] for e in examples]).astype("int32")
    # a known image made from the masks: every pixel's value encodes its class and instance
    images = np.stack([masks / 3.0, instances / 5.0, np.ones_like(masks, float)], -1)
    pipeline = augment.geometric(shift=0.2, rotation=0.1, zoom=0.1, shear=0.1,
                                 flip="horizontal_and_vertical", fill_mode="constant",
                                 interpolation="nearest", seed=3)
    moved_images, moved_masks, moved_instances = augment.with_masks(
        pipeline, images.astype("float32"), masks, instances)
    moved_images = np.asarray(moved_images)
    moved_masks, moved_instances = np.asarray(moved_masks), np.asarray(moved_instances)
    assert moved_masks.dtype == np.int32 and moved_masks.shape == masks.shape
    assert not np.array_equal(moved_masks, masks)  # it did transform
    inside = moved_images[..., 2] > 0.5  # pixels that came from inside the image
    np.testing.assert_allclose(moved_images[..., 0][inside] * 3, moved_masks[inside], atol=1e-4)
    np.testing.assert_allclose(moved_images[..., 1][inside] * 5, moved_instances[inside],
                               atol=1e-4)
    assert set(np.unique(moved_masks)) <= set(np.unique(masks))  # no blended ids
    assert set(np.unique(moved_instances)) <= set(np.unique(instances))


def test_not_training_is_the_identity_and_bad_shape_raises():
    images = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    masks = np.arange(128).reshape(2, 8, 8) % 3
    out_images, out_masks = augment.with_masks(augment.geometric(seed=0), images, masks,
                                               training=False)
    np.testing.assert_array_equal(np.asarray(out_masks), masks)
    np.testing.assert_allclose(np.asarray(out_images), images)
    with pytest.raises(ValueError, match=r"Argument `masks` must have shape \(2, 8, 8\)"):
        augment.with_masks(augment.geometric(seed=0), images, np.zeros((2, 8, 7)))
