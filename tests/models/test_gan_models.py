"""GAN and BiGAN: the notes' training step by hand, the two generator losses, inversion, AUC."""

import keras
import numpy as np
import pytest

from kerasnn import backend, losses
from kerasnn.models import gan as gan_models


def _softplus(x):
    return np.log1p(np.exp(x))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _linear(input_dim, name, use_bias=True):
    inputs = keras.Input((input_dim,))
    return keras.Model(inputs, keras.layers.Dense(1, use_bias=use_bias, name="dense")(inputs),
                       name=name)


def test_losses_match_numpy_and_their_gradients_saturate_as_the_notes_say():
    real, fake = np.array([[0.3], [-1.2]]), np.array([[2.0], [-0.5]])
    expected = _softplus(-real).mean() + _softplus(fake).mean()  # -(mean log D(s) + log(1-D))
    assert float(losses.gan_discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)
    # d loss / d logit at D(G(z)) = 0.01: minimax -D, non-saturating -(1 - D).
    logit = keras.Variable(np.array([[np.log(0.01 / 0.99)]], "float32"))
    _, (minimax,) = backend.loss_and_gradients(
        lambda: losses.gan_generator_loss(logit, "minimax"), [logit])
    _, (non_saturating,) = backend.loss_and_gradients(
        lambda: losses.gan_generator_loss(logit, "non_saturating"), [logit])
    assert float(minimax[0, 0]) == pytest.approx(-0.01, rel=1e-4)
    assert float(non_saturating[0, 0]) == pytest.approx(-0.99, rel=1e-4)


def test_train_step_is_k_ascent_steps_on_d_then_one_step_on_g():
    generator, discriminator = _linear(1, "g", use_bias=False), _linear(1, "d")
    generator.set_weights([np.array([[0.5]], "float32")])
    discriminator.set_weights([np.array([[0.2]], "float32"), np.array([0.1], "float32")])
    model = gan_models.GAN(generator, discriminator, discriminator_steps=2)
    rate = 0.1
    model.compile(keras.optimizers.SGD(rate), keras.optimizers.SGD(rate))
    draws = [np.array([[1.0], [-2.0]]), np.array([[0.5], [3.0]]), np.array([[-1.0], [2.0]])]
    model.noise = lambda size: keras.ops.convert_to_tensor(draws.pop(0), "float32")
    real = np.array([[1.0], [0.8], [-0.4], [0.6]], "float32")
    logs = model.train_step(keras.ops.convert_to_tensor(real))

    # NumPy: two descent steps on -(mean log D(s) + mean log(1 - D(G(z)))), i.e. ascent steps.
    w_g, a, b = 0.5, 0.2, 0.1
    for s, z in ((real[:2, 0], np.array([1.0, -2.0])), (real[2:, 0], np.array([0.5, 3.0]))):
        fake = w_g * z
        objective_before = np.mean(np.log(_sigmoid(a * s + b)) + np.log(1 - _sigmoid(a * fake + b)))
        grad_a = np.mean(-_sigmoid(-(a * s + b)) * s) + np.mean(_sigmoid(a * fake + b) * fake)
        grad_b = np.mean(-_sigmoid(-(a * s + b))) + np.mean(_sigmoid(a * fake + b))
        a, b = a - rate * grad_a, b - rate * grad_b
        objective_after = np.mean(np.log(_sigmoid(a * s + b)) + np.log(1 - _sigmoid(a * fake + b)))
        assert objective_after > objective_before  # ascent on the notes' objective
    z = np.array([-1.0, 2.0])
    grad_w = np.mean(-_sigmoid(-(a * w_g * z + b)) * a * z)  # d mean -log D(G(z)) / d w_g
    w_g -= rate * grad_w
    np.testing.assert_allclose(discriminator.get_weights()[0][0, 0], a, rtol=1e-5)
    np.testing.assert_allclose(discriminator.get_weights()[1][0], b, rtol=1e-5)
    np.testing.assert_allclose(generator.get_weights()[0][0, 0], w_g, rtol=1e-5)
    assert float(logs["generator_gradient_norm"]) == pytest.approx(abs(grad_w), rel=1e-4)


def test_inversion_recovers_the_code_of_a_linear_generator():
    rng = np.random.default_rng(0)
    z = keras.Input((3,))
    generator = keras.Model(z, keras.layers.Dense(8, use_bias=False)(z))
    generator.set_weights([rng.normal(size=(3, 8)).astype("float32")])
    true_codes = rng.normal(size=(5, 3)).astype("float32")
    images = generator.predict(true_codes, verbose=0)
    codes, residuals = gan_models.invert(generator, images, steps=300, learning_rate=0.1)
    np.testing.assert_allclose(codes, true_codes, atol=2e-2)
    assert residuals.max() < 5e-2
    assert generator.trainable  # left as it was


def test_bigan_discriminator_sees_real_and_generated_pairs():
    seen = []

    class Recording(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, inputs, training=False):
            seen.append([keras.ops.convert_to_numpy(t) for t in inputs])
            return self.dense(keras.ops.concatenate(inputs, axis=-1))

    generator, encoder = _linear(1, "g"), _linear(1, "e")
    discriminator = Recording()
    discriminator([np.zeros((1, 1), "float32"), np.zeros((1, 1), "float32")])
    seen.clear()
    model = gan_models.BiGAN(generator, encoder, discriminator, seed=3)
    model.compile("sgd", "sgd")
    real = np.array([[0.5], [-0.25]], "float32")
    expected_codes = encoder.predict(real, verbose=0)
    generator_before = keras.models.clone_model(generator)
    generator_before.set_weights(generator.get_weights())
    model.train_step(keras.ops.convert_to_tensor(real))
    images, codes = seen[0]  # the first call: the real pairs (s, E(s))
    np.testing.assert_allclose(images, real)
    np.testing.assert_allclose(codes, expected_codes, rtol=1e-6)
    images, codes = seen[1]  # then the generated pairs (G(z), z)
    np.testing.assert_allclose(images, generator_before.predict(codes, verbose=0), rtol=1e-6)


def test_models_save_and_load(tmp_path):
    generator = gan_models.conv_generator(8, (8, 8, 1), filters=(16, 8))
    discriminator = gan_models.conv_discriminator((8, 8, 1), filters=(8, 16))
    model = gan_models.GAN(generator, discriminator, discriminator_steps=2, seed=1)
    model.compile("adam", "adam")
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    model.fit(images, batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    z = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    np.testing.assert_allclose(loaded.generator.predict(z, verbose=0),
                               generator.predict(z, verbose=0), atol=1e-6)
    assert loaded.discriminator_steps == 2
    assert isinstance(loaded.generator_optimizer, keras.optimizers.Adam)  # compiled as saved


def test_bad_inputs():
    generator, discriminator = gan_models.mlp_generator(4, (6,)), gan_models.mlp_discriminator((6,))
    with pytest.raises(ValueError, match="`discriminator_steps` must be a positive integer"):
        gan_models.GAN(generator, discriminator, discriminator_steps=0)
    with pytest.raises(ValueError, match=r"generator output shape \(6,\), discriminator input"):
        gan_models.GAN(generator, gan_models.mlp_discriminator((5,)))
    with pytest.raises(ValueError, match="encoder output size 3, generator latent size 4"):
        gan_models.BiGAN(generator, gan_models.mlp_encoder((6,), 3),
                         gan_models.pair_discriminator((6,), 4))
    model = gan_models.GAN(generator, discriminator)
    model.compile()
    with pytest.raises(ValueError, match=r"in \[-1.0, 1.0\].*Received: values in \[0, 255\]"):
        model.fit(np.array([[0, 255, 3, 4, 5, 6]], "float32"), epochs=1, verbose=0)
