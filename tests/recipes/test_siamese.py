import os

import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("siamese")


def test_smoke_run_identifies_unseen_classes_and_writes_the_table(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    assert set(metrics["test"]) == {
        "one_shot_accuracy_pixels", "one_shot_accuracy_contrastive", "one_shot_accuracy_triplet",
        "verification_auc", "verification_accuracy"}
    assert metrics["seen_classes"] == [0, 1, 2, 3, 4]
    assert metrics["unseen_classes"] == [5, 6, 7, 8, 9]
    rows = {row["method"]: row for row in metrics["comparison"]}
    assert sorted(rows) == ["contrastive", "pixels", "triplet"]
    # Known-good floors (smoke measured 0.68 and 0.81): 8x8 digits are easy to tell apart in
    # pixel space when clean, so a broken identification (argmax, wrong labels) falls to chance.
    assert rows["pixels"]["one_shot_accuracy_clean"] > 0.45
    assert rows["pixels"]["verification_auc"] > 0.65
    assert metrics["test"]["one_shot_accuracy_pixels"] == rows["pixels"]["one_shot_accuracy"]
    assert metrics["verification_method"] in ("contrastive", "triplet")
    assert plots_written(out) == ["embeddings.png", "queries.png", "training_curves.png"]


def test_more_templates_than_training_images_exits_2(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--templates", "500", "--data-dir", tfds_data_dir, "--output-dir", out])
    assert exit_info.value.code == 2
    assert not os.path.exists(out)
