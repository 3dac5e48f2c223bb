import numpy as np
import pytest
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("linear_classifier")


def test_smoke_run_writes_templates_and_metrics(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    loss = "hinge"  # the default cross-entropy path is the one nearest_neighbor's smoke run trains
    recipe.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out, "--loss", loss])
    metrics = read_run(out)
    assert metrics["recipe"] == "linear_classifier" and metrics["loss"] == loss
    assert metrics["params"] == 8 * 8 * 10 + 10
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert np.sum(metrics["confusion_matrix"]) == 64
    assert plots_written(out) == [
        "class_templates.png",
        "confusion_matrix.png",
        "training_curves.png",
    ]


def test_templates_are_the_rows_of_w(tmp_path):
    from kerasnn import models

    model = models.linear_classifier((4, 4, 1), 3)
    templates = recipe.class_templates(model, (4, 4, 1))
    kernel = model.get_layer("scores").get_weights()[0]
    np.testing.assert_array_equal(templates[2].reshape(-1), kernel[:, 2])


def test_unknown_loss_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        recipe.main(["--loss", "l1", "--output-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert not (tmp_path / "run").exists()
