"""Sequence metrics on hand-scored cases."""

import numpy as np
import pytest

from kerasnn.metrics import sequence


def test_exact_match_and_token_accuracy_ignore_padding():
    references = [[5, 6, 7, 0], [5, 6, 0, 0], [9, 9, 9, 9]]
    predictions = [[5, 6, 7, 3], [5, 6, 0, 0], [9, 8, 9, 9]]
    assert sequence.exact_match(predictions, references) == pytest.approx(2 / 3)
    assert sequence.token_accuracy(predictions, references) == pytest.approx(8 / 9)
    with pytest.raises(ValueError, match="must have the same shape"):
        sequence.exact_match([[1]], [[1, 2]])


@pytest.mark.parametrize("a, b, distance", [
    ("kitten", "sitting", 3), ("", "abc", 3), ("abc", "abc", 0), ("flaw", "lawn", 2),
    ([1, 2, 3], [1, 3], 1),
])
def test_edit_distance(a, b, distance):
    assert sequence.edit_distance(a, b) == distance


def test_alignment_accuracy_on_hand_made_maps():
    attention = np.zeros((1, 4, 5))
    attention[0, 0, 1] = attention[0, 1, 4] = attention[0, 2, 2] = attention[0, 3, 0] = 1.0
    spans = np.array([[[0, 2], [0, 2], [2, 3], [-1, -1]]])  # the 4th has no span
    assert sequence.alignment_accuracy(attention, spans) == pytest.approx(2 / 3)
