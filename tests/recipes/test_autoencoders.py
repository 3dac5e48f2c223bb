import os

import numpy as np
import pytest
from classification_recipes import load_recipe, plots_written, read_run

from kerasnn import data
from kerasnn.data import noise

recipe = load_recipe("autoencoders")


def test_smoke_run_writes_every_table_and_the_denoising_figures(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    test = metrics["test"]
    assert set(test) == {"few_label_accuracy_pretrained", "few_label_accuracy_scratch",
                         "few_label_accuracy_pretrained_frozen",
                         "reconstruction_mse", "denoising_mse_noisy", "denoising_mse_denoised"}
    assert [(r["autoencoder"], r["code_size"]) for r in metrics["code_size_table"]] == [
        ("dense", 8), ("conv", 8)]
    assert [r["sparsity"] for r in metrics["sparsity_table"]] == [0.0, 0.01]
    assert metrics["labelled_images"] == 20  # 2 per class under --smoke
    # The noisy error is the noise the recipe added to the clean test images: recompute it.
    x_test, _ = data.load_arrays("kerasnn_digits", "test", data_dir=tfds_data_dir, limit=64)
    level = metrics["best_hyperparameters"]["noise_stddev"]
    noisy = noise.add_noise(x_test, level, seed=(0, 7)).numpy()
    assert test["denoising_mse_noisy"] == pytest.approx(np.mean((noisy - x_test) ** 2), rel=1e-5)
    noisy_errors = [row["mse_noisy"] for row in metrics["denoising_table"]]
    assert noisy_errors == sorted(noisy_errors) and len(noisy_errors) == 4
    assert plots_written(out) == ["denoising.png", "reconstructions.png", "samples.png",
                                  "training_curves.png"]


def test_too_many_labels_per_class_exits_2(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--labels-per-class", "1000", "--data-dir", tfds_data_dir,
                     "--output-dir", out])
    assert exit_info.value.code == 2
    assert not os.path.exists(out)
