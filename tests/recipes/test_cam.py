"""The CAM recipe: a smoke run whose CAM boxes are recomputed from the saved model, the GAP and
Flatten heads' exact parameter counts, and bad input."""

import os

import keras
import numpy as np
import pytest
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn import data, explain

recipe = load_recipe("cam")


def test_smoke_run_scores_cam_boxes_the_saved_model_reproduces(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    heads = {row["head"]: row for row in metrics["heads"]}
    # GAP -> FC: one weight per feature map and class (64 * 8 + 8); Flatten -> FC(128) -> batch
    # norm -> FC: one per feature-map pixel (8 * 8 * 64 * 128 + 4 * 128 + 128 * 8 + 8)
    assert heads["gap"]["head_params"] == 520
    assert heads["flatten"]["head_params"] == 525_832
    assert heads["gap"]["params"] - 520 == heads["flatten"]["params"] - 525_832
    test = metrics["test"]
    assert set(test) == {"accuracy", "cam_box_iou", "cam_pointing_accuracy"}
    threshold = metrics["cam_threshold"]
    validation = metrics["validation_box_iou"]  # JSON keys: the thresholds as text
    assert threshold == float(max(validation, key=validation.get))
    # the figures follow from the saved model and the true boxes it never saw
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    features = data.feature_arrays(
        data.load("kerasnn_shapes/classify", "test[:64]", data_dir=tfds_data_dir, supervised=False)
    )
    arrays = data.localization_arrays(features)
    boxes = arrays["box"] * 32
    maps = explain.cam(model, arrays["image"])
    ious = explain.box_iou_at(maps, boxes, float(threshold))
    assert test["cam_box_iou"] == pytest.approx(ious.mean(), abs=1e-5)
    hits = explain.pointing_game(maps, boxes=boxes)
    assert test["cam_pointing_accuracy"] == pytest.approx(hits.mean())
    assert 0.0 < test["cam_box_iou"] < 1.0
    assert (
        plots_written(out) == ["cam_right.png", "cam_wrong.png", "training_curves.png"]
        or plots_written(out) == ["cam_right.png", "training_curves.png"]
        or plots_written(out) == ["cam_wrong.png", "training_curves.png"]
    )


def test_bad_filters_exit_2(tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, ["--filters", "16,x"], tfds_data_dir, tmp_path / "bad")
    np.testing.assert_array_equal(recipe.parse_filters("8,16"), (8, 16))
