"""The few-shot subsets and the `pretrain` source config of kerasnn_shapes."""

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data.builders import shapes


def test_per_class_arrays_keeps_the_same_few_examples_of_every_class(tfds_data_dir):
    x, y = data.per_class_arrays("kerasnn_digits", "validation", 3, data_dir=tfds_data_dir,
                                 seed=4)
    all_x, all_y = data.load_arrays("kerasnn_digits", "validation", data_dir=tfds_data_dir)
    keep = data.per_class_subset(all_y, 3, seed=4)
    np.testing.assert_array_equal(x, all_x[keep])
    assert np.bincount(y).tolist() == [3] * 10
    with pytest.raises(ValueError, match="Class 0 has 18 examples; expected at least"):
        data.per_class_arrays("kerasnn_digits", "validation", 100, data_dir=tfds_data_dir)
    _, y = data.per_class_arrays("kerasnn_digits", "validation", 100, data_dir=tfds_data_dir,
                                 at_most=True)
    assert np.bincount(y).tolist() == [np.bincount(all_y).min()] * 10


def test_pretrain_config_is_a_richer_source_disjoint_from_the_target():
    specs = {config.name: config.spec for config in shapes.CONFIGS}
    assert set(specs["source"].classes) < set(specs["pretrain"].classes)
    assert not set(specs["pretrain"].classes) & set(specs["target"].classes)
    assert not set(shapes.SOURCE_ONLY_SHAPES) & set(shapes.SHAPES)  # other configs unchanged
    assert [config.name for config in shapes.CONFIGS][:4] == [
        "source", "target", "classify", "detect"]
    for index in range(3):
        example = shapes.generate_example(specs["pretrain"], "test", index)
        assert (example["mask"] == example["label"] + 1).sum() >= 4
