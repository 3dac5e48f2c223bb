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
from kerasnn.models import segmentation

recipe = load_recipe("fcn")


def test_smoke_run_figures_follow_from_the_saved_model(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    # one upsampling of four (each is trained the same way; the builders' tests cover all four)
    recipe.main(["--smoke", "--upsamplings", "transpose", "--data-dir", tfds_data_dir,
                 "--output-dir", out])
    run = read_run(out)
    test = run["test"]
    assert set(test) == {"miou_fcn32s", "miou_fcn16s", "miou_fcn8s", "miou_patch_coarse",
                         "miou_shift_and_stitch", "miou_transpose"}
    # the convolutionalized classifier: the classifier's scores on 32x32 (to float32 rounding),
    # and a (64 - 32) / 4 + 1 = 9 x 9 heatmap per class of the 8 shapes on a 64x64 image
    assert run["convolutionalized"]["max_abs_difference"] < 1e-5
    assert run["convolutionalized"]["same_predictions"]
    assert run["heatmap_shape"] == [9, 9, 8] and run["stride"] == 4
    # the table's parameters are the builder's: 16 base filters, batch norm, bilinear transpose
    backbone = segmentation.fcn_backbone((64, 64, 3), (16, 32, 64, 64, 64), batch_norm=True)
    expected = segmentation.fcn(backbone, 4, "8s", "transpose").count_params()
    assert [(row["upsampling"], row["params"]) for row in run["upsamplings"]] == [
        ("transpose", expected)]
    assert [row["training"] for row in run["training_comparison"]][-1].startswith("full image")
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


@pytest.mark.parametrize("flags", [["--image-size", "48"], ["--upsamplings", "bilinear"]])
def test_bad_flags_exit_2(flags, tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, flags, tfds_data_dir, tmp_path / "bad")
