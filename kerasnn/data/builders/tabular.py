"""Small 2-D and 1-D problems for the first chapters of the course, as embedded tfds datasets.

- ``kerasnn_blobs``: two Gaussian clouds split by a straight line with a clear margin (linearly
  separable: the perceptron of "The Perceptron" converges on it);
- ``kerasnn_xor``: four Gaussian clouds at the corners of a square, opposite corners sharing a
  class (no straight line separates them: the perceptron never converges);
- ``kerasnn_moons``: two interleaving half circles with noise (a curved boundary for an MLP);
- ``kerasnn_regression1d``: ``target = regression_function(x) + N(0, NOISE_STD^2)`` on
  ``x ~ U[-3, 3]`` (the Gaussian maximum-likelihood view of regression, "MLE for Regression").

Every example has float32 ``"features"`` and either an integer class ``"label"`` or, for the
regression problem, a float32 ``"target"``; ``supervised_keys`` pick those two. The data are
generated from a fixed seed, so every machine builds the same splits.
"""

import numpy as np
import tensorflow_datasets as tfds

SPLIT_SIZES = {"train": 400, "validation": 200, "test": 400}

# Standard deviation of the Gaussian noise added to the 1-D regression targets.
NOISE_STD = 0.1


def regression_function(x):
    """The noiseless function behind ``kerasnn_regression1d``: ``sin(2x) + 0.3 x``."""
    return np.sin(2.0 * x) + 0.3 * x


def blobs(num_examples, rng, margin=0.3):
    """Two Gaussian clouds on either side of the line ``x1 + 2 x2 = 0.3``, none closer than
    ``margin``."""
    normal = np.array([1.0, 2.0]) / np.sqrt(5.0)
    offset = 0.3 / np.sqrt(5.0)
    features, labels = [], []
    while sum(len(chunk) for chunk in labels) < num_examples:
        label = rng.integers(0, 2, size=num_examples)
        centre = offset + np.where(label == 1, 1.5, -1.5)[:, None] * normal
        points = centre + rng.normal(0.0, 0.8, size=(num_examples, 2))
        signed_distance = points @ normal - offset
        keep = np.where(label == 1, signed_distance > margin, signed_distance < -margin)
        features.append(points[keep])
        labels.append(label[keep])
    return np.concatenate(features)[:num_examples], np.concatenate(labels)[:num_examples]


def xor(num_examples, rng):
    """Clouds around (+-1, +-1); class 1 where exactly one coordinate is positive."""
    corners = rng.integers(0, 2, size=(num_examples, 2))
    points = (2.0 * corners - 1.0) + rng.normal(0.0, 0.3, size=(num_examples, 2))
    return points, (corners[:, 0] ^ corners[:, 1])


def moons(num_examples, rng, noise=0.15):
    """Two interleaving half circles: class 0 the upper one, class 1 the lower, shifted one."""
    label = rng.integers(0, 2, size=num_examples)
    angle = rng.uniform(0.0, np.pi, size=num_examples)
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    lower = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)
    points = np.where(label[:, None] == 0, upper, lower) + rng.normal(0.0, noise, (num_examples, 2))
    return points, label


def regression1d(num_examples, rng):
    """``x ~ U[-3, 3]`` and ``t = regression_function(x) + N(0, NOISE_STD^2)``."""
    x = rng.uniform(-3.0, 3.0, size=(num_examples, 1))
    return x, regression_function(x[:, 0]) + rng.normal(0.0, NOISE_STD, size=num_examples)


class _TabularBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared plumbing: one generator function, fixed split sizes, float32 features."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    NUM_FEATURES = 2
    CLASS_NAMES = None  # None: a regression problem with a float "target"
    SEED = 0

    def generate(self, num_examples, rng):
        raise NotImplementedError

    def _info(self):
        features = {"features": tfds.features.Tensor(shape=(self.NUM_FEATURES,), dtype=np.float32)}
        if self.CLASS_NAMES is None:
            features["target"] = tfds.features.Tensor(shape=(), dtype=np.float32)
            supervised_keys = ("features", "target")
        else:
            features["label"] = tfds.features.ClassLabel(names=self.CLASS_NAMES)
            supervised_keys = ("features", "label")
        return self.dataset_info_from_configs(
            description=type(self).__doc__,
            features=tfds.features.FeaturesDict(features),
            supervised_keys=supervised_keys,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated locally
        rng = np.random.default_rng(self.SEED)
        inputs, outputs = self.generate(sum(SPLIT_SIZES.values()), rng)
        generators, start = {}, 0
        for split, size in SPLIT_SIZES.items():
            generators[split] = self._generate_examples(
                inputs[start : start + size], outputs[start : start + size]
            )
            start += size
        return generators

    def _generate_examples(self, inputs, outputs):
        key = "target" if self.CLASS_NAMES is None else "label"
        for index, (features, output) in enumerate(zip(inputs, outputs)):
            value = np.float32(output) if self.CLASS_NAMES is None else int(output)
            yield index, {"features": features.astype(np.float32), key: value}


class KerasnnBlobs(_TabularBuilder):
    """Two linearly separable Gaussian clouds in 2-D, margin 0.3 around the line x1 + 2 x2 = 0.3."""

    CLASS_NAMES = ["negative", "positive"]

    def generate(self, num_examples, rng):
        return blobs(num_examples, rng)


class KerasnnXor(_TabularBuilder):
    """XOR in 2-D: Gaussian clouds around (+-1, +-1); class 1 where one coordinate only is > 0."""

    CLASS_NAMES = ["same_sign", "different_sign"]

    def generate(self, num_examples, rng):
        return xor(num_examples, rng)


class KerasnnMoons(_TabularBuilder):
    """Two interleaving noisy half circles in 2-D (noise standard deviation 0.15)."""

    CLASS_NAMES = ["upper", "lower"]

    def generate(self, num_examples, rng):
        return moons(num_examples, rng)


class KerasnnRegression1d(_TabularBuilder):
    """Noisy 1-D regression: t = sin(2x) + 0.3x + N(0, 0.1^2) on x ~ U[-3, 3]."""

    NUM_FEATURES = 1

    def generate(self, num_examples, rng):
        return regression1d(num_examples, rng)
