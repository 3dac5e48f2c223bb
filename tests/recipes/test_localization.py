"""The localization recipe: a smoke run (the alpha sweep, the separate-heads alternative, the
test figures recomputed from the saved model) and bad input."""

import os

import keras
import keras_tuner
import numpy as np
import pytest
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn import data, metrics

recipe = load_recipe("localization")


def test_smoke_run_sweeps_alpha_and_scores_the_chosen_model(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--alphas", "0.5", "--data-dir", tfds_data_dir, "--output-dir", out])
    result = read_run(out)
    methods = [(row["method"], row["alpha"]) for row in result["validation"]]
    assert methods == [("multitask", 0.5), ("separate + fine-tune", 0.5)]
    chosen = [row for row in result["validation"] if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["method"] == result["chosen"]["method"]
    # the test figures follow from the saved model
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    arrays = data.localization_arrays(
        data.feature_arrays(
            data.load(
                "kerasnn_shapes/classify", "test[:64]", data_dir=tfds_data_dir, supervised=False
            )
        )
    )
    outputs = model.predict(arrays["image"], verbose=0)
    ious = np.asarray(metrics.matched_box_iou(arrays["box"], outputs["box"]))
    test = result["test"]
    assert test["mean_box_iou"] == pytest.approx(ious.mean(), abs=1e-5)
    assert test["accuracy"] == pytest.approx(
        np.mean(outputs["class"].argmax(-1) == arrays["label"])
    )
    assert set(test) == {"accuracy", "mean_box_iou", "localization_accuracy"}
    assert plots_written(out) == ["alpha_tradeoff.png", "boxes.png", "training_curves.png"]
    # the tuner's objectives are logged by every phase
    with open(os.path.join(out, "history.csv")) as file:
        columns = file.readline().strip().split(",")
    assert {objective.name for objective in recipe.OBJECTIVE} <= set(columns)


def test_the_hypermodel_searches_alpha_with_the_learning_rate():
    hp = keras_tuner.HyperParameters()
    model = recipe.make_build_model((32, 32, 3), 8)(hp)
    assert hp.values == {"learning_rate": 3e-3, "alpha": 0.5}
    assert model.get_compile_config()["loss_weights"] == {"class": 0.5, "box": 0.5}


def test_bad_alphas_exit_2(tmp_path, tfds_data_dir):
    for alphas in ("0.5,1.5", "a"):
        assert_exits_2(recipe.main, ["--alphas", alphas], tfds_data_dir, tmp_path / "bad")
