import math

import pytest
from classification_recipes import load_recipe, read_run

recipe = load_recipe("faster_rcnn")


def test_smoke_run_reports_the_three_detectors(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)  # model.keras too: FasterRCNN is serializable
    test = metrics["test"]
    assert sorted(test) == ["coco_map_faster_rcnn", "map50_fast_rcnn", "map50_faster_rcnn",
                            "map50_rcnn", "ms_per_image_faster_rcnn", "ms_per_image_rcnn"]
    assert 0.0 <= test["coco_map_faster_rcnn"] <= test["map50_faster_rcnn"] <= 1.0
    assert 0.0 <= test["map50_rcnn"] <= 1.0 and 0.0 <= test["map50_fast_rcnn"] <= 1.0
    # R-CNN runs its CNN on every one of ~230 warped windows, Faster R-CNN once per image.
    assert test["ms_per_image_rcnn"] > 3 * test["ms_per_image_faster_rcnn"] > 0
    assert metrics["speedup_over_rcnn"] == pytest.approx(
        test["ms_per_image_rcnn"] / test["ms_per_image_faster_rcnn"])
    losses = metrics["final_losses"]
    assert all(math.isfinite(value) for value in losses.values())
    # 8 steps already beat chance on objectness (log 2 = 0.693 for untrained logits near 0)
    assert losses["rpn_objectness_loss"] < 0.685
    recall = metrics["proposal_recall"]
    windows = recall["sliding windows (random subset)"]
    # All sliding windows cover nearly every object; a random subset of 5 covers far fewer.
    assert windows[-1] >= 0.9 and windows[0] < 0.5
    assert recall["counts"][-1] == metrics["num_sliding_windows"]
    assert all(a <= b + 1e-9 for a, b in zip(recall["RPN"], recall["RPN"][1:]))  # more, better
    duplicates = metrics["duplicates_per_box"]
    assert duplicates["after_nms"] <= duplicates["before_nms"]


def test_a_dataset_without_boxes_exits_2(tmp_path, tfds_data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "kerasnn_digits", "--data-dir", tfds_data_dir,
                     "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "Detection needs `image` and `objects`" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_voc_offline_exits_2_with_the_runner_message(tmp_path, tfds_data_dir, capsys,
                                                     monkeypatch):
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "voc/2007", "--image-size", "128", "--data-dir",
                     tfds_data_dir, "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Dataset 'voc/2007' must be downloaded by tfds, but the network is unreachable" in err
    assert not (tmp_path / "run").exists()
