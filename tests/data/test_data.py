"""kerasnn.data: embedded datasets, the load pipeline, and failing fast offline."""

import time

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data.builders import digits as digits_builder
from kerasnn.data.builders import shapes


@pytest.mark.parametrize("config", shapes.CONFIGS, ids=lambda config: config.name)
def test_shapes_examples_are_deterministic_and_boxes_match_masks(config):
    spec = config.spec
    for index in range(5):
        example = shapes.generate_example(spec, "train", index)
        again = shapes.generate_example(spec, "train", index)
        np.testing.assert_array_equal(example["image"], again["image"])
        np.testing.assert_array_equal(example["mask"], again["mask"])
        assert example["label"] == again["label"]
        for obj, same in zip(example["objects"], again["objects"], strict=True):
            np.testing.assert_array_equal(obj["bbox"], same["bbox"])
            assert obj["label"] == same["label"]
        # The image-level label is the class of the image's largest object.
        assert example["label"] in {obj["label"] for obj in example["objects"]}
        assert example["image"].shape == (spec.image_size, spec.image_size, 3)
        assert spec.min_objects <= len(example["objects"]) <= spec.max_objects
        mask = example["mask"][..., 0]
        for obj in example["objects"]:
            ymin, xmin, ymax, xmax = obj["bbox"]
            assert 0 <= ymin < ymax <= 1 and 0 <= xmin < xmax <= 1
            # Every visible pixel of the object's class lies inside one of that class's boxes.
            inside = np.zeros_like(mask, bool)
            for other in example["objects"]:
                if other["label"] == obj["label"]:
                    y0, x0, y1, x1 = np.rint(other["bbox"] * spec.image_size).astype(int)
                    inside[y0:y1, x0:x1] = True
            assert not np.any((mask == obj["label"] + 1) & ~inside)


def test_single_object_box_is_the_tight_box_of_its_mask():
    spec = shapes.CONFIGS[0].spec
    example = shapes.generate_example(spec, "validation", 3)
    rows, cols = np.nonzero(example["mask"][..., 0])
    expected = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]) / spec.image_size
    np.testing.assert_allclose(example["objects"][0]["bbox"], expected, atol=1e-6)


def test_source_and_target_classes_are_disjoint():
    source = {c.name: c.spec for c in shapes.CONFIGS}["source"]
    target = {c.name: c.spec for c in shapes.CONFIGS}["target"]
    assert not set(source.classes) & set(target.classes)


def test_digits_are_sklearns_digits_with_a_fixed_stratified_split(tfds_data_dir):
    from sklearn.datasets import load_digits

    reference = load_digits()
    spec = data.describe("kerasnn_digits", tfds_data_dir)
    assert sum(spec.split_sizes.values()) == 1797
    assert spec.num_classes == 10 and spec.input_shape == (8, 8, 1)
    x, y = data.load_arrays("kerasnn_digits", "test", data_dir=tfds_data_dir)
    indices = digits_builder.split_indices(reference.target)["test"]
    assert len(y) == len(indices) == spec.split_sizes["test"]
    expected = np.rint(reference.images * 255 / 16).astype(np.uint8) / 255.0
    # Same multiset of (image, label) pairs as the split computed from scikit-learn directly.
    order = np.lexsort(x.reshape(len(x), -1).T)
    expected_order = np.lexsort(expected[indices].reshape(len(indices), -1).T)
    np.testing.assert_allclose(x[order][..., 0], expected[indices][expected_order], atol=1e-6)
    np.testing.assert_array_equal(y[order], reference.target[indices][expected_order])
    # Stratified: every class's share of the test split is within one example of 20%.
    counts = np.bincount(y, minlength=10)
    assert np.all(np.abs(counts - 0.2 * np.bincount(reference.target)) <= 1)


def test_load_yields_scaled_float_images_and_labels(tfds_data_dir):
    dataset = data.load(
        "kerasnn_shapes/target",
        "validation[:40]",
        data_dir=tfds_data_dir,
        batch_size=16,
        image_size=16,
    )
    batches = list(dataset.as_numpy_iterator())
    assert [len(labels) for _, labels in batches] == [16, 16, 8]
    images = np.concatenate([images for images, _ in batches])
    assert images.dtype == np.float32 and images.shape == (40, 16, 16, 3)
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    labels = np.concatenate([labels for _, labels in batches])
    assert set(labels) <= {0, 1, 2, 3}


def test_load_applies_augmentation_to_images_only(tfds_data_dir):
    def zero_images(images, training=False):
        assert training
        return images * 0.0

    images, labels = next(
        iter(
            data.load(
                "kerasnn_digits",
                "train[:8]",
                data_dir=tfds_data_dir,
                batch_size=8,
                augment=zero_images,
            )
        )
    )
    assert float(np.abs(images).max()) == 0.0
    _, expected = data.load_arrays("kerasnn_digits", "train[:8]", data_dir=tfds_data_dir)
    np.testing.assert_array_equal(np.sort(labels), np.sort(expected))


def test_unsupervised_load_keeps_boxes_and_masks_and_augments_images(tfds_data_dir):
    example = next(
        iter(
            data.load(
                "kerasnn_shapes/target",
                "test[:4]",
                data_dir=tfds_data_dir,
                batch_size=4,
                supervised=False,
            )
        )
    )
    assert {"image", "label", "objects", "mask"} <= set(example)
    assert example["image"].dtype.name == "float32"
    assert example["objects"]["bbox"].shape[-1] == 4
    flipped = next(
        iter(
            data.load(
                "kerasnn_shapes/target",
                "test[:4]",
                data_dir=tfds_data_dir,
                batch_size=4,
                supervised=False,
                augment=lambda images, training: images[:, :, ::-1],
            )
        )
    )
    np.testing.assert_array_equal(flipped["image"].numpy(), example["image"].numpy()[:, :, ::-1])
    np.testing.assert_array_equal(flipped["mask"].numpy(), example["mask"].numpy())


def test_building_a_dataset_leaves_the_global_random_state_alone(tmp_path):
    import random

    random.seed(7)
    np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    data.get_builder("kerasnn_digits", str(tmp_path))  # a new data dir: the dataset is built here
    assert (random.random(), np.random.random()) == expected


def test_unknown_dataset_names_the_embedded_ones(tfds_data_dir):
    with pytest.raises(data.UnknownDatasetError, match="kerasnn_digits"):
        data.load("no_such_dataset_anywhere", data_dir=tfds_data_dir)
    with pytest.raises(data.UnknownDatasetError, match="kerasnn_shapes/classify"):
        data.load("kerasnn_shapes/no_such_config", data_dir=tfds_data_dir)


def test_offline_download_fails_fast_with_the_embedded_alternative(tfds_data_dir, monkeypatch):
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    started = time.time()
    with pytest.raises(
        data.DatasetUnavailableError, match="embedded dataset instead: kerasnn_digits"
    ):
        data.load("mnist", data_dir=tfds_data_dir)
    assert time.time() - started < 10


def test_is_online_answers_quickly_when_the_probe_is_refused(monkeypatch):
    monkeypatch.delenv("KERASNN_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_PROBE_ADDRESS", ("127.0.0.1", 9))  # discard port: nothing listens
    started = time.time()
    assert data.is_online(timeout=2.0) is False
    assert time.time() - started < 5


def test_is_online_bounds_a_hanging_name_lookup(monkeypatch):
    monkeypatch.delenv("KERASNN_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_PROBE_ADDRESS", ("hangs.example", 443))

    def hang(*args, **kwargs):  # what a lookup through an unreachable DNS server does
        time.sleep(30)

    monkeypatch.setattr(data.socket, "create_connection", hang)
    started = time.time()
    assert data.is_online(timeout=0.5) is False
    assert time.time() - started < 3


def test_kerasnn_offline_forbids_downloads_without_probing(monkeypatch):
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    monkeypatch.setattr(data, "_probe", lambda *args: pytest.fail("probed the network"))
    assert data.is_online() is False


def test_training_prefixes_are_shuffled_held_out_slices_are_not(tfds_data_dir):
    def labels(split):
        dataset = data.load("kerasnn_digits", split, data_dir=tfds_data_dir, batch_size=1000)
        return [np.concatenate([y for _, y in dataset.as_numpy_iterator()]) for _ in range(2)]

    first, second = labels("train[:300]")
    assert not np.array_equal(first, second) and sorted(first) == sorted(second)
    first, second = labels("train[85%:]")
    np.testing.assert_array_equal(first, second)


def test_cache_decision_uses_decoded_size(tfds_data_dir):
    info = data.get_builder("kerasnn_digits", tfds_data_dir).info
    # 8x8x1 uint8 image + int64 label per example.
    assert data._decoded_bytes(info, "test") == 360 * (64 + 8)
    assert data._decoded_bytes(info, "train[:10]") == 10 * (64 + 8)


def test_per_class_subset_takes_exactly_n_of_each_class():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 7)
    chosen = data.per_class_subset(labels, 3, seed=1)
    np.testing.assert_array_equal(np.bincount(labels[chosen]), [3, 3, 3])
    np.testing.assert_array_equal(chosen, data.per_class_subset(labels, 3, seed=1))
    with pytest.raises(ValueError, match="Class 1 has 3 examples; expected at least per_class=4"):
        data.per_class_subset(labels, 4)


def test_standard_splits_slice_what_is_missing(tfds_data_dir, monkeypatch):
    assert data.standard_splits("kerasnn_digits", tfds_data_dir) == {
        "train": "train",
        "validation": "validation",
        "test": "test",
    }
    available = {}
    monkeypatch.setattr(
        data,
        "describe",
        lambda name, data_dir=None: data.DatasetSpec("x", (1,), 2, ("a", "b"), available),
    )
    available.update(train=10)
    assert data.standard_splits("x") == {
        "train": "train[:70%]",
        "validation": "train[70%:85%]",
        "test": "train[85%:]",
    }
    available.update(test=5)
    assert data.standard_splits("x") == {
        "train": "train[:90%]",
        "validation": "train[90%:]",
        "test": "test",
    }
    del available["test"]
    available.update(validation=5)
    assert data.standard_splits("x") == {
        "train": "train[:85%]",
        "validation": "validation",
        "test": "train[85%:]",
    }
