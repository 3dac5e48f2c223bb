"""Test-time augmentation averages posteriors over augmented copies."""

import keras
import numpy as np
import pytest

from kerasnn import data
from kerasnn.data import augment, tta


def _model(from_logits=False):
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(3, activation=None if from_logits else "softmax")(x)
    return keras.Model(inputs, outputs)


def _identity(images, training=False):
    return images


def test_identity_augmentation_equals_plain_prediction_for_arrays_and_datasets():
    model = _model()
    x = np.random.default_rng(0).random((37, 4, 4, 1), dtype=np.float32)
    plain = model.predict(x, verbose=0)
    np.testing.assert_allclose(
        tta.predict_with_tta(model, x, _identity, num_augmentations=5, batch_size=8),
        plain,
        rtol=1e-5,
        atol=1e-7,
    )
    dataset = data.from_arrays(x, np.zeros(37), batch_size=10)
    np.testing.assert_allclose(
        tta.predict_with_tta(model, dataset, _identity), plain, rtol=1e-5, atol=1e-7
    )


def test_identity_keras_pipeline_equals_plain_prediction():
    model = _model()
    x = np.random.default_rng(1).random((6, 4, 4, 1), dtype=np.float32)
    identity = augment.geometric(shift=0, rotation=0, zoom=0, shear=0)
    np.testing.assert_allclose(
        tta.predict_with_tta(model, x, identity, num_augmentations=3),
        model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-7,
    )


def test_posteriors_not_scores_are_averaged():
    model = _model(from_logits=True)
    x = np.random.default_rng(2).random((5, 4, 4, 1), dtype=np.float32)
    factors = iter([2.0, -1.0])

    def scale(images, training=False):
        return images * next(factors)

    def softmax(z):
        z = np.exp(z - z.max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    kernel, bias = model.get_weights()
    flat = x.reshape(5, -1)
    expected = np.mean(
        [
            softmax(flat @ kernel + bias),
            softmax(2 * flat @ kernel + bias),
            softmax(-flat @ kernel + bias),
        ],
        axis=0,
    )
    result = tta.predict_with_tta(model, x, scale, num_augmentations=2, from_logits=True)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_needs_at_least_one_prediction():
    with pytest.raises(ValueError, match="num_augmentations=0"):
        tta.predict_with_tta(
            _model(), np.zeros((1, 4, 4, 1)), _identity, num_augmentations=0, include_original=False
        )
