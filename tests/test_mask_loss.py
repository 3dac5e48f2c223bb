"""Tests of kerasnn.losses.mask_loss / MaskLoss against NumPy (the RoI's class channel only)."""

import keras
import numpy as np
import pytest

from kerasnn import losses

RNG = np.random.default_rng(0)
CLASSES = np.array([[2, 0, -1, 1], [0, 0, -1, -1]])  # image 2: no foreground RoI


def np_mask_loss(classes, targets, logits):
    out = []
    for b in range(len(classes)):
        values = []
        for r, c in enumerate(classes[b]):
            if c < 1:
                continue
            p = 1 / (1 + np.exp(-logits[b, r, :, :, c - 1].astype("float64")))
            t = targets[b, r]
            values.append(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))
        out.append(np.mean(values) if values else 0.0)
    return np.array(out)


def test_mask_loss_against_numpy_on_the_true_class_channel_of_foreground_rois():
    targets = (RNG.random((2, 4, 3, 3)) > 0.5).astype("float32")
    logits = RNG.normal(size=(2, 4, 3, 3, 2)).astype("float32")
    got = np.asarray(losses.mask_loss(CLASSES, targets, logits))
    np.testing.assert_allclose(got, np_mask_loss(CLASSES, targets, logits), rtol=1e-5)
    # the other class's channel and background RoIs do not count
    changed = logits.copy()
    changed[0, 0, ..., 0] += 10.0  # RoI 0 is class 2: channel 0 is not its mask
    changed[0, 1] -= 10.0  # background
    np.testing.assert_allclose(losses.mask_loss(CLASSES, targets, changed), got, rtol=1e-6)
    perfect = np.where(targets[..., None] > 0, 30.0, -30.0) * np.ones((1, 1, 1, 1, 2))
    np.testing.assert_allclose(losses.mask_loss(CLASSES, targets, perfect), [0, 0], atol=1e-6)


def test_mask_loss_class_unpacks_serializes_and_checks_shapes():
    targets = (RNG.random((2, 4, 3, 3)) > 0.5).astype("float32")
    logits = RNG.normal(size=(2, 4, 3, 3, 2)).astype("float32")
    packed = np.concatenate([CLASSES[..., None], targets.reshape(2, 4, 9)], -1).astype("float32")
    loss = losses.MaskLoss()
    expected = np.mean(np_mask_loss(CLASSES, targets, logits))
    np.testing.assert_allclose(loss(packed, logits), expected, rtol=1e-5)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    np.testing.assert_allclose(clone(packed, logits), expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"Argument `mask_targets` must have shape \(batch, 4, 3"):
        losses.mask_loss(CLASSES, targets[:, :, :2], logits)
