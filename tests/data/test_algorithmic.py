"""The NTM tasks: the targets are what the task says, weighted exactly where answers are due."""

import numpy as np
import pytest

from kerasnn.data import algorithmic


def test_copy_targets_repeat_the_input_after_the_delimiter():
    inputs, targets, weights = algorithmic.copy_task(20, (1, 5), bits=4, seed=3)
    for x, y, w in zip(inputs, targets, weights):
        length = int(np.flatnonzero(x[:, 4])[0])
        np.testing.assert_array_equal(y[length + 1: 2 * length + 1], x[:length, :4])
        assert w.sum() == length and w[length + 1: 2 * length + 1].all()


def test_associative_recall_answers_with_the_next_item():
    inputs, targets, weights = algorithmic.associative_recall(10, (2, 4), item_length=2, bits=3)
    for x, y, w in zip(inputs, targets, weights):
        starts = np.flatnonzero(x[:, 3])
        query_start = int(np.flatnonzero(x[:, 4])[0])
        query = x[query_start + 1: query_start + 3, :3]
        items = [x[s + 1: s + 3, :3] for s in starts]
        position = next(i for i, item in enumerate(items) if np.array_equal(item, query))
        answer = y[w == 1]
        np.testing.assert_array_equal(answer, items[position + 1])


def test_bit_errors_count_only_weighted_steps():
    targets = np.array([[[1, 0], [0, 1]]], "float32")
    predictions = np.array([[[0.9, 0.6], [0.9, 0.1]]])
    assert algorithmic.bit_errors(predictions, targets, np.array([[1, 0]])).tolist() == [1]
    assert algorithmic.bit_errors(predictions, targets, np.array([[1, 1]])).tolist() == [3]
    with pytest.raises(ValueError, match="at least 2 items"):
        algorithmic.associative_recall(1, (1, 3))
