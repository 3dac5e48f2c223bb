"""The Grad-CAM recipe: a smoke run (Grad-CAM = CAM up to scale on the GAP network, the grid,
both maps scored against the masks) and bad input."""

import numpy as np
from classification_recipes import assert_exits_2, load_recipe, plots_written, read_run

recipe = load_recipe("grad_cam")


def test_smoke_run_compares_grad_cam_with_cam_and_augmented_grad_cam(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    test = metrics["test"]
    # exact up to float error, even untrained: alpha = w / Z on a GAP -> Dense network
    assert test["grad_cam_cam_correlation"] >= 0.999
    for key in (
        "grad_cam_mask_iou",
        "augmented_grad_cam_mask_iou",
        "grad_cam_pointing_accuracy",
        "augmented_grad_cam_pointing_accuracy",
    ):
        assert 0.0 <= test[key] <= 1.0, key
    assert len(metrics["grid"]) == 8  # lambda x mu x L
    best = max(metrics["grid"], key=lambda row: row["validation_mask_iou"])
    assert metrics["augmented_settings"] == {
        key: best[key] for key in ("tv_weight", "l2_weight", "num_augmentations")
    }
    assert [row["network"] for row in metrics["networks"]] == ["gap", "flatten"]
    assert plots_written(out) == [
        "augmented_objective.png",
        "grad_cam_side_by_side.png",
        "training_curves.png",
    ]


def test_a_dataset_without_masks_exits_2(tmp_path, tfds_data_dir):
    flags = ["--dataset", "kerasnn_digits"]
    assert_exits_2(recipe.main, flags, tfds_data_dir, tmp_path / "bad")
    np.testing.assert_allclose(recipe.correlation([1, 2, 3], [2, 4, 6]), 1.0)
