"""Autoencoder builders: halves reachable, the sparse penalty's value, a near-lossless identity."""

import keras
import numpy as np
import pytest

from kerasnn import models


def _images(count, seed=0, shape=(8, 8, 1)):
    return np.random.default_rng(seed).random((count, *shape)).astype("float32")


@pytest.mark.parametrize("builder", [models.dense_autoencoder, models.conv_autoencoder])
def test_encoder_and_decoder_are_models_of_their_own(builder):
    model = builder((8, 8, 1), 5)
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    x = _images(4)
    codes = encoder.predict(x, verbose=0)
    assert codes.shape == (4, 5) and tuple(decoder.output.shape) == (None, 8, 8, 1)
    np.testing.assert_allclose(decoder.predict(codes, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert len(model.weights) == len(encoder.weights) + len(decoder.weights)


def test_conv_decoder_upsamples_with_transpose_convolutions():
    model = models.conv_autoencoder((16, 16, 3), 8, filters=(4, 8))
    decoder = model.get_layer("decoder")
    kinds = [type(layer).__name__ for layer in decoder.layers]
    assert kinds.count("Conv2DTranspose") == 3
    assert decoder.get_layer("grid").output.shape[1:] == (4, 4, 8)
    assert decoder.get_layer("decoder_upconv1").output.shape[1:] == (8, 8, 8)
    assert tuple(model.output.shape) == (None, 16, 16, 3)


def test_sparse_penalty_is_lambda_times_the_mean_l1_norm_of_the_codes():
    model = models.dense_autoencoder((8, 8, 1), 6, sparsity=0.01, code_activation="relu")
    x = _images(5)
    codes = keras.ops.convert_to_numpy(model.get_layer("encoder")(x))
    model(x)
    assert len(model.losses) == 1
    expected = 0.01 * np.abs(codes).sum(axis=1).mean()  # lambda * sum_j |h_j|, batch mean
    assert expected > 0
    assert float(model.losses[0]) == pytest.approx(expected, rel=1e-5)
    assert models.dense_autoencoder((8, 8, 1), 6).losses == []


def test_identity_sized_code_reconstructs_nearly_losslessly_and_a_small_code_does_not():
    x = (_images(128, seed=1) > 0.5).astype("float32")  # 64 independent pixels: incompressible
    errors = {}
    for code_size in (64, 2):
        keras.utils.set_random_seed(0)
        model = models.dense_autoencoder((8, 8, 1), code_size, hidden_units=())
        model.compile(keras.optimizers.Adam(0.05), loss="mse")
        repeated = np.tile(x, (25, 1, 1, 1))  # 25 steps an epoch: few epochs, little overhead
        model.fit(repeated, repeated, batch_size=128, epochs=6, verbose=0)
        errors[code_size] = float(model.evaluate(x, x, verbose=0))
    assert errors[64] < 0.01 < 0.15 < errors[2]


def test_encoder_classifier_keeps_a_frozen_encoder_and_round_trips(tmp_path):
    autoencoder = models.conv_autoencoder((8, 8, 1), 4, filters=(4,))
    encoder = autoencoder.get_layer("encoder")
    before = [w.copy() for w in encoder.get_weights()]
    classifier = models.encoder_classifier(encoder, 3)
    classifier.compile("adam", "sparse_categorical_crossentropy")
    classifier.fit(_images(12), np.arange(12) % 3, epochs=2, verbose=0)
    for old, new in zip(before, encoder.get_weights()):
        np.testing.assert_array_equal(old, new)
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    x = _images(3, seed=2)
    np.testing.assert_allclose(keras.saving.load_model(path).predict(x, verbose=0),
                               classifier.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_clear_value_errors():
    with pytest.raises(ValueError, match=r"^Argument `input_shape` must be height and width "
                       r"divisible by 2 \*\* len\(filters\) = 4\. "
                       r"Received: input_shape=\(6, 6, 1\)$"):
        models.conv_autoencoder((6, 6, 1), 4)
    with pytest.raises(ValueError, match="Argument `sparsity` must be a non-negative number"):
        models.dense_autoencoder((8, 8, 1), 4, sparsity=-0.1)
    with pytest.raises(ValueError, match="Argument `code_size` must be a positive integer"):
        models.dense_autoencoder((8, 8, 1), 0)
