import numpy as np
import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("rnn")


def test_smoke_run_reaches_the_floors_a_broken_recipe_misses(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    assert read_run(out)["recipe"] == "rnn"
    test = metrics["test"]
    for key in ("adding_mse_rnn_T50", "adding_mse_lstm_T50", "ar_mse_rnn", "ar_mse_optimal",
                "adding_mse_lstm_T50_truncated_U25"):
        assert np.isfinite(test[key]), key
    # the Kalman floor measured on 64 test series, and AR(4) least squares just above it
    expected = test["ar_optimal_expected"]
    assert abs(test["ar_mse_optimal"] - expected) < 0.2 * expected
    assert test["ar_mse_optimal"] <= test["ar_mse_least_squares"] < 1.2 * test["ar_mse_optimal"]
    assert test["dynamics_mse_optimal"] < test["dynamics_mse_least_squares"]
    assert metrics["bptt_identity_gap"] < 1e-6
    ratios = metrics["gradient_norm_ratio"]
    assert ratios["sigmoid, orthogonal"] < 1e-6  # vanishes
    assert ratios["relu, large"] > 1e3  # explodes
    assert plots_written(out) == ["gradient_through_time.png", "training_curves.png"]


def test_bad_lengths_exit_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--lengths", "50,75", "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "run").exists()
