"""The figures every recipe saves."""

import os

import numpy as np

from kerasnn import plots


def test_plots_are_written(tmp_path):
    path = plots.plot_confusion_matrix(
        np.array([[3, 1], [0, 4]]), str(tmp_path / "cm.png"), class_names=["a", "b"]
    )
    grid = plots.plot_image_grid(
        np.random.default_rng(0).normal(size=(5, 4, 4, 1)),
        str(tmp_path / "g.png"),
        titles=list("abcde"),
        columns=3,
        symmetric=True,
    )
    assert os.path.getsize(path) > 1000 and os.path.getsize(grid) > 1000
