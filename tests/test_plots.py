"""Exact confusion matrix and the figures built on it."""

import os

import numpy as np
import pytest

from kerasnn import plots


def test_confusion_matrix_of_known_predictions_is_exact():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    predictions = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    expected = np.array([[2, 1, 0],
                         [0, 2, 0],
                         [1, 1, 2]])
    np.testing.assert_array_equal(plots.confusion_matrix(labels, predictions), expected)
    matrix = plots.confusion_matrix(labels, predictions, num_classes=4)
    assert matrix.shape == (4, 4) and matrix[3].sum() == 0 and matrix.sum() == len(labels)


def test_confusion_matrix_from_posteriors_uses_argmax():
    posteriors = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    np.testing.assert_array_equal(plots.confusion_matrix([1, 1, 0], posteriors), [[0, 1], [1, 1]])


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same number of examples"):
        plots.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="num_classes=2"):
        plots.confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_plots_are_written(tmp_path):
    path = plots.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), str(tmp_path / "cm.png"),
                                       class_names=["a", "b"])
    grid = plots.plot_image_grid(np.random.default_rng(0).normal(size=(5, 4, 4, 1)), str(tmp_path / "g.png"),
                                 titles=list("abcde"), columns=3, symmetric=True)
    assert os.path.getsize(path) > 1000 and os.path.getsize(grid) > 1000
