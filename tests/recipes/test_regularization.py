"""The regularization recipe: regularizers beat the overfitting baseline; init/gradient picture."""

import json
import os

import pytest
import regularization


def test_regularizers_beat_the_overfitting_baseline(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    rows, gradient_rows = regularization.main(
        ["--data-dir", tfds_data_dir, "--output-dir", output, "--tuner", "none"]
    )
    by_name = {row["variant"].split(" (")[0]: row for row in rows}
    baseline = by_name["baseline"]
    # The baseline overfits: training cross-entropy ~0, validation well above its own minimum.
    assert baseline["train_crossentropy"] < 0.01
    assert baseline["val_crossentropy"] > 1.1 * baseline["min_val_crossentropy"]
    for name in ("early stopping", "weight decay", "dropout"):
        assert by_name[name]["val_crossentropy"] < baseline["val_crossentropy"], name
    assert by_name["early stopping"]["epochs_run"] < baseline["epochs_run"]

    norms = {
        (r["activation"], r["initializer"]): [r[f"layer_{i}"] for i in range(1, 7)]
        for r in gradient_rows
    }
    assert all(value == 0 for value in norms[("relu", "zeros")])  # symmetric: nothing to learn from
    # Sigmoid: the gradient shrinks layer after layer towards the input (vanishing gradient)...
    sigmoid_xavier = norms[("sigmoid", "Xavier")]
    assert all(a < b for a, b in zip(sigmoid_xavier, sigmoid_xavier[1:]))
    assert sigmoid_xavier[0] < 1e-2 * sigmoid_xavier[-1]
    # ...while ReLU with He initialization keeps it within a factor of two across the depth.
    relu_he = norms[("relu", "He")]
    assert max(relu_he) < 2 * min(relu_he)

    with open(os.path.join(output, "metrics.json")) as file:
        metrics = json.load(file)
    assert metrics["train_examples"] == 200
    assert metrics["best_hyperparameters"] == pytest.approx({"weight_decay": 1e-4, "dropout": 0.5})
    assert "crossentropy" in metrics["test"]
    for name in ("regularizers", "gradient_norms", "training_curves"):
        assert os.path.exists(os.path.join(output, "plots", f"{name}.png"))


def test_too_many_images_per_class_exit_2(tmp_path, tfds_data_dir, capsys):
    with pytest.raises(SystemExit) as error:
        regularization.main(
            [
                "--data-dir",
                tfds_data_dir,
                "--output-dir",
                str(tmp_path / "never"),
                "--train-per-class",
                "1000",
            ]
        )
    assert error.value.code == 2
    assert "--train-per-class 1000" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
