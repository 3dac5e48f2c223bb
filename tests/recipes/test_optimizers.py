"""The optimizers recipe: every optimizer lowers the loss from the same start; consistent table."""

import json
import os

import optimizers
import pytest


def test_every_optimizer_lowers_the_loss_from_the_same_start(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    results = optimizers.main(
        [
            "--data-dir",
            tfds_data_dir,
            "--output-dir",
            output,
            "--epochs",
            "3",
            "--target-loss",
            "0.45",
        ]
    )
    assert list(results) == list(optimizers.OPTIMIZERS)
    initial = {round(r["initial_loss"], 5) for r in results.values()}
    assert len(initial) == 1  # the same initial weights for everyone
    for name, result in results.items():
        assert result["final_loss"] < result["initial_loss"], name
        assert len(result["losses"]) == len(result["seconds"]) == 3
        if result["epochs_to_target"] is not None:
            assert result["losses"][result["epochs_to_target"] - 1] <= 0.45
            assert all(loss > 0.45 for loss in result["losses"][: result["epochs_to_target"] - 1])
    assert results["stochastic GD"]["steps"] == 400 * 3 and results["batch GD"]["steps"] == 3
    # Momentum moves further than plain mini-batch GD at the same learning-rate scale.
    assert results["momentum"]["final_loss"] < results["mini-batch GD"]["final_loss"]

    with open(os.path.join(output, "metrics.json")) as file:
        metrics = json.load(file)
    assert metrics["recipe"] == "optimizers" and metrics["target_loss"] == 0.45
    assert metrics["best_hyperparameters"] == {"optimizer": "Adam", "learning_rate": 0.01}
    assert os.path.exists(os.path.join(output, "plots", "loss_curves.png"))


def test_regression_dataset_is_refused(tmp_path, tfds_data_dir, capsys):
    with pytest.raises(SystemExit) as error:
        optimizers.main(
            [
                "--data-dir",
                tfds_data_dir,
                "--output-dir",
                str(tmp_path / "never"),
                "--dataset",
                "kerasnn_regression1d",
            ]
        )
    assert error.value.code == 2
    assert "is not a 2-class dataset" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
