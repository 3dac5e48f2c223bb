"""The FCN recipe: a smoke run whose figures the saved model and the builders reproduce, and
oxford_iiit_pet failing fast offline (fcn and unet)."""

import os
import time

import keras
import numpy as np
import pytest
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn import data, metrics
from kerasnn.data import segmentation as segmentation_data

recipe = load_recipe("fcn")


def test_smoke_run_figures_follow_from_the_saved_model(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    run = read_run(out)
    test = run["test"]
    upsamplings = ("nearest", "bed_of_nails", "max_unpooling", "transpose")
    assert set(test) == {"miou_fcn32s", "miou_fcn16s", "miou_fcn8s", "miou_patch_coarse",
                         "miou_shift_and_stitch", *(f"miou_{u}" for u in upsamplings)}
    # the convolutionalized classifier: the classifier's scores on 32x32 (to float32 rounding),
    # and a (64 - 32) / 4 + 1 = 9 x 9 heatmap per class of the 8 shapes on a 64x64 image
    assert run["convolutionalized"]["max_abs_difference"] < 1e-5
    assert run["convolutionalized"]["same_predictions"]
    assert run["heatmap_shape"] == [9, 9, 8] and run["stride"] == 4
    # the upsampling table: its parameter counts are the builders'; bed of nails and nearest
    # have no weights of their own, the bilinear transpose convolutions have
    params = {row["upsampling"]: row["params"] for row in run["upsamplings"]}
    assert params["nearest"] == params["bed_of_nails"] < params["transpose"]
    assert [row["upsampling"] for row in run["upsamplings"]] == list(upsamplings)
    # the saved FCN-8s on the smoke test split gives the reported mean IoU
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    images, masks, _ = segmentation_data.arrays(data.load(
        "kerasnn_shapes/segment", "test[:64]", data_dir=tfds_data_dir, supervised=False,
        batch_size=1))
    predictions = model.predict(images, verbose=0).argmax(-1)
    confusion = metrics.segmentation_confusion_matrix(masks, predictions, 4)
    assert test["miou_fcn8s"] == pytest.approx(metrics.mean_iou(confusion), abs=1e-6)
    assert np.all(np.array(run["class_weights"]) > 0)
    assert plots_written(out) == ["heatmaps.png", "predictions.png", "training_curves.png"]


@pytest.mark.parametrize("name", ["fcn", "unet"])
def test_oxford_iiit_pet_fails_fast_offline(name, tmp_path, tfds_data_dir, capsys):
    started = time.time()
    assert_exits_2(load_recipe(name).main, ["--dataset", "oxford_iiit_pet"], tfds_data_dir,
                   tmp_path / "run")
    assert time.time() - started < 10
    assert "kerasnn_shapes/segment" in capsys.readouterr().err


def test_bad_flags_exit_2(tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, ["--image-size", "48"], tfds_data_dir, tmp_path / "bad")
