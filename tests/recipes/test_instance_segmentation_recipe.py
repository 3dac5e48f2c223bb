"""The instance segmentation recipe: a smoke run with both mask branches scored; bad input."""

import os

import keras
import numpy as np
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

from kerasnn.models.instance_segmentation import MaskRCNN

recipe = load_recipe("instance_segmentation")


def test_smoke_run_scores_both_mask_branches_and_saves_the_model(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    run = read_run(out)
    test = run["test"]
    assert set(test) == {"mask_ap50_roi_align", "mask_ap50_roi_pooling", "box_ap50"}
    assert all(0.0 <= value <= 1.0 for value in test.values())
    assert [row["mask branch"] for row in run["mask_branches"]] == ["roi_align", "roi_pooling"]
    # an untrained mask branch predicts p = 0.5 everywhere: a cross-entropy of log 2 = 0.693;
    # four steps already take both below it
    for name in ("mask_loss_roi_align", "mask_loss_roi_pooling"):
        assert run["final_losses"][name] < 0.69, run["final_losses"]
    assert plots_written(out)[:2] == ["instances_roi_align.png", "instances_roi_pooling.png"]
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert isinstance(model, MaskRCNN) and model.mask_poolings == ("roi_align", "roi_pooling")
    out = model.predict_on_batch(np.zeros((1, 64, 64, 3), "float32"))
    assert out["masks"].shape == out["masks_roi_pooling"].shape == (1, 10, 64, 64)


def test_a_dataset_without_instance_masks_exits_2(tmp_path, tfds_data_dir):
    assert_exits_2(recipe.main, ["--dataset", "kerasnn_shapes/detect"], tfds_data_dir,
                   tmp_path / "run")
    assert_exits_2(recipe.main, ["--mask-roi-size", "0"], tfds_data_dir, tmp_path / "run2")
