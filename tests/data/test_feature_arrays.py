"""Tests of kerasnn.data.feature_arrays / localization_arrays on the embedded shapes."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnn import data


def test_feature_arrays_flatten_nested_features_and_keep_the_order():
    examples = {
        "image": np.arange(10, dtype="f4").reshape(5, 2),
        "objects": {"bbox": np.zeros((5, 1, 4), "f4"), "label": np.arange(5)[:, None]},
    }
    dataset = tf.data.Dataset.from_tensor_slices(examples).batch(2)
    arrays = data.feature_arrays(dataset)
    assert sorted(arrays) == ["image", "objects/bbox", "objects/label"]
    np.testing.assert_array_equal(arrays["image"], examples["image"])
    assert sorted(data.feature_arrays(dataset, keys=("image",))) == ["image"]


def test_localization_arrays_take_the_largest_object_and_the_mask():
    features = {
        "image": np.zeros((2, 4, 4, 3), "f4"),
        "label": np.array([1, 0]),
        "objects/bbox": np.array(
            [[[0, 0, 0.5, 0.5], [0, 0, 1, 1]], [[0, 0, 0.5, 1.0], [0, 0, 0.25, 0.25]]], "f4"
        ),
        "mask": np.zeros((2, 4, 4, 1), "uint8"),
    }
    features["mask"][0, 1, 2] = 3
    arrays = data.localization_arrays(features)
    np.testing.assert_array_equal(arrays["box"], [[0, 0, 1, 1], [0, 0, 0.5, 1.0]])
    assert arrays["mask"].shape == (2, 4, 4) and arrays["mask"].sum() == 1
    with pytest.raises(
        ValueError,
        match=r"Localization needs a box per image .* Received "
        r"features: image, label",
    ):
        data.localization_arrays({"image": features["image"], "label": features["label"]})
