import argparse
import os

import keras_tuner
import numpy as np
import pytest
from classification_recipes import load_recipe, plots_written, read_run

from kerasnn import data

recipe = load_recipe("data_augmentation")

DEFAULT_FLAGS = argparse.Namespace(flip="none", fill_mode="constant", interpolation="nearest",
                                   seed=0)


def test_smoke_run_with_strength_search(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    returned = recipe.main(
        ["--smoke", "--tuner", "random", "--data-dir", tfds_data_dir, "--output-dir", out]
    )
    metrics = read_run(out)
    assert returned == metrics
    assert metrics["training_images"] == 20  # 2 per class under --smoke
    rows = metrics["variants"]
    assert [row["variant"] for row in rows] == ["plain", "plain+tta", "augmented", "augmented+tta"]
    accuracy = metrics["test"]
    assert accuracy == {f"{row['variant']}_accuracy": row["test_accuracy"] for row in rows}
    gain = max(accuracy["augmented_accuracy"], accuracy["augmented+tta_accuracy"])
    assert metrics["augmentation_gain_points"] == pytest.approx(
        100 * (gain - accuracy["plain_accuracy"]))
    # The confusion matrix is the test predictions of the variant best on validation.
    best = max(rows, key=lambda row: row["val_accuracy"])
    matrix = np.array(metrics["confusion_matrix"])
    assert metrics["best_variant"] == best["variant"]
    assert matrix.sum() == 64 and np.trace(matrix) == round(64 * best["test_accuracy"])
    assert set(metrics["best_hyperparameters"]) == {
        "shift", "rotation", "zoom", "shear", "noise", "brightness", "contrast"}
    assert len(metrics["trials"]) == 1
    assert set(metrics["epoch_seconds"]) == {"plain", "augmented"}
    assert plots_written(out) == [
        "augmented_samples.png",
        "confusion_matrix.png",
        "training_curves.png",
    ]


def test_default_augmentation_moves_digits_by_whole_pixels(tfds_data_dir):
    # Label-preserving by construction: each copy is the digit shifted by at most one pixel
    # (black border), plus a small brightness change and noise (sigma 0.03).
    x, _ = data.load_arrays("kerasnn_digits", "train", data_dir=tfds_data_dir, limit=8)
    layer = recipe.training_augmentation(keras_tuner.HyperParameters(), DEFAULT_FLAGS)
    copies = np.asarray(layer(np.repeat(x[:1], 32, axis=0), training=True))[..., 0]
    padded = np.pad(x[0, ..., 0], 1)
    shifted = [padded[1 + dy : 9 + dy, 1 + dx : 9 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    residuals = [min(np.std(copy - shift) for shift in shifted) for copy in copies]
    assert max(residuals) < 0.07
    assert np.mean([np.std(copy - x[0, ..., 0]) for copy in copies]) > 0.1  # they do move


def test_augmented_training_learns_from_ten_digits_per_class(tfds_data_dir):
    # A known-good floor: the recipe's VGG trained 20 epochs with the default augmentation on
    # 10 digits per class reaches 0.61 validation accuracy (measured; shuffled labels: 0.10).
    x, y = data.per_class_arrays("kerasnn_digits", "train", 10, data_dir=tfds_data_dir)
    x_val, y_val = data.load_arrays("kerasnn_digits", "validation", data_dir=tfds_data_dir)
    layer = recipe.training_augmentation(keras_tuner.HyperParameters(), DEFAULT_FLAGS)
    model = recipe.build_classifier((8, 8, 1), 10)
    model.fit(data.from_arrays(x, y, 32, shuffle=True, augment=layer), epochs=20, verbose=0)
    assert model.evaluate(x_val, y_val, verbose=0)[1] >= 0.45


def test_too_many_images_per_class_exits_2_before_writing(tmp_path, tfds_data_dir, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--per-class", "1000", "--data-dir", tfds_data_dir, "--output-dir", str(out)])
    assert exit_info.value.code == 2
    assert "--per-class 1000" in capsys.readouterr().err
    assert not os.path.exists(out)
