import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("lstm")


def test_smoke_run_writes_every_figure(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    assert read_run(out)["recipe"] == "lstm"
    test = metrics["test"]
    for key in ("adding_mse_stacked_1", "adding_mse_stacked_2", "adding_mse_keras_lstm"):
        assert 0.0 < test[key] < 10.0, key
    for direction in ("unidirectional", "bidirectional"):
        assert 0.0 <= test[f"future_tagging_accuracy_{direction}"] <= 1.0
    # no model without the future beats the perplexity of independent uniform symbols (4)
    assert test["lm_perplexity_best_possible"] == 4.0
    assert test["lm_perplexity_unidirectional"] > 0.95 * 4.0
    carousel = metrics["carousel_T_back"]
    assert 0.0 < carousel["mean"] <= carousel["largest"] <= 1.0  # products of forget gates
    assert metrics["epoch_seconds_ours"] > 0 and metrics["epoch_seconds_keras"] > 0
    assert plots_written(out) == ["carousel.png", "gates.png", "training_curves.png"]


@pytest.mark.parametrize("name", ["imdb_reviews", "tiny_shakespeare"])
def test_online_datasets_fail_offline_with_one_line(name, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", name, "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: Dataset '{name}' must be downloaded by tfds")
    assert "kerasnn_sequences/future_tagging" in error and "\n" not in error
    assert not (tmp_path / "run").exists()


def test_other_embedded_dataset_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "kerasnn_digits", "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "run").exists()
