"""The embedded 2-D / 1-D datasets: shapes, keys, the properties each is built to have."""

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data.builders import tabular

NAMES = ["kerasnn_blobs", "kerasnn_xor", "kerasnn_moons", "kerasnn_regression1d"]


@pytest.fixture(scope="module")
def splits(tfds_data_dir):
    return {
        name: {
            split: data.load_arrays(name, split, data_dir=tfds_data_dir)
            for split in ("train", "validation", "test")
        }
        for name in NAMES
    }


def test_registered_with_fixed_split_sizes(splits, tfds_data_dir):
    assert set(NAMES) <= set(data.embedded_names())
    for name in NAMES:
        for split, (x, y) in splits[name].items():
            assert x.dtype == np.float32 and len(x) == len(y) == tabular.SPLIT_SIZES[split]
            assert x.shape[1] == (1 if name == "kerasnn_regression1d" else 2)
    spec = data.describe("kerasnn_moons", tfds_data_dir)
    assert (spec.input_shape, spec.num_classes, spec.class_names) == ((2,), 2, ("upper", "lower"))


def test_generation_is_deterministic(splits):
    # The stored train split is the first SPLIT_SIZES["train"] generated examples (in tfds' order).
    x, y = tabular.xor(
        sum(tabular.SPLIT_SIZES.values()), np.random.default_rng(tabular.KerasnnXor.SEED)
    )
    stored_x, stored_y = splits["kerasnn_xor"]["train"]
    expected = sorted(zip(np.round(x[:400].astype(np.float32), 5).tolist(), y[:400].tolist()))
    assert sorted(zip(np.round(stored_x, 5).tolist(), stored_y.tolist())) == expected


def test_blobs_are_separable_with_margin(splits):
    normal = np.array([1.0, 2.0]) / np.sqrt(5.0)
    for x, y in splits["kerasnn_blobs"].values():
        distance = x @ normal - 0.3 / np.sqrt(5.0)
        assert np.all(np.where(y == 1, distance, -distance) > 0.29)
        assert 0.3 < y.mean() < 0.7


def test_xor_is_not_linearly_separable(splits):
    x, y = splits["kerasnn_xor"]["train"]
    quadrant_rule = (x[:, 0] > 0) ^ (x[:, 1] > 0)
    assert np.mean(quadrant_rule == y) > 0.98
    # The best least-squares linear classifier stays near chance.
    design = np.c_[x, np.ones(len(x))]
    weights = np.linalg.lstsq(design, 2.0 * y - 1.0, rcond=None)[0]
    assert np.mean((design @ weights > 0) == y) < 0.65


def test_regression_noise_matches_its_documented_level(splits):
    x, t = splits["kerasnn_regression1d"]["train"]
    assert np.all(np.abs(x) <= 3.0)
    residual = t - tabular.regression_function(x[:, 0])
    assert abs(residual.mean()) < 0.02
    assert residual.std() == pytest.approx(tabular.NOISE_STD, rel=0.15)
