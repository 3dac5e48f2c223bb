"""Pair, triplet and class-balanced samplers: balance, no self-pairs, the right classes."""

import numpy as np
import pytest

from kerasnn.data import pairs

# The image of example i is the number i, so a batch gives back the indices it drew.
LABELS = np.array([0] * 3 + [1] * 7 + [2] * 10 + [3] * 4)
IMAGES = np.arange(len(LABELS), dtype="float32")[:, None]


def _indices(images):
    return images.numpy()[:, 0].astype(int)


def test_pairs_have_the_requested_balance_and_never_pair_an_example_with_itself():
    dataset = pairs.pair_dataset(IMAGES, LABELS, batch_size=10, num_pairs=200,
                                 positive_fraction=0.3, seed=4)
    negative_classes = []
    for (first, second), y in dataset:
        first, second, y = _indices(first), _indices(second), y.numpy()
        assert y.sum() == 7  # exactly 30% positive (y = 0) in every batch
        assert np.all(first != second)
        np.testing.assert_array_equal(y, (LABELS[first] != LABELS[second]).astype(int))
        negatives = y == 1
        negative_classes += list((LABELS[first[negatives]] - LABELS[second[negatives]]) % 4)
    # The negative's class is uniform over the 3 others (140 negatives: ~47 each).
    assert sorted(np.bincount(negative_classes)[1:]) == pytest.approx([46.7] * 3, abs=17)


def test_pairs_are_reproducible_and_redrawn_each_epoch():
    def epoch(dataset):
        return np.concatenate([_indices(second) for (_, second), _ in dataset])

    dataset = pairs.pair_dataset(IMAGES, LABELS, batch_size=8, seed=1)
    first_epoch, second_epoch = epoch(dataset), epoch(dataset)
    assert len(first_epoch) == len(LABELS)  # num_pairs defaults to N
    assert not np.array_equal(first_epoch, second_epoch)
    np.testing.assert_array_equal(
        first_epoch, epoch(pairs.pair_dataset(IMAGES, LABELS, batch_size=8, seed=1)))


def test_triplets_take_another_member_and_another_class():
    dataset = pairs.triplet_dataset(IMAGES, LABELS, batch_size=16, num_triplets=160, seed=2)
    anchors = []
    for (anchor, positive, negative), y in dataset:
        anchor, positive, negative = map(_indices, (anchor, positive, negative))
        assert np.all(anchor != positive) and np.all(y.numpy() == 0)
        np.testing.assert_array_equal(LABELS[anchor], LABELS[positive])
        assert np.all(LABELS[anchor] != LABELS[negative])
        anchors.extend(anchor)
    assert len(set(anchors)) > 20  # anchors cover (nearly) all 24 examples


def test_augment_applies_to_every_branch():
    dataset = pairs.triplet_dataset(IMAGES, LABELS, batch_size=4,
                                    augment=lambda x, training: x + 100)
    (anchor, positive, negative), _ = next(iter(dataset))
    for images in (anchor, positive, negative):
        assert (images.numpy() >= 100).all()


def test_class_balanced_batches_hold_p_classes_of_k_distinct_examples():
    dataset = pairs.class_balanced_batches(IMAGES, LABELS, classes_per_batch=3,
                                           examples_per_class=3, num_batches=30, seed=0)
    seen = set()
    for images, labels in dataset:
        indices, labels = _indices(images), labels.numpy()
        np.testing.assert_array_equal(LABELS[indices], labels)
        assert len(set(indices)) == 9
        assert sorted(np.unique(labels, return_counts=True)[1]) == [3, 3, 3]
        seen.update(indices)
    assert len(seen) > 18  # members are drawn from the whole class, not its first K


def test_bad_inputs_raise_clear_value_errors():
    with pytest.raises(ValueError, match=r"^Argument `labels` must be labels of at least 2 classes"
                       r"\. Received: labels=\[5\]$"):
        pairs.triplet_dataset(IMAGES[:3], [5, 5, 5])
    with pytest.raises(ValueError, match=r"^Argument `labels` must be one label per image \(24 "
                       r"images\)\. Received: labels=23$"):
        pairs.pair_dataset(IMAGES, LABELS[:23])
    with pytest.raises(ValueError, match="at least 2 examples per class"):
        pairs.pair_dataset(IMAGES[:4], [0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"Argument `examples_per_class` must be between 2 and "
                       r"the smallest class size, 3\. Received: examples_per_class=4"):
        pairs.class_balanced_batches(IMAGES, LABELS, classes_per_batch=2, examples_per_class=4)
    with pytest.raises(ValueError, match="Argument `positive_fraction` must be a float in"):
        pairs.pair_dataset(IMAGES, LABELS, positive_fraction=1.5)
