"""The denoising pipeline: noisy inputs of the requested strength, clean targets, new noise."""

import numpy as np
import pytest

from kerasnn.data import noise


def test_noisy_inputs_with_clean_targets_redrawn_each_epoch():
    images = np.full((64, 8, 8, 1), 0.5, "float32")
    dataset = noise.denoising_dataset(images, noise_stddev=0.1, batch_size=64, seed=3)
    noisy, clean = next(iter(dataset))
    np.testing.assert_array_equal(clean, images)
    residual = noisy.numpy() - images  # 0.5 +- 0.1 is never clipped in practice
    assert residual.mean() == pytest.approx(0.0, abs=0.005)
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    again, _ = next(iter(dataset))
    assert not np.allclose(noisy, again)
    same_seed, _ = next(iter(noise.denoising_dataset(images, noise_stddev=0.1, batch_size=64,
                                                     seed=3)))
    np.testing.assert_array_equal(noisy, same_seed)


def test_noise_is_clipped_to_the_image_range_and_checked():
    noisy = noise.add_noise(np.zeros((1000,)), 0.5, seed=(1, 2)).numpy()
    assert noisy.min() == 0.0 and noisy.max() <= 1.0 and (noisy == 0).mean() > 0.4
    with pytest.raises(ValueError, match="Argument `noise_stddev` must be a non-negative number"):
        noise.denoising_dataset(np.zeros((2, 2)), noise_stddev=-1.0)
