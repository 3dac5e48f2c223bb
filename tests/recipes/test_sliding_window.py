import pytest
from classification_recipes import load_recipe, read_run

recipe = load_recipe("sliding_window")


def test_smoke_run_conv_pass_gives_the_loop_scores_faster(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    test = metrics["test"]
    # The one convolutional pass scores exactly the windows the loop classifies one by one.
    assert test["max_score_difference"] < 1e-4
    assert test["speedup_conv_over_loop"] > 3
    assert test["ms_per_image_loop"] > test["ms_per_image_conv"] > 0
    assert 0.0 <= test["coco_map"] <= test["map50"] <= 1.0
    assert 0.0 <= test["crop_accuracy"] <= 1.0
    assert metrics["windows_per_image"] == 400 + 144 + 49 + 25
    duplicates = metrics["duplicates_per_box"]
    assert duplicates["after_nms"] <= duplicates["before_nms"]


def test_bad_flags_exit_2(tmp_path, tfds_data_dir):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--loop-images", "0", "--data-dir", tfds_data_dir,
                     "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "run").exists()
