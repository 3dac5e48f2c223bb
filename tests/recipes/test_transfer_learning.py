"""The flagship recipe: smoke run, resume, --overwrite, and bad input."""

import json
import os

import pytest

import transfer_learning


@pytest.fixture(scope="module")
def smoke_run(tfds_data_dir, tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("transfer") / "run")
    argv = ["--smoke", "--data-dir", tfds_data_dir, "--output-dir", output_dir]
    accuracy = transfer_learning.main(argv)
    return argv, output_dir, accuracy


def trial_files(output_dir):
    search = os.path.join(output_dir, "tuner", "search")
    return {name: os.path.getmtime(os.path.join(search, name, "trial.json"))
            for name in os.listdir(search) if name.startswith("trial_")}


def test_smoke_run_writes_the_run_directory(smoke_run):
    _, output_dir, accuracy = smoke_run
    for name in ("metrics.json", "history.csv", "model.keras", "backbone.weights.h5",
                 "plots/training_curves.png", "plots/test_accuracy.png"):
        assert os.path.isfile(os.path.join(output_dir, name)), name
    assert os.path.isdir(os.path.join(output_dir, "logs", "fine_tuning"))
    with open(os.path.join(output_dir, "metrics.json")) as file:
        metrics = json.load(file)
    assert metrics["recipe"] == "transfer_learning"
    assert metrics["dataset"] == "kerasnn_shapes/target"
    assert metrics["source_dataset"] == "kerasnn_shapes/source"
    assert metrics["seed"] == 0 and metrics["wall_seconds"] > 0
    assert set(metrics["test"]) == {"scratch_accuracy", "feature_extraction_accuracy", "fine_tuning_accuracy"}
    assert all(0.0 <= value <= 1.0 for value in metrics["test"].values())
    assert metrics["test"]["fine_tuning_accuracy"] == pytest.approx(accuracy["fine_tuning"])
    best = max(accuracy["feature_extraction"], accuracy["fine_tuning"])
    assert metrics["transfer_gain_points"] == pytest.approx(100 * (best - accuracy["scratch"]))
    assert set(metrics["best_hyperparameters"]) == {"head_units", "dropout", "learning_rate",
                                                    "unfreeze_layers"}
    assert len(metrics["trials"]) == 1
    with open(os.path.join(output_dir, "history.csv")) as file:
        phases = {line.split(",")[0] for line in file.read().splitlines()[1:]}
    assert phases == {"pretrain", "scratch", "feature_extraction", "fine_tuning"}


def phase_files(output_dir):
    phases = os.path.join(output_dir, "phases")
    return {name: os.path.getmtime(os.path.join(phases, name)) for name in os.listdir(phases)}


def test_rerun_resumes_and_overwrite_starts_over(smoke_run, capsys):
    argv, output_dir, accuracy = smoke_run
    trials, phases = trial_files(output_dir), phase_files(output_dir)
    assert len(phases) == 8  # weights and history of pretrain, scratch, feature extraction, fine-tuning
    assert transfer_learning.main(argv) == pytest.approx(accuracy)
    assert trial_files(output_dir) == trials  # no trial redone
    assert phase_files(output_dir) == phases  # every phase loaded, none retrained
    # Other settings in the same directory: refused, nothing touched.
    with pytest.raises(SystemExit) as exit_info:
        transfer_learning.main(argv + ["--seed", "1"])
    assert exit_info.value.code == 2
    assert "other settings (seed: 0 -> 1)" in capsys.readouterr().err
    assert phase_files(output_dir) == phases
    transfer_learning.main(argv + ["--overwrite"])
    after = trial_files(output_dir)
    assert set(after) == set(trials) and all(after[name] > trials[name] for name in trials)


def test_keras_application_base_with_a_local_weights_file(tfds_data_dir, tmp_path):
    from kerasnn import models

    base, _ = models.keras_application("mobilenet_v3_small", (32, 32, 3))
    weights = str(tmp_path / "base.weights.h5")
    base.save_weights(weights)
    output_dir = str(tmp_path / "run")
    accuracy = transfer_learning.main([
        "--smoke", "--tuner", "none", "--backbone", "mobilenet_v3_small", "--weights", weights,
        "--image-size", "32", "--data-dir", tfds_data_dir, "--output-dir", output_dir])
    with open(os.path.join(output_dir, "metrics.json")) as file:
        metrics = json.load(file)
    assert (metrics["backbone"], metrics["weights"], metrics["source_dataset"]) == (
        "mobilenet_v3_small", weights, None)
    assert metrics["test"]["fine_tuning_accuracy"] == pytest.approx(accuracy["fine_tuning"])
    assert not os.path.exists(os.path.join(output_dir, "phases", "pretrain.weights.h5"))


@pytest.mark.parametrize("extra, message", [
    (["--dataset", "no_such_dataset"], "Unknown dataset 'no_such_dataset'"),
    (["--dataset", "mnist"], "must be downloaded by tfds, but the network is unreachable"),
    (["--backbone", "alexnet9000"], "Unknown backbone 'alexnet9000'"),
    (["--weights", "/no/such/file.weights.h5"], "cannot read --weights file '/no/such/file.weights.h5'"),
    (["--weights", __file__], "cannot load the base's weights"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer, received 0"),
    (["--batch-size", "-1"], "argument --batch-size: expected a positive integer, received -1"),
    (["--max-trials", "0"], "argument --max-trials: expected a positive integer, received 0"),
    (["--shots", "-3"], "argument --shots: expected a non-negative integer, received -3"),
    (["--source-dataset", "no_such_source"], "Unknown dataset 'no_such_source'"),
    (["--dataset", "kerasnn_digits"],
     "--source-dataset kerasnn_shapes/source has 3 channels but --dataset kerasnn_digits has 1"),
    (["--backbone", "mobilenet_v2"], "cannot load the base's weights (imagenet)"),
])
def test_bad_input_exits_2_with_one_line_and_leaves_the_run_untouched(
        extra, message, tfds_data_dir, tmp_path, capsys):
    check_refused(["--smoke", *extra], message, tfds_data_dir, tmp_path, capsys)


def test_more_shots_than_examples_is_refused(tfds_data_dir, tmp_path, capsys):
    # Not under --smoke, which caps the shots at 2.
    check_refused(["--shots", "500"], "--shots 500: Class 0 has ", tfds_data_dir, tmp_path, capsys)


def check_refused(extra, message, tfds_data_dir, tmp_path, capsys):
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / "metrics.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        transfer_learning.main(["--overwrite", "--data-dir", tfds_data_dir,
                                "--output-dir", str(output_dir), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    # One error line, last; before it at most tfds' progress bars if it built a dataset first.
    assert "Traceback" not in err and message in err.splitlines()[-1], err
    assert sum("error:" in line for line in err.splitlines()) == 1, err
    assert sorted(os.listdir(output_dir)) == ["metrics.json"]
    assert (output_dir / "metrics.json").read_text() == "{}"
