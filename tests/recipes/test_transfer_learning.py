"""The flagship recipe: smoke run, resume, --overwrite, and bad input."""

import csv
import json
import os

import numpy as np
import pytest
import transfer_learning


@pytest.fixture(scope="module")
def smoke_run(tfds_data_dir, tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("transfer") / "run")
    argv = ["--smoke", "--data-dir", tfds_data_dir, "--output-dir", output_dir]
    metrics = transfer_learning.main(argv)
    return argv, output_dir, metrics


def trial_files(output_dir):
    search = os.path.join(output_dir, "tuner", "search")
    return {
        name: os.path.getmtime(os.path.join(search, name, "trial.json"))
        for name in os.listdir(search)
        if name.startswith("trial_")
    }


def test_smoke_run_writes_the_run_directory(smoke_run):
    _, output_dir, returned = smoke_run
    for name in (
        "metrics.json",
        "history.csv",
        "model.keras",
        "backbone.weights.h5",
        "plots/training_curves.png",
        "plots/test_accuracy.png",
    ):
        assert os.path.isfile(os.path.join(output_dir, name)), name
    assert os.path.isdir(os.path.join(output_dir, "logs", "fine_tuning"))
    with open(os.path.join(output_dir, "metrics.json")) as file:
        metrics = json.load(file)
    assert metrics == returned
    assert metrics["recipe"] == "transfer_learning"
    assert metrics["dataset"] == "kerasnn_shapes/target"
    assert metrics["source_dataset"] == transfer_learning.SOURCE == "kerasnn_shapes/pretrain"
    assert metrics["seed"] == 0 and metrics["wall_seconds"] > 0
    accuracy = metrics["test"]
    assert set(accuracy) == {
        "scratch_accuracy",
        "feature_extraction_accuracy",
        "fine_tuning_accuracy",
    }
    best = max(accuracy["feature_extraction_accuracy"], accuracy["fine_tuning_accuracy"])
    assert metrics["transfer_gain_points"] == pytest.approx(
        100 * (best - accuracy["scratch_accuracy"]))
    assert set(metrics["best_hyperparameters"]) == {
        "head_units",
        "dropout",
        "learning_rate",
        "unfreeze_layers",
    }
    assert len(metrics["trials"]) == 1
    assert set(metrics["epoch_seconds"]) == {
        "pretrain", "scratch", "feature_extraction", "fine_tuning"}
    with open(os.path.join(output_dir, "history.csv")) as file:
        phases = {line.split(",")[0] for line in file.read().splitlines()[1:]}
    assert phases == {"pretrain", "scratch", "feature_extraction", "fine_tuning"}


def test_the_transferred_base_is_the_pretrained_one_except_its_fine_tuned_top(
    smoke_run, tfds_data_dir
):
    # What a broken recipe gets wrong: a base not loaded from pretraining, batch-norm statistics
    # overwritten by the few target images, or other layers than the top ones fine-tuned.
    import keras

    from kerasnn import data, models

    _, output_dir, metrics = smoke_run
    model = keras.saving.load_model(os.path.join(output_dir, "model.keras"))
    base = model.get_layer("backbone")
    pretrained = models.small_cnn_backbone(base.input_shape[1:])
    pretrained.load_weights(os.path.join(output_dir, "backbone.weights.h5"))
    tunable = [layer.name for layer in models.tunable_layers(pretrained)]
    unfrozen = tunable[len(tunable) - metrics["best_hyperparameters"]["unfreeze_layers"] :]
    assert unfrozen  # the default hyperparameters fine-tune half of the base
    # Fine-tuning keeps the feature-extraction weights unless one of its epochs beats them on
    # validation data (their validation accuracy is the best of feature extraction's epochs).
    with open(os.path.join(output_dir, "history.csv")) as file:
        rows = list(csv.DictReader(file))
    best = {phase: max(float(row["val_accuracy"]) for row in rows if row["phase"] == phase)
            for phase in ("feature_extraction", "fine_tuning")}
    fine_tuned = best["fine_tuning"] > best["feature_extraction"]
    for layer in (layer for layer in pretrained.layers if layer.weights):
        for kept, moved in zip(layer.get_weights(), base.get_layer(layer.name).get_weights()):
            if layer.name in unfrozen and fine_tuned:
                assert not np.allclose(kept, moved), layer.name
            else:
                np.testing.assert_array_equal(kept, moved, err_msg=layer.name)
    # The model is the one that scored the fine-tuning figure.
    x, y = data.load_arrays("kerasnn_shapes/target", "test[:256]", data_dir=tfds_data_dir)
    accuracy = np.mean(model.predict(x, verbose=0).argmax(-1) == y)
    assert accuracy == pytest.approx(metrics["test"]["fine_tuning_accuracy"], abs=1e-6)


def phase_files(output_dir):
    phases = os.path.join(output_dir, "phases")
    return {name: os.path.getmtime(os.path.join(phases, name)) for name in os.listdir(phases)}


def test_rerun_resumes_and_other_settings_are_refused(smoke_run, capsys):
    argv, output_dir, metrics = smoke_run
    trials, phases = trial_files(output_dir), phase_files(output_dir)
    assert (
        len(phases) == 8
    )  # weights and history of pretrain, scratch, feature extraction, fine-tuning
    assert transfer_learning.main(argv)["test"] == pytest.approx(metrics["test"])
    assert trial_files(output_dir) == trials  # no trial redone
    assert phase_files(output_dir) == phases  # every phase loaded, none retrained
    # Other settings in the same directory: refused, nothing touched.
    with pytest.raises(SystemExit) as exit_info:
        transfer_learning.main(argv + ["--seed", "1"])
    assert exit_info.value.code == 2
    assert "other settings (seed: 0 -> 1)" in capsys.readouterr().err
    assert phase_files(output_dir) == phases
    # (--overwrite deleting the directory is RunDirectory's, tested in tests/test_reporting.py.)


def test_both_phases_work_on_a_keras_application_base():
    # The recipe end to end with an application base is the same code path as small_cnn once
    # the base is built; what differs is the base itself, checked here without training.
    import keras_tuner

    from kerasnn import models

    def make():
        return models.keras_application("mobilenet_v3_small", (32, 32, 3))[0]

    hypermodel = transfer_learning.TransferHyperModel(make, num_classes=4, patience=2)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    base = model.get_layer("backbone")
    assert not base.trainable_weights  # feature extraction: only the head trains
    assert len(model.trainable_weights) == 4
    hypermodel.start_fine_tuning(hp, model)
    tunable = models.tunable_layers(base)
    assert hp["unfreeze_layers"] == len(tunable) // 2
    assert [layer.trainable for layer in tunable] == (
        [False] * (len(tunable) - hp["unfreeze_layers"]) + [True] * hp["unfreeze_layers"]
    )
    assert model.optimizer.learning_rate.numpy() == pytest.approx(
        hp["learning_rate"] * transfer_learning.FINE_TUNING_LEARNING_RATE_FACTOR
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dataset", "no_such_dataset"], "Unknown dataset 'no_such_dataset'"),
        (["--dataset", "mnist"], "must be downloaded by tfds, but the network is unreachable"),
        (["--backbone", "alexnet9000"], "Unknown backbone 'alexnet9000'"),
        (
            ["--weights", "/no/such/file.weights.h5"],
            "cannot read --weights file '/no/such/file.weights.h5'",
        ),
        (["--weights", __file__], "cannot load the base's weights"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer, received 0"),
        (["--batch-size", "-1"], "argument --batch-size: expected a positive integer, received -1"),
        (["--max-trials", "0"], "argument --max-trials: expected a positive integer, received 0"),
        (["--shots", "-3"], "argument --shots: expected a non-negative integer, received -3"),
        (["--source-dataset", "no_such_source"], "Unknown dataset 'no_such_source'"),
        (
            ["--dataset", "kerasnn_digits"],
            "--source-dataset kerasnn_shapes/pretrain has 3 channels but --dataset kerasnn_digits "
            "has 1",
        ),
        (["--backbone", "mobilenet_v2"], "cannot load the base's weights (imagenet)"),
        (["--weights", "imagenet"], "--weights imagenet needs a keras.applications --backbone"),
        (["--image-size", "4"], "--image-size 4 is smaller than the base takes (at least 8)"),
        (["--backbone", "mobilenet_v2", "--image-size", "16"],
         "--image-size 16 is smaller than the base takes (at least 32)"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_leaves_the_run_untouched(
    extra, message, tfds_data_dir, tmp_path, capsys
):
    check_refused(["--smoke", *extra], message, tfds_data_dir, tmp_path, capsys)


def test_more_shots_than_examples_is_refused(tfds_data_dir, tmp_path, capsys):
    # Not under --smoke, which caps the shots at 2.
    check_refused(["--shots", "500"], "--shots 500: Class 0 has ", tfds_data_dir, tmp_path, capsys)


def check_refused(extra, message, tfds_data_dir, tmp_path, capsys):
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / "metrics.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        transfer_learning.main(
            ["--overwrite", "--data-dir", tfds_data_dir, "--output-dir", str(output_dir), *extra]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    # One error line, last; before it at most tfds' progress bars if it built a dataset first.
    assert "Traceback" not in err and message in err.splitlines()[-1], err
    assert sum("error:" in line for line in err.splitlines()) == 1, err
    assert sorted(os.listdir(output_dir)) == ["metrics.json"]
    assert (output_dir / "metrics.json").read_text() == "{}"
