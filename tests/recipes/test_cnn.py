import numpy as np
from classification_recipes import load_recipe, plots_written, read_run

recipe = load_recipe("cnn")


def test_smoke_run_compares_three_cnns_and_a_same_size_mlp(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    recipe.main(["--smoke", "--tuner", "none", "--data-dir", tfds_data_dir, "--output-dir", out])
    metrics = read_run(out)
    rows = {row["model"]: row for row in metrics["models"]}
    assert list(rows) == ["lenet5", "vgg", "inception", "mlp_same_size"]
    assert rows["lenet5"]["params"] == 61_706
    # the MLP's hidden width is solved for the VGG's parameter count
    assert abs(rows["mlp_same_size"]["params"] - rows["vgg"]["params"]) <= 8 * 8 + 1 + 10
    # receptive fields: LeNet-5 sees its whole 32x32 input; default VGG (2 blocks of two 3x3) 16
    assert rows["lenet5"]["receptive_field"] == 32 and rows["vgg"]["receptive_field"] == 16
    assert rows["inception"]["receptive_field"] == 16
    assert metrics["best_hyperparameters"] == {
        "filters": 32,
        "blocks": 2,
        "convs_per_block": 2,
        "dropout": 0.25,
    }
    assert metrics["test"]["best_cnn"] in ("lenet5", "vgg", "inception")
    assert np.sum(metrics["confusion_matrix"]) == 64
    assert plots_written(out) == ["confusion_matrix.png", "training_curves.png"]


def test_matching_mlp_parameter_count():
    model = recipe.matching_mlp((8, 8, 1), 10, 100_000)
    assert abs(model.count_params() - 100_000) <= 75 / 2 + 1
