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


def test_rerun_resumes_and_overwrite_starts_over(smoke_run):
    argv, output_dir, accuracy = smoke_run
    before = trial_files(output_dir)
    assert transfer_learning.main(argv) == pytest.approx(accuracy)  # every phase loaded, not retrained
    assert trial_files(output_dir) == before  # no trial redone
    transfer_learning.main(argv + ["--overwrite"])
    after = trial_files(output_dir)
    assert set(after) == set(before) and all(after[name] > before[name] for name in before)


@pytest.mark.parametrize("extra, message", [
    (["--dataset", "no_such_dataset"], "Unknown dataset 'no_such_dataset'"),
    (["--dataset", "mnist"], "must be downloaded by tfds, but the network is unreachable"),
    (["--backbone", "alexnet9000"], "Unknown backbone 'alexnet9000'"),
    (["--weights", "/no/such/file.weights.h5"], "cannot read --weights file '/no/such/file.weights.h5'"),
    (["--weights", __file__], "cannot load the base's weights"),
    (["--epochs", "0"], "argument --epochs: expected a positive integer, received 0"),
    (["--batch-size", "-1"], "argument --batch-size: expected a positive integer, received -1"),
    (["--max-trials", "0"], "argument --max-trials: expected a positive integer, received 0"),
    (["--shots", "-3"], "--shots must be >= 0; received -3"),
])
def test_bad_input_exits_2_with_one_line_and_leaves_the_run_untouched(
        extra, message, tfds_data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    output_dir = tmp_path / "run"
    output_dir.mkdir()
    (output_dir / "metrics.json").write_text("{}")
    with pytest.raises(SystemExit) as exit_info:
        transfer_learning.main(["--smoke", "--overwrite", "--data-dir", tfds_data_dir,
                                "--output-dir", str(output_dir), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert sorted(os.listdir(output_dir)) == ["metrics.json"]
    assert (output_dir / "metrics.json").read_text() == "{}"
