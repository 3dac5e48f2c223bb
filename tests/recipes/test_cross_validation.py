"""The cross-validation recipe: three error estimates, the k-fold search, one test assessment."""

import json
import os

import cross_validation
import numpy as np
import pytest


def test_smoke_run_reports_estimates_and_fold_scores(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    estimates, final = cross_validation.main(
        ["--data-dir", tfds_data_dir, "--output-dir", output, "--smoke"]
    )
    by_method = {row["method"]: row for row in estimates}
    # --smoke: 2 holdout splits, 2 folds, leave-one-out on 4 examples.
    assert [by_method[m]["trainings"] for m in ("holdout", "2-fold", "leave-one-out")] == [2, 2, 4]
    loo = by_method["leave-one-out"]
    assert set(loo["errors"]) <= {0.0, 1.0} and loo["error"] == pytest.approx(
        np.mean(loo["errors"])
    )
    assert by_method["2-fold"]["error_std"] == pytest.approx(np.std(by_method["2-fold"]["errors"]))

    with open(os.path.join(output, "metrics.json")) as file:
        metrics = json.load(file)
    assert metrics["recipe"] == "cross_validation" and metrics["dataset"] == "kerasnn_moons"
    (trial,) = metrics["trials"]
    assert len(metrics["best_fold_scores"]) == 2
    assert trial["score"] == pytest.approx(np.mean(metrics["best_fold_scores"]))
    assert final["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert set(metrics["best_hyperparameters"]) == {"units", "depth", "activation", "learning_rate"}
    assert os.path.exists(os.path.join(output, "plots", "error_estimates.png"))
    assert os.path.exists(os.path.join(output, "model.keras"))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--folds", "1"], "--folds must be at least 2, received 1"),
        (["--loo-size", "5000"], "--loo-size 5000 exceeds the 600 training examples"),
    ],
)
def test_bad_flags_exit_2_without_a_run_directory(tmp_path, tfds_data_dir, capsys, flags, message):
    output = tmp_path / "never"
    with pytest.raises(SystemExit) as error:
        cross_validation.main(["--data-dir", tfds_data_dir, "--output-dir", str(output), *flags])
    assert error.value.code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
