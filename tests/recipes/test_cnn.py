import keras_tuner
import numpy as np
from classification_recipes import load_recipe, plots_written, read_run

from kerasnn import data, models
from kerasnn.ops import geometry

recipe = load_recipe("cnn")


def test_smoke_run_compares_three_cnns_and_a_same_size_mlp(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    returned = recipe.main(
        ["--smoke", "--tuner", "none", "--data-dir", tfds_data_dir, "--output-dir", out]
    )
    metrics = read_run(out)
    assert returned == metrics
    rows = {row["model"]: row for row in metrics["models"]}
    assert list(rows) == ["lenet5", "vgg", "inception", "mlp_same_size"]
    assert rows["lenet5"]["params"] == 61_706
    # the MLP's hidden width is solved for the VGG's parameter count
    assert abs(rows["mlp_same_size"]["params"] - rows["vgg"]["params"]) <= 8 * 8 + 1 + 10
    # receptive fields, read from the built networks: LeNet-5 sees its whole (resized) 32x32
    # input; the default VGG (two blocks of two 3x3 and a 2x2 pooling) 16; the Inception net's
    # widest path (3x3 stem, 5x5 branch, 2x2 pooling, 5x5 branch) 16
    assert rows["lenet5"]["receptive_field"] == 32 and rows["vgg"]["receptive_field"] == 16
    assert rows["inception"]["receptive_field"] == 16
    assert rows["mlp_same_size"]["receptive_field"] is None
    # the runner timed every epoch of every network
    assert all(row["epoch_seconds"] > 0 and row["epochs"] == 1 for row in rows.values())
    assert metrics["epoch_seconds"] == {name: rows[name]["epoch_seconds"] for name in rows}
    # the best CNN is the one of highest validation accuracy (not test), and the confusion
    # matrix is its test predictions
    cnns = [rows[name] for name in ("lenet5", "vgg", "inception")]
    best = max(cnns, key=lambda row: (row["val_accuracy"], -row["val_loss"]))
    assert metrics["test"]["best_cnn"] == best["model"]
    assert metrics["test"]["best_cnn_accuracy"] == best["test_accuracy"]
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == 64 and np.trace(matrix) == round(64 * best["test_accuracy"])
    assert plots_written(out) == ["confusion_matrix.png", "training_curves.png"]


def test_the_inception_receptive_field_follows_the_built_model():
    module = models.cnn.SMALL_INCEPTION_MODULES[0]
    three_modules = models.inception_net((8, 8, 1), 10, modules=(module,) * 3)
    field, path = geometry.model_receptive_field(three_modules)
    assert recipe.receptive_field(three_modules) == 34 == field.size[0]
    assert path[-1] == "inception3_5x5"
    assert recipe.receptive_field(models.inception_net((8, 8, 1), 10, stem_filters=8)) == 16


def test_the_searched_vgg_learns_the_digits(tfds_data_dir):
    # A known-good floor: the recipe's default VGG, 5 epochs on 256 digits, classifies the
    # validation split at 0.82 (measured; chance is 0.1, a shuffled-label control 0.1).
    x, y = data.load_arrays("kerasnn_digits", "train", data_dir=tfds_data_dir, limit=256)
    x_val, y_val = data.load_arrays("kerasnn_digits", "validation", data_dir=tfds_data_dir)
    build_vgg = recipe.vgg_builder((8, 8, 1), 10)
    hp = keras_tuner.HyperParameters()
    vgg = recipe.build_networks((8, 8, 1), 10, build_vgg, hp)["vgg"]
    assert hp.values == {"filters": 32, "blocks": 2, "convs_per_block": 2, "dropout": 0.25}
    vgg.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert vgg.evaluate(x_val, y_val, verbose=0)[1] >= 0.6


def test_matching_mlp_parameter_count():
    model = recipe.matching_mlp((8, 8, 1), 10, 100_000)
    assert abs(model.count_params() - 100_000) <= 75 / 2 + 1
