"""The YOLO recipe: a smoke run with its headline figures, the study and the drawings; bad flags."""

import os

import keras
import numpy as np
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn.models.yolo import YOLO

recipe = load_recipe("yolo")


def test_smoke_run_reports_map_speed_and_the_grid_study(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    run = read_run(out)
    test = run["test"]
    assert set(test) == {"map50", "coco_map", "ms_per_image"}
    assert 0.0 <= test["coco_map"] <= test["map50"] <= 1.0 and test["ms_per_image"] > 0
    assert run["faster_rcnn_ms_per_image"] > 0
    assert run["study"] == []  # the grid and anchor study is left out under --smoke
    assert np.asarray(run["anchors"]).shape == (3, 2)
    # Untrained, each of the 8 x 8 x 3 anchors outputs objectness ~0.5, so the loss is at least
    # lambda_noobj * 0.25 per empty anchor: 0.5 * 0.25 * (192 - 3) = 23.6. Four steps at the
    # default rate already bring the epoch's mean loss (first steps included) under it.
    with open(os.path.join(out, "history.csv")) as file:
        rows = [line.strip().split(",") for line in file]
    loss = float(rows[1][rows[0].index("loss")])
    assert loss < 0.85 * 23.6, loss
    assert "detections.png" in plots_written(out)
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert isinstance(model, YOLO) and model.grid_shape == (8, 8)


def test_bad_flags_exit_2_before_writing(tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, ["--grid-size", "6"], tfds_data_dir, tmp_path / "a")
    assert_exits_2(recipe.main, ["--lambda-noobj", "-1"], tfds_data_dir, tmp_path / "b")
    assert_exits_2(recipe.main, ["--dataset", "kerasnn_digits"], tfds_data_dir, tmp_path / "c")
