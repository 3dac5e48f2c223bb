"""GANs as the course trains them, BiGANs, and the anomaly scores both give.

Course sections "GAN", "GAN - Adversary Nets", "GAN Training", "Alternate:", "GAN for Anomaly
Detections", "Bi-GANs".

- A generator ``G(z)`` maps noise ``z ~ N(0, I)`` (``phi_z``) to an image in ``[-1, 1]`` (tanh);
  a discriminator outputs a logit ``l`` with ``D = sigmoid(l)`` the posterior of "real".
- ``GAN.train_step`` is the notes' alternating procedure: k steps of gradient *ascent* on
  ``theta_d`` of ``sum log D(s_i) + log(1 - D(G(z_i)))``, then one step on ``theta_g`` with the
  minimax loss ``log(1 - D(G(z)))`` as written or the non-saturating ``-log D(G(z))`` the notes
  recommend in practice (``kerasnn.losses.gan_generator_loss``).
- ``BiGAN`` adds an encoder ``E``; its discriminator sees pairs ``(s, E(s))`` and ``(G(z), z)``.
- Anomaly scores: ``invert`` (``z* = argmin_z ||G(z) - s||^2`` by gradient descent, as a Keras
  fit over a per-example latent code), ``latent_log_likelihood``, and the BiGAN's scores.

The convolutional builders follow the DCGAN guidelines (strided convolutions instead of
pooling, batch normalization, LeakyReLU in D, tanh output): they come from the DCGAN paper
(Radford et al., 2016), not from the notes.
"""

import math

import keras
import numpy as np
from keras import ops

from kerasnn import arguments, backend, losses
from kerasnn.layers.normalization import BatchNormalization


def _image_size(shape):
    return int(np.prod(shape))


def mlp_generator(latent_dim, output_shape, *, hidden_units=(128, 256), name="generator"):
    """``z -> Dense+ReLU ... -> Dense(tanh) -> image`` of ``output_shape`` in ``[-1, 1]``."""
    latent_dim = arguments.positive_int("latent_dim", latent_dim)
    output_shape = tuple(output_shape)
    hidden_units = arguments.positive_ints("hidden_units", hidden_units)
    z = keras.Input((latent_dim,), name="z")
    x = z
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{index}")(x)
    x = keras.layers.Dense(_image_size(output_shape), activation="tanh", name="pixels")(x)
    return keras.Model(z, keras.layers.Reshape(output_shape, name="image")(x), name=name)


def _leaky_hidden_layers(x, hidden_units):
    """``Dense -> LeakyReLU(0.2)`` per hidden layer: the discriminators' and the encoder's body."""
    for index, units in enumerate(arguments.positive_ints("hidden_units", hidden_units)):
        x = keras.layers.Dense(units, name=f"hidden_{index}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{index}")(x)
    return x


def mlp_discriminator(input_shape, *, hidden_units=(256, 128), name="discriminator"):
    """``image -> Dense+LeakyReLU ... -> logit`` (``D = sigmoid(logit)``)."""
    s = keras.Input(tuple(input_shape), name="image")
    x = _leaky_hidden_layers(keras.layers.Flatten(name="unroll")(s), hidden_units)
    return keras.Model(s, keras.layers.Dense(1, name="logit")(x), name=name)


def conv_generator(latent_dim, output_shape, *, filters=(64, 32), name="generator"):
    """DCGAN-style: ``Dense -> reshape -> (transpose conv stride 2, BN, ReLU)... -> tanh``.

    Each transpose convolution doubles the resolution, so ``height`` and ``width`` must be
    divisible by ``2 ** len(filters)``.
    """
    latent_dim = arguments.positive_int("latent_dim", latent_dim)
    height, width, channels = arguments.image_shape("output_shape", output_shape)
    filters = arguments.positive_ints("filters", filters, allow_empty=False)
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        arguments.fail("output_shape", f"(height, width) divisible by {factor}", output_shape)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense((height // factor) * (width // factor) * filters[0], use_bias=False,
                           name="project")(z)
    x = keras.layers.Reshape((height // factor, width // factor, filters[0]), name="reshape")(x)
    x = BatchNormalization(name="project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    for index, count in enumerate(filters[1:] + (channels,)):
        last = index == len(filters) - 1
        x = keras.layers.Conv2DTranspose(count, 4, strides=2, padding="same", use_bias=last,
                                         activation="tanh" if last else None,
                                         name="image" if last else f"up_{index}")(x)
        if not last:
            x = BatchNormalization(name=f"up_{index}_bn")(x)
            x = keras.layers.ReLU(name=f"up_{index}_relu")(x)
    return keras.Model(z, x, name=name)


def conv_discriminator(input_shape, *, filters=(32, 64), name="discriminator"):
    """DCGAN-style: ``(conv stride 2, [BN], LeakyReLU)... -> flatten -> logit``."""
    input_shape = arguments.image_shape("input_shape", input_shape)
    filters = arguments.positive_ints("filters", filters, allow_empty=False)
    s = keras.Input(input_shape, name="image")
    x = s
    for index, count in enumerate(filters):
        x = keras.layers.Conv2D(count, 4, strides=2, padding="same", use_bias=index == 0,
                                name=f"down_{index}")(x)
        if index > 0:  # DCGAN: no batch norm on the discriminator's input layer
            x = BatchNormalization(name=f"down_{index}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down_{index}_leaky_relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(s, keras.layers.Dense(1, name="logit")(x), name=name)


def mlp_encoder(input_shape, latent_dim, *, hidden_units=(256, 128), name="encoder"):
    """The BiGAN's ``E``: ``image -> Dense+LeakyReLU ... -> z`` (linear output)."""
    latent_dim = arguments.positive_int("latent_dim", latent_dim)
    s = keras.Input(tuple(input_shape), name="image")
    x = _leaky_hidden_layers(keras.layers.Flatten(name="unroll")(s), hidden_units)
    return keras.Model(s, keras.layers.Dense(latent_dim, name="z")(x), name=name)


def pair_discriminator(input_shape, latent_dim, *, hidden_units=(256, 128),
                       name="pair_discriminator"):
    """The BiGAN's ``D(s, z)``: the unrolled image and the code, concatenated, to a logit."""
    s = keras.Input(tuple(input_shape), name="image")
    z = keras.Input((arguments.positive_int("latent_dim", latent_dim),), name="z")
    x = keras.layers.Concatenate(name="pair")([keras.layers.Flatten(name="unroll")(s), z])
    x = _leaky_hidden_layers(x, hidden_units)
    return keras.Model([s, z], keras.layers.Dense(1, name="logit")(x), name=name)


def check_image_range(images, low=-1.0, high=1.0):
    """GAN images live in ``[-1, 1]`` (the generator's tanh): refuse others (e.g. ``[0, 255]``)."""
    images = np.asarray(images)
    if images.size and (images.min() < low - 1e-6 or images.max() > high + 1e-6):
        raise ValueError(
            f"Argument `images` must hold values in [{low}, {high}] (scale them with "
            f"2 * x - 1 from [0, 1]). Received: values in [{images.min():.3g}, {images.max():.3g}]"
        )
    return images


def _norm(gradients):
    return ops.sqrt(sum((ops.sum(ops.square(g)) for g in gradients if g is not None), 0.0))


def _real_images(data):
    return data[0] if isinstance(data, (tuple, list)) else data


class _Adversarial(keras.Model):
    """What GAN and BiGAN share: two optimizers, tracked metrics, the range check in ``fit``."""

    def compile(self, discriminator_optimizer="adam", generator_optimizer="adam", **kwargs):
        """Args: one optimizer for the discriminator, one for the generator (and encoder)."""
        super().compile(**kwargs)
        self.discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        self.generator_optimizer = keras.optimizers.get(generator_optimizer)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.METRICS}

    @property
    def metrics(self):
        return list(getattr(self, "trackers", {}).values())

    def get_compile_config(self):
        """The two optimizers, so a loaded model is compiled as it was saved."""
        return {name: keras.optimizers.serialize(getattr(self, name))
                for name in ("discriminator_optimizer", "generator_optimizer")}

    def compile_from_config(self, config):
        self.compile(**{name: keras.optimizers.deserialize(value)
                        for name, value in config.items()})
        # Built now, so that the saved optimizer state (moments, step count) loads into them.
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer.build(self.generator_variables())

    def generator_variables(self):
        """What the generator's optimizer updates."""
        return self.generator.trainable_variables

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit``, after checking that the images are in ``[-1, 1]``."""
        first = x if not hasattr(x, "element_spec") else next(iter(x.take(1)))
        check_image_range(ops.convert_to_numpy(_real_images(first)))
        return super().fit(x, *args, **kwargs)

    def _step(self, optimizer, loss_function, variables):
        if not variables:  # a frozen network (e.g. only D learns): its loss, no update
            return loss_function(), []
        loss, gradients = backend.loss_and_gradients(loss_function, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        return loss, gradients

    def _record(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


@keras.saving.register_keras_serializable(package="kerasnn")
class GAN(_Adversarial):
    """A generator and a discriminator trained by the notes' alternating procedure.

    Each ``train_step`` takes one batch of ``k * m`` real images (``k = discriminator_steps``):

    1. for each of its k minibatches ``s_1..s_m``: draw ``z_1..z_m ~ N(0, I)`` and take one step
       of gradient ascent on ``theta_d`` of ``sum_i log D(s_i) + log(1 - D(G(z_i)))`` (a descent
       step on ``kerasnn.losses.gan_discriminator_loss``, its negative);
    2. draw m new noise vectors and take one descent step on ``theta_g`` of the generator loss:
       ``"minimax"`` ``log(1 - D(G(z)))`` or ``"non_saturating"`` ``-log D(G(z))``.

    Metrics per step: both losses, D's accuracy on real and on generated images (``D > 1/2``),
    and ``generator_gradient_norm`` ``||grad_theta_g||``.

    Args:
        generator: ``keras.Model`` mapping ``(batch, latent_dim)`` noise to images in ``[-1, 1]``.
        discriminator: ``keras.Model`` mapping images to ``(batch, 1)`` logits.
        discriminator_steps: k >= 1.
        generator_loss: ``"non_saturating"`` (default) or ``"minimax"``.

    Example:
        >>> gan = GAN(mlp_generator(4, (2,)), mlp_discriminator((2,)))
        >>> gan.latent_dim
        4
    """

    METRICS = ("discriminator_loss", "generator_loss", "real_accuracy", "fake_accuracy",
               "generator_gradient_norm")

    def __init__(self, generator, discriminator, *, discriminator_steps=1,
                 generator_loss="non_saturating", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.discriminator_steps = arguments.positive_int("discriminator_steps",
                                                          discriminator_steps)
        self.generator_loss = arguments.one_of("generator_loss", generator_loss,
                                               losses.GENERATOR_LOSSES)
        generated = tuple(generator.output_shape[1:])
        expected = tuple(discriminator.input_shape[1:])
        if generated != expected:
            raise ValueError(
                "The generator's images must be the discriminator's inputs. Received: generator "
                f"output shape {generated}, discriminator input shape {expected}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.built = True  # its networks are built functional models

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def noise(self, batch_size):
        """``batch_size`` draws of ``z ~ N(0, I)``."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.noise_seed)

    def sample(self, num_samples):
        """``num_samples`` generated images (inference mode)."""
        return self.generator(self.noise(num_samples), training=False)

    def discriminate(self, images):
        """``D(s)``: the posterior that ``images`` are real."""
        return ops.sigmoid(self.discriminator(images, training=False))

    def generator_gradient_norm(self, batch_size):
        """``||grad_theta_g||`` of the generator loss on ``batch_size`` fresh noise vectors."""
        z = self.noise(batch_size)
        variables = self.generator.trainable_variables
        _, gradients = backend.loss_and_gradients(
            lambda: losses.gan_generator_loss(self.discriminator(self.generator(z, training=True),
                                                                 training=True),
                                              self.generator_loss), variables)
        return float(_norm(gradients))

    def train_step(self, data):
        real = _real_images(data)
        minibatches = ops.split(real, self.discriminator_steps, axis=0)
        size = ops.shape(minibatches[0])[0]
        variables = self.discriminator.trainable_variables
        for minibatch in minibatches:  # k ascent steps on theta_d (k is a small constant)
            z = self.noise(size)
            fake = self.generator(z, training=True)

            def discriminator_loss(minibatch=minibatch, fake=fake):
                real_logits = self.discriminator(minibatch, training=True)
                fake_logits = self.discriminator(fake, training=True)
                self._logits = real_logits, fake_logits
                return losses.gan_discriminator_loss(real_logits, fake_logits)

            d_loss, _ = self._step(self.discriminator_optimizer, discriminator_loss, variables)
        real_logits, fake_logits = self._logits
        z = self.noise(size)
        g_loss, gradients = self._step(
            self.generator_optimizer,
            lambda: losses.gan_generator_loss(
                self.discriminator(self.generator(z, training=True), training=True),
                self.generator_loss),
            self.generator_variables())
        return self._record({
            "discriminator_loss": d_loss,
            "generator_loss": g_loss,
            "real_accuracy": ops.mean(ops.cast(real_logits > 0, "float32")),
            "fake_accuracy": ops.mean(ops.cast(fake_logits < 0, "float32")),
            "generator_gradient_norm": _norm(gradients),
        })

    def get_config(self):
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "discriminator_steps": self.discriminator_steps,
                "generator_loss": self.generator_loss, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasnn")
class BiGAN(_Adversarial):
    """A BiGAN ("Bi-GANs"): generator ``G``, encoder ``E`` and a discriminator on pairs.

    ``min_{G,E} max_D E_s[log D(s, E(s))] + E_z[log(1 - D(G(z), z))]``. (The notes print the
    second term as ``1 - log D(G(z), z)``: a typo for ``log(1 - D(G(z), z))``, the GAN term.)
    Each ``train_step`` takes one ascent step on ``theta_d`` (real pairs ``(s, E(s))``, generated
    pairs ``(G(z), z)``), then one step on ``G`` and ``E`` together with the non-saturating
    form: the discriminator's labels swapped.

    Args:
        generator: noise -> images in ``[-1, 1]``; encoder: images -> codes;
        discriminator: ``[images, codes]`` -> ``(batch, 1)`` logits.
    """

    METRICS = ("discriminator_loss", "generator_loss", "real_accuracy", "fake_accuracy")

    def __init__(self, generator, encoder, discriminator, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        latent_dim = int(generator.input_shape[-1])
        if int(encoder.output_shape[-1]) != latent_dim:
            raise ValueError(
                "The encoder's codes must have the generator's latent size. Received: encoder "
                f"output size {encoder.output_shape[-1]}, generator latent size {latent_dim}")
        self.generator, self.encoder, self.discriminator = generator, encoder, discriminator
        self.latent_dim = latent_dim
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.built = True  # its networks are built functional models

    def call(self, images, training=False):
        """``G(E(s))``: the reconstruction of ``images``."""
        return self.generator(self.encoder(images, training=training), training=training)

    def generator_variables(self):
        """The generator's and the encoder's variables: one optimizer moves both."""
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def pair_logits(self, images, codes, training=False):
        """The discriminator's logit that ``(images, codes)`` is a real pair ``(x, E(x))``."""
        return self.discriminator([images, codes], training=training)

    def train_step(self, data):
        real = _real_images(data)
        size = ops.shape(real)[0]
        z = keras.random.normal((size, self.latent_dim), seed=self.noise_seed)

        def logits():
            real_logits = self.pair_logits(real, self.encoder(real, training=True), training=True)
            fake_logits = self.pair_logits(self.generator(z, training=True), z, training=True)
            return real_logits, fake_logits

        def discriminator_loss():
            self._logits = logits()
            return losses.gan_discriminator_loss(*self._logits)

        d_loss, _ = self._step(self.discriminator_optimizer, discriminator_loss,
                               self.discriminator.trainable_variables)
        real_logits, fake_logits = self._logits
        g_loss, _ = self._step(
            self.generator_optimizer,
            lambda: losses.gan_discriminator_loss(*reversed(logits())),  # labels swapped
            self.generator_variables())
        return self._record({
            "discriminator_loss": d_loss,
            "generator_loss": g_loss,
            "real_accuracy": ops.mean(ops.cast(real_logits > 0, "float32")),
            "fake_accuracy": ops.mean(ops.cast(fake_logits < 0, "float32")),
        })

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(), "generator": serialize(self.generator),
                "encoder": serialize(self.encoder), "discriminator": serialize(self.discriminator),
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        for key in ("generator", "encoder", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


# ## Anomaly scores ("GAN for Anomaly Detections", "Bi-GANs")


def latent_log_likelihood(codes):
    """``log phi_z(z)`` of the standard normal prior: ``-||z||^2 / 2 - d/2 log(2 pi)``."""
    codes = np.asarray(codes, dtype="float64")
    return -0.5 * np.sum(codes**2, axis=-1) - 0.5 * codes.shape[-1] * math.log(2 * math.pi)


def invert(generator, images, *, steps=200, learning_rate=0.05, initial_codes=None, seed=0):
    """``z* = argmin_z ||G(z) - s||^2`` for every image at once: ``G^{-1}`` of the notes.

    The codes are the weights of an ``Embedding`` (one row per image) in front of the frozen
    generator, trained by Adam for ``steps`` full-batch steps: gradient descent on z,
    vectorized over the batch, on any backend.

    Returns:
        ``(codes, residuals)``: ``(N, latent_dim)`` codes and ``(N,)`` residuals ``||G(z*) - s||``.
    """
    images = np.asarray(images, dtype="float32")
    latent_dim = int(generator.input_shape[-1])
    count = len(images)
    if initial_codes is None:
        initial_codes = np.random.default_rng(seed).normal(0.0, 0.1, (count, latent_dim))
    index = keras.Input((), dtype="int32", name="index")
    codes = keras.layers.Embedding(count, latent_dim, name="codes")
    frozen = generator.trainable
    generator.trainable = False
    try:
        model = keras.Model(index, generator(codes(index), training=False))
        codes.set_weights([np.asarray(initial_codes, "float32")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mean_squared_error")
        model.fit(np.arange(count), images, batch_size=count, epochs=steps, verbose=0,
                  shuffle=False)
        reconstructions = ops.convert_to_numpy(model.predict(np.arange(count), batch_size=count,
                                                             verbose=0))
    finally:
        generator.trainable = frozen
    residuals = np.sqrt(((reconstructions - images) ** 2).reshape(count, -1).sum(axis=1))
    return codes.get_weights()[0], residuals


def bigan_scores(bigan, images):
    """The BiGAN's anomaly scores of ``images``, each "larger = more anomalous":

    - ``prior``: ``-log phi_z(E(s))`` (the notes: low likelihood of the code is anomalous);
    - ``discriminator``: ``1 - D(s, E(s))`` (the notes: D sees an anomaly as fake);
    - ``reconstruction``: ``||s - G(E(s))||``.
    """
    images = np.asarray(images, "float32")
    codes = ops.convert_to_numpy(bigan.encoder(images, training=False))
    posterior = ops.convert_to_numpy(ops.sigmoid(bigan.pair_logits(images, codes)))[:, 0]
    reconstructions = ops.convert_to_numpy(bigan.generator(codes, training=False))
    residual = np.sqrt(((reconstructions - images) ** 2).reshape(len(images), -1).sum(axis=1))
    return {"prior": -latent_log_likelihood(codes), "discriminator": 1.0 - posterior,
            "reconstruction": residual}
