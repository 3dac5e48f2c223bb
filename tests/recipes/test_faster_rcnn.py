import json
import math
import os

import pytest
from classification_recipes import load_recipe

recipe = load_recipe("faster_rcnn")


def test_smoke_run_reports_the_faster_rcnn_figures(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    # FasterRCNN is not serializable yet: no model.keras (the phase weights are saved).
    assert os.path.exists(os.path.join(out, "history.csv"))
    with open(os.path.join(out, "metrics.json")) as file:
        metrics = json.load(file)
    test = metrics["test"]
    assert sorted(test) == ["coco_map_faster_rcnn", "map50_faster_rcnn",
                            "ms_per_image_faster_rcnn"]
    assert 0.0 <= test["coco_map_faster_rcnn"] <= test["map50_faster_rcnn"] <= 1.0
    assert test["ms_per_image_faster_rcnn"] > 0
    losses = metrics["final_losses"]
    assert all(math.isfinite(value) for value in losses.values())
    # 8 steps already beat chance on objectness (log 2 = 0.693 for untrained logits near 0)
    assert losses["rpn_objectness_loss"] < 0.685


def test_a_dataset_without_boxes_exits_2(tmp_path, tfds_data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--dataset", "kerasnn_digits", "--data-dir", tfds_data_dir,
                     "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "Detection needs `image` and `objects`" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
