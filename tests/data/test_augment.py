"""Augmentation pipelines: random when training, identity otherwise, label-preserving sizes."""

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data import augment


def _images():
    return np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)


@pytest.mark.parametrize("pipeline", [augment.geometric, augment.photometric, augment.combined])
def test_pipelines_change_images_only_in_training(pipeline):
    layer = pipeline(seed=0)
    x = _images()
    np.testing.assert_array_equal(layer(x, training=False), x)
    augmented = np.asarray(layer(x, training=True))
    assert augmented.shape == x.shape
    assert np.abs(augmented - x).max() > 1e-3


def test_geometric_layers_follow_arguments():
    names = [
        layer.name
        for layer in augment.geometric(
            shift=0.1, rotation=0, zoom=0, shear=0.2, flip="horizontal", seed=1
        ).layers
    ]
    assert names == ["flip", "shear", "shift"]
    assert [x.name for x in augment.photometric(noise=0.1, brightness=0, contrast=0).layers] == [
        "noise"
    ]


def test_shift_moves_content_by_at_most_the_factor():
    x = np.zeros((1, 10, 10, 1), "float32")
    x[0, 5, 5, 0] = 1.0
    shifted = np.asarray(
        augment.geometric(shift=0.2, rotation=0, zoom=0, shear=0, fill_mode="constant", seed=3)(
            x, training=True
        )
    )
    row, col = np.unravel_index(np.argmax(shifted[0, :, :, 0]), (10, 10))
    assert abs(row - 5) <= 2 and abs(col - 5) <= 2


def test_pipeline_runs_inside_tf_data():
    x = _images()
    dataset = data.from_arrays(x, np.arange(4), batch_size=2, augment=augment.combined(seed=0))
    images, labels = next(iter(dataset))
    assert images.shape == (2, 8, 8, 1) and labels.shape == (2,)


def test_invalid_strengths_are_rejected():
    with pytest.raises(ValueError, match="rotation=1.5"):
        augment.geometric(rotation=1.5)
    with pytest.raises(ValueError, match="flip='diagonal'"):
        augment.geometric(flip="diagonal")
    with pytest.raises(ValueError, match="noise=-0.1"):
        augment.photometric(noise=-0.1)
