"""Tests of kerasnn.layers.MaskHead: the harness, and the same Keras layers applied per RoI."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import MaskHead


def _np(value):
    """NumPy array of a tensor (PyTorch outputs that require grad included) or an array."""
    return keras.ops.convert_to_numpy(value)


def test_mask_head_passes_the_harness_and_equals_keras_layers_on_each_roi():
    features = np.random.default_rng(0).normal(size=(2, 3, 4, 4, 5)).astype("float32")
    outputs = run_layer_test(MaskHead, {"num_classes": 2, "filters": 4, "num_convs": 1},
                             features, expected_output_shape=(None, 3, 8, 8, 2))
    head = MaskHead(2, filters=4, num_convs=1)
    head(features)
    reference = keras.Sequential([
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(4, 2, strides=2, activation="relu"),
        keras.layers.Conv2D(2, 1)])
    reference(features[0])
    reference.set_weights(head.get_weights())
    for image in range(2):  # each RoI of each image is an independent small FCN input
        np.testing.assert_allclose(_np(head(features)[image]), _np(reference(features[image])),
                                   rtol=1e-5, atol=1e-6)
    assert outputs.shape == (2, 3, 8, 8, 2)


def test_mask_head_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="Argument `num_convs` must be"):
        MaskHead(2, num_convs=-1)
    with pytest.raises(ValueError, match=r"Argument `features` must have shape \(batch, num_rois"):
        MaskHead(2)(np.zeros((2, 4, 4, 5), "float32"))
