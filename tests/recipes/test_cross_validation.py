"""The cross-validation recipe: three error estimates, the k-fold search, one test assessment."""

import os

import cross_validation
import numpy as np
import pytest


def test_small_run_reports_estimates_on_the_same_examples(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    metrics = cross_validation.main(
        ["--data-dir", tfds_data_dir, "--output-dir", output, "--epochs", "5", "--folds", "2",
         "--holdout-repeats", "2", "--loo-size", "4", "--max-trials", "1"]
    )
    pool, same = metrics["estimates"]["training pool"], metrics["estimates"]["same subset"]
    assert list(pool) == ["holdout", "2-fold"]
    assert list(same) == ["holdout", "2-fold", "leave-one-out"]
    assert [pool[m]["examples"] for m in pool] == [600, 600]
    # Leave-one-out, holdout and k-fold are computed on the same 4 examples.
    assert [same[m]["examples"] for m in same] == [4, 4, 4] and len(metrics["subset"]) == 4
    assert [same[m]["trainings"] for m in same] == [2, 2, 4]
    loo = same["leave-one-out"]
    assert set(loo["errors"]) <= {0.0, 1.0}
    assert loo["error"] == pytest.approx(np.mean(loo["errors"]))
    assert pool["2-fold"]["error_std"] == pytest.approx(np.std(pool["2-fold"]["errors"]))
    # Known good after 5 epochs on the moons: pool estimates ~0.15, test accuracy ~0.85; a model
    # that learned nothing (or folds that leak nothing useful) sits at 0.5.
    assert pool["holdout"]["error"] < 0.3 and pool["2-fold"]["error"] < 0.3
    assert metrics["test"]["accuracy"] > 0.75

    (trial,) = metrics["trials"]
    assert len(metrics["best_fold_scores"]) == 2
    assert trial["score"] == pytest.approx(np.mean(metrics["best_fold_scores"]))
    assert set(metrics["best_hyperparameters"]) == {"units", "depth", "activation", "learning_rate"}
    assert os.path.exists(os.path.join(output, "plots", "error_estimates.png"))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--folds", "1"], "--folds must be at least 2, received 1"),
        (["--loo-size", "5000"], "--loo-size 5000 exceeds the 600 training examples"),
        (["--folds", "6", "--loo-size", "5"], "--folds 6 exceeds --loo-size 5"),
    ],
)
def test_bad_flags_exit_2_without_a_run_directory(tmp_path, tfds_data_dir, capsys, flags, message):
    output = tmp_path / "never"
    with pytest.raises(SystemExit) as error:
        cross_validation.main(["--data-dir", tfds_data_dir, "--output-dir", str(output), *flags])
    assert error.value.code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()
