import numpy as np

from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("nearest_neighbor")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    assert metrics["best_hyperparameters"] == {"k": 1, "distance": "l2"}  # the grid starts at the defaults
    assert len(metrics["trials"]) == 1
    assert plots_written(out) == ["confusion_matrix.png", "training_curves.png", "validation_accuracy_vs_k.png"]
    knn, linear = metrics["comparison"]
    assert knn["multiply_adds_per_image"] == 64 * 64 and linear["multiply_adds_per_image"] == 10 * 64


def test_grid_search_picks_k_on_validation_and_reaches_high_accuracy(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--data-dir", tfds_data_dir, "--output-dir", out, "--epochs", "1", "--max-trials", "4"])
    metrics = read_run(out)
    trials = metrics["trials"]
    assert len(trials) == 4
    best = max(trials, key=lambda trial: trial["score"])
    assert metrics["best_hyperparameters"] == {"k": best["k"], "distance": best["distance"]}
    assert metrics["test"]["knn_accuracy"] >= 0.95  # k-NN on the 8x8 digits
    assert np.sum(metrics["confusion_matrix"]) == 360
