"""Tests of kerasnn.layers.YOLOHead: the harness, and Keras convolutions reshaped."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import YOLOHead


def _np(value):
    """NumPy array of a tensor (PyTorch outputs that require grad included) or an array."""
    return keras.ops.convert_to_numpy(value)


def test_yolo_head_passes_the_harness_and_equals_keras_convolutions_reshaped():
    features = np.random.default_rng(0).normal(size=(2, 4, 5, 6)).astype("float32")
    outputs = run_layer_test(
        YOLOHead, {"num_anchors": 3, "num_classes": 2, "filters": 8}, features,
        expected_output_shape=(None, 4, 5, 3, 7),
    )
    head = YOLOHead(3, 2, filters=8)
    head(features)
    conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    last = keras.layers.Conv2D(21, 1)
    last(conv(features))
    conv.set_weights(head.conv.get_weights())
    last.set_weights(head.predictor.get_weights())
    expected = np.reshape(_np(last(conv(features))), (2, 4, 5, 3, 7))
    np.testing.assert_allclose(_np(head(features)), expected, rtol=1e-5, atol=1e-6)
    assert outputs.shape == (2, 4, 5, 3, 7)
    # anchor a of a cell holds channels [a * 7, (a + 1) * 7) of the 1x1 convolution
    no_hidden = YOLOHead(2, 1)
    flat = keras.layers.Conv2D(12, 1)
    flat(features)
    no_hidden(features)
    flat.set_weights(no_hidden.predictor.get_weights())
    np.testing.assert_allclose(
        _np(no_hidden(features))[:, 1, 2, 1], _np(flat(features))[:, 1, 2, 6:], rtol=1e-6
    )


def test_yolo_head_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="Argument `num_classes` must be a positive int"):
        YOLOHead(3, 0)
    with pytest.raises(ValueError, match=r"Argument `features` must have shape \(batch, height"):
        YOLOHead(3, 2)(np.zeros((2, 4, 6), "float32"))
