import os

import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("data_augmentation")


def test_smoke_run_with_strength_search(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--tuner", "random", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    assert metrics["training_images"] == 20  # 2 per class under --smoke
    assert [row["variant"] for row in metrics["variants"]] == [
        "plain",
        "plain+tta",
        "augmented",
        "augmented+tta",
    ]
    assert set(metrics["best_hyperparameters"]) == {
        "shift",
        "rotation",
        "zoom",
        "shear",
        "noise",
        "brightness",
        "contrast",
    }
    assert len(metrics["trials"]) == 1
    assert plots_written(out) == [
        "augmented_samples.png",
        "confusion_matrix.png",
        "training_curves.png",
    ]


def test_too_many_images_per_class_exits_2_before_writing(tmp_path, tfds_data_dir, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--per-class", "1000", "--data-dir", tfds_data_dir, "--output-dir", str(out)])
    assert exit_info.value.code == 2
    assert "--per-class 1000" in capsys.readouterr().err
    assert not os.path.exists(out)
