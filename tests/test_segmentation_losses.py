"""Tests of the segmentation losses of kerasnn.losses: the U-Net weight map against a brute-force
NumPy reference, the class-balancing weights, and the pixel-wise weighted cross-entropy against
NumPy and Keras' sample-weighted cross-entropy."""

import keras
import numpy as np
import pytest

from kerasnn import losses


def _brute_force_weight_map(instances, class_weight_of_pixel, w0, sigma):
    """Direct transcription of w(x) = w_c(x) + w0 exp(-(d1 + d2)^2 / (2 sigma^2)): for every
    background pixel, the distance to every pixel of every object, loops only."""
    height, width = instances.shape
    ids = sorted(set(instances.ravel().tolist()) - {0})
    weights = np.array(class_weight_of_pixel, dtype=np.float64)
    for r in range(height):
        for c in range(width):
            if instances[r, c] != 0 or len(ids) < 2:
                continue
            nearest = []
            for i in ids:
                nearest.append(min(
                    np.hypot(r - rr, c - cc)
                    for rr in range(height)
                    for cc in range(width)
                    if instances[rr, cc] == i
                ))
            d1, d2 = sorted(nearest)[:2]
            weights[r, c] += w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return weights


def _small_instances():
    instances = np.zeros((9, 11), dtype=int)
    instances[1:4, 1:5] = 1
    instances[1:4, 6:9] = 2  # a one-pixel-wide gap between objects 1 and 2
    instances[6:8, 2:10] = 3
    return instances


@pytest.mark.parametrize("w0, sigma", [(10.0, 5.0), (3.0, 1.5)])
def test_unet_weight_map_matches_brute_force(w0, sigma):
    instances = _small_instances()
    semantic = (instances > 0).astype(int)
    semantic[instances == 3] = 2
    class_weights = losses.class_balance_weights(semantic, 3)
    expected = _brute_force_weight_map(instances, class_weights[semantic], w0, sigma)
    got = losses.unet_weight_map(instances, semantic, w0=w0, sigma=sigma)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # the gap between the two close objects weighs more than the open background
    assert got[2, 5] > got[8, 0] + 0.3 * w0


def test_unet_weight_map_defaults_are_the_papers_and_batches():
    assert (losses.UNET_W0, losses.UNET_SIGMA) == (10.0, 5.0)
    instances = _small_instances()
    single = losses.unet_weight_map(instances)
    np.testing.assert_allclose(single, _brute_force_weight_map(instances, np.ones((9, 11)), 10, 5),
                               rtol=1e-5)
    one_object = np.where(instances == 1, 1, 0)
    batch = losses.unet_weight_map(np.stack([instances, one_object]))
    np.testing.assert_allclose(batch[0], single)
    np.testing.assert_array_equal(batch[1], np.ones((9, 11)))  # one object: no border term
    np.testing.assert_array_equal(losses.unet_weight_map(instances, w0=0.0), np.ones((9, 11)))


def test_class_balance_weights_by_hand_and_mean_one():
    masks = np.array([[0, 0, 0, 1], [0, 0, 1, 1]])
    weights = losses.class_balance_weights(masks, 3)
    np.testing.assert_allclose(weights, [8 / (2 * 5), 8 / (2 * 3), 0.0])
    assert weights[masks].mean() == pytest.approx(1.0)


def test_pixelwise_weighted_crossentropy_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(2, 5, 6))
    weights = rng.uniform(0, 5, size=(2, 5, 6)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    pixel = -np.log(np.take_along_axis(probs, labels[..., None], -1)[..., 0])
    expected = (weights * pixel).reshape(2, -1).mean(-1)
    got = losses.pixelwise_weighted_crossentropy(labels, logits, weights, from_logits=True)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
    got = losses.pixelwise_weighted_crossentropy(labels[..., None], probs, weights)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-4)
    # the Loss with the weight map as sample_weight: the batch mean, as Keras' own
    loss = losses.PixelwiseWeightedCrossentropy(from_logits=True)
    assert float(loss(labels, logits, sample_weight=weights)) == pytest.approx(expected.mean(),
                                                                               rel=1e-5)
    reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(labels, logits, sample_weight=weights)) == pytest.approx(
        float(reference(labels, logits, sample_weight=weights)), rel=1e-6)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(clone, losses.PixelwiseWeightedCrossentropy) and clone.from_logits


def test_pixelwise_weighted_crossentropy_gradient_is_weighted():
    import tensorflow as tf  # GradientTape: the test's backend is TensorFlow

    logits = tf.Variable(np.zeros((1, 1, 2, 2), "float32"))
    with tf.GradientTape() as tape:
        value = losses.pixelwise_weighted_crossentropy([[[0, 0]]], logits, [[[1.0, 0.0]]], True)
    gradient = tape.gradient(value, logits).numpy()
    np.testing.assert_allclose(gradient[0, 0, 0], [-0.25, 0.25], atol=1e-6)  # (p - y) w / 2
    np.testing.assert_array_equal(gradient[0, 0, 1], [0.0, 0.0])  # weight 0: no gradient


def test_separate_touching_draws_one_pixel_lines_between_same_class_objects():
    instances = np.array([[1, 1, 2, 2, 3],
                          [1, 1, 2, 2, 3],
                          [4, 4, 4, 0, 0]])
    masks = np.array([[1, 1, 1, 1, 2],
                      [1, 1, 1, 1, 2],
                      [1, 1, 1, 0, 0]])
    separated, separated_masks = losses.separate_touching(instances, masks)
    expected = np.array([[1, 1, 0, 2, 3],  # 2 touches 1 (same class): its edge pixels go;
                         [1, 1, 0, 2, 3],  # 3 touches 2 but is of another class: kept
                         [0, 0, 0, 0, 0]])  # 4 touches 1 and 2 from below: its edge goes
    np.testing.assert_array_equal(separated, expected)
    np.testing.assert_array_equal(separated_masks, np.where(expected > 0, masks, 0))
    np.testing.assert_array_equal(instances[0], [1, 1, 2, 2, 3])  # inputs are not modified
    # the border term now weighs the lines: d1 + d2 = 2 pixels there
    weights = losses.unet_weight_map(separated)
    assert weights[0, 2] == pytest.approx(1 + 10 * np.exp(-4 / 50), rel=1e-5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"Argument `weights` must have shape \(1, 1, 2\)"):
        losses.pixelwise_weighted_crossentropy([[[0, 0]]], np.ones((1, 1, 2, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"Argument `labels` must have shape \(1, 1, 2\)"):
        losses.pixelwise_weighted_crossentropy([[[0, 0, 1]]], np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"Argument `semantic` must have shape \(9, 11\)"):
        losses.unet_weight_map(_small_instances(), np.zeros((9, 10), int))
    with pytest.raises(ValueError, match="Argument `sigma` must be a positive number"):
        losses.unet_weight_map(_small_instances(), sigma=0)
    with pytest.raises(ValueError, match=r"Argument `masks` must be class ids in \[0, 2\)"):
        losses.class_balance_weights([[0, 2]], 2)
