"""Noisy inputs with clean targets, for denoising autoencoders (course notes, "Noise Reduction").

"By adding some noise to the training set, the net will try to learn and reconstruct the
original input": the pipeline adds Gaussian noise of standard deviation ``noise_stddev`` to each
image, clips to the images' range ``[0, 1]``, and keeps the clean image as the target. The noise
is a stateless function of the seed and a per-example random value drawn again every epoch, so
the same seed gives the same epochs but no two epochs see the same noise.
"""

import tensorflow as tf

from kerasnn import arguments
from kerasnn.data import batch


def add_noise(images, noise_stddev, seed):
    """``clip(images + N(0, noise_stddev^2), 0, 1)`` with a stateless ``seed`` (two ints)."""
    images = tf.convert_to_tensor(images, tf.float32)
    noise = tf.random.stateless_normal(tf.shape(images), seed=seed, stddev=noise_stddev)
    return tf.clip_by_value(images + noise, 0.0, 1.0)


def denoising_dataset(images, *, noise_stddev, batch_size=32, shuffle=True, seed=0):
    """Batches ``(noisy images, clean images)`` of an ``(N, ...)`` image array.

    Args:
        noise_stddev: standard deviation of the noise (0 gives a plain autoencoder's pairs).
        batch_size, shuffle, seed: as ``kerasnn.data.batch``; ``seed`` also seeds the noise.
    """
    noise_stddev = arguments.non_negative_number("noise_stddev", noise_stddev)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip(tf.data.Dataset.from_tensor_slices(images), randoms).map(
        lambda image, value: (add_noise(image, noise_stddev, tf.stack([value, seed])), image),
        num_parallel_calls=tf.data.AUTOTUNE)
    return batch(dataset, batch_size, shuffle=shuffle, seed=seed)
