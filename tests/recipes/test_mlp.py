"""The MLP recipe: MSE falls with hidden width, every part reports, the tuned model is tested."""

import os

import mlp
import numpy as np
import pytest

from kerasnn import data


def test_task_of_labels():
    assert mlp.task_of(np.array([0.5, 1.5], "float32")) == ("regression", 1)
    assert mlp.task_of(np.array([0, 1, 1])) == ("binary", 2)
    assert mlp.task_of(np.array([0, 9])) == ("categorical", 10)


def test_mse_falls_with_width_and_run_reports(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    metrics = mlp.main(
        ["--data-dir", tfds_data_dir, "--output-dir", output, "--widths", "1", "4", "16",
         "--epochs", "3", "--activations", "relu", "sigmoid", "--tuner", "none",
         "--dataset", "kerasnn_regression1d"]
    )
    width_rows, activation_rows = metrics["width_sweep"], metrics["activations"]
    train_mse = [row["train_mse"] for row in width_rows]
    test_mse = [row["test_mse"] for row in width_rows]
    assert train_mse[0] > train_mse[1] > train_mse[2]
    assert test_mse[2] < test_mse[0] / 5  # width 1 is a single tanh: it cannot follow sin(2x)
    assert test_mse[2] < 0.05  # within a few times the noise variance 0.01
    assert [row["activation"] for row in activation_rows] == ["relu", "sigmoid", "relu"]
    assert activation_rows[-1]["task"] == "digits, categorical CE"
    # Known good after 3 epochs: ReLU on the moons ~0.86, the digits ~0.9; a network that does
    # not learn sits at 0.5 (moons) and 0.1 (digits).
    relu, sigmoid, digits = (row["test_accuracy"] for row in activation_rows)
    assert relu > 0.8 and digits > 0.8

    assert metrics["task"] == "regression" and metrics["dataset"] == "kerasnn_regression1d"
    assert metrics["trials"] == []  # --tuner none: the default network (2 x 32 ReLU)
    assert set(metrics["best_hyperparameters"]) == {"depth", "width", "activation", "learning_rate"}
    assert metrics["test"]["loss"] == pytest.approx(metrics["test"]["mean_squared_error"], rel=1e-5)
    # After 3 epochs the default network explains most of the target's variance (known good:
    # MSE 0.22 against a variance of 0.54); predicting the mean scores the variance.
    _, targets = data.load_arrays("kerasnn_regression1d", "test", data_dir=tfds_data_dir)
    assert metrics["test"]["mean_squared_error"] < 0.5 * np.var(targets)
    assert metrics["width_sweep"][0]["params"] == 4  # 1 -> 1 tanh unit -> 1 output: 2 + 2 weights
    for name in ("universal_approximation", "activations", "training_curves"):
        assert os.path.exists(os.path.join(output, "plots", f"{name}.png"))
