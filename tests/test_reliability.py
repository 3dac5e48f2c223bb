"""Runs that survive what users do to them (issue 21): one writer per run directory, exact
resumes after kill -9 / SIGTERM / Ctrl-C, damaged files, unusable paths and values.

The process-level cases (a second writer, signals, kill -9, reproducibility across processes)
run ``tests/reliability_recipe.py`` as a subprocess: the linear classifier on the runner, which
``KERASNN_TEST_PAUSE`` stops at a known point so a signal lands there and not by chance. The
other command-line cases call a recipe's ``main(argv)`` in-process: the same code path
(``cli.recipe_main``) without a second interpreter start.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerasnn import cli, data, recipe, reporting, tuning

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(ROOT, "tests", "reliability_recipe.py")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import reliability_recipe  # noqa: E402

# Figures that measure time, not results.
TIMINGS = ("wall_seconds", "epoch_seconds", "seconds")


def command(out, data_dir, *extra):
    return [sys.executable, RECIPE, "--output-dir", str(out), "--data-dir", data_dir, *extra]


def environment(pause=None):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1", KERASNN_OFFLINE="1")
    env.pop("KERASNN_TEST_PAUSE", None)
    if pause:
        env["KERASNN_TEST_PAUSE"] = pause
    return env


def run(out, data_dir, *extra):
    return subprocess.run(command(out, data_dir, *extra), env=environment(), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def interrupt(out, data_dir, pause, how):
    """Start a run, wait until it pauses at ``pause``, send it ``how``; return (exit status,
    stderr, seconds from the signal to the exit)."""
    process = subprocess.Popen(command(out, data_dir), env=environment(pause), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.strip() == "paused":
            break
    else:
        raise AssertionError(f"never paused at {pause}: {process.communicate()[1][-2000:]}")
    sent = time.monotonic()
    process.send_signal(how)
    _, err = process.communicate(timeout=60)
    return process.returncode, err, time.monotonic() - sent


def figures(out):
    """metrics.json and history.csv without their timings."""
    with open(os.path.join(out, "metrics.json")) as file:
        metrics = {key: value for key, value in json.load(file).items() if key not in TIMINGS}
    with open(os.path.join(out, "history.csv"), newline="") as file:
        history = [{key: value for key, value in row.items() if key not in TIMINGS}
                   for row in csv.DictReader(file)]
    return metrics, history


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tfds_data_dir):
    """One run from start to finish (3 trials, a 4-epoch training phase)."""
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = run(out, tfds_data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


# -- 3, 4, 9: reproducible, and a resumed run gives the figures of an uninterrupted one --------


def test_same_command_twice_gives_identical_figures(uninterrupted, tmp_path, tfds_data_dir):
    out = tmp_path / "run"
    # A lock file left by a dead process is taken over (item 1).
    out.mkdir()
    (out / "run.lock").write_text("999999999\n")
    result = run(out, tfds_data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert figures(out) == figures(uninterrupted)
    assert (out / "run.lock").read_text().strip() != "999999999"


def test_kill_sigterm_and_ctrl_c_then_resume_gives_the_uninterrupted_figures(
    uninterrupted, tmp_path, tfds_data_dir
):
    out = tmp_path / "run"
    # kill -9 in the middle of the second trial of the search
    status, _, _ = interrupt(out, tfds_data_dir, "trial:2", signal.SIGKILL)
    assert status == -signal.SIGKILL
    # SIGTERM in the middle of the next trial the resumed search trains (the third)
    status, err, seconds = interrupt(out, tfds_data_dir, "trial:2", signal.SIGTERM)
    assert (status, err.strip().splitlines()[-1]) == (130, cli.INTERRUPTED_MESSAGE)
    assert "Traceback" not in err and seconds < 20
    # Ctrl-C at the start of epoch 3 of the training phase (epochs 1-2 backed up)
    status, err, seconds = interrupt(out, tfds_data_dir, "phase:3", signal.SIGINT)
    assert (status, err.strip().splitlines()[-1]) == (130, cli.INTERRUPTED_MESSAGE)
    assert "Traceback" not in err and seconds < 20
    assert os.path.exists(out / "backup" / "train" / "training_metadata.json")
    result = run(out, tfds_data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch 3/4" in result.stdout and "Epoch 1/4" not in result.stdout  # resumed
    assert figures(out) == figures(uninterrupted)


# -- 1: one writer per run directory; failed trials are failures --------------------------------


def test_a_second_writer_exits_2_naming_the_directory_and_the_holder(tmp_path, tfds_data_dir):
    out = tmp_path / "run"
    reporting.RunDirectory(str(out))  # this process holds the directory now
    result = run(out, tfds_data_dir)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {out} is being written by another run (process {os.getpid()}); wait for it to "
        "finish, or choose another --output-dir"
    )
    assert sorted(os.listdir(out)) == ["plots", "run.lock"]  # nothing written by the second


def test_a_stale_lock_is_taken_over_in_process(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.lock").write_text("999999999\n")
    reporting.RunDirectory(str(tmp_path / "run"))
    assert (tmp_path / "run" / "run.lock").read_text() == f"{os.getpid()}\n"


def failing_recipe(fail_builds):
    """A recipe whose hypermodel raises on the given build calls (1: KerasTuner's first look at
    the search space, 2: trial 0, ...)."""
    builds = []

    def build_model(hp):
        builds.append(1)
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")
        if len(builds) in fail_builds:
            raise RuntimeError("out of luck")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        return recipe.compile_classifier(model, learning_rate, from_logits=True)

    @cli.recipe_main
    def main(argv=None):
        run = recipe.Run("failing", "A recipe.", argv, dataset="kerasnn_digits", epochs=1,
                         max_trials=2)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(16, 3)).astype("float32")
        train = data.from_arrays(x, (x[:, 0] > 0).astype("int64"), 8)
        run.open()
        run.search(build_model, train, validation_data=train)
        return run.finish(test={})

    return main


def test_failed_trials_are_reported_and_a_search_that_all_failed_exits_1(
    tmp_path, tfds_data_dir, capsys
):
    argv = ["--data-dir", tfds_data_dir, "--output-dir"]
    metrics = failing_recipe({2})(argv + [str(tmp_path / "some")])
    assert metrics["failed_trials"] == ["0"]
    assert [(row["trial"], row["status"]) for row in metrics["trials"]] == [
        ("1", "COMPLETED"), ("0", "FAILED")]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        failing_recipe({2, 3, 4, 5})(argv + [str(tmp_path / "all")])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: all 2 trials of the search failed; the last one with: RuntimeError: out of luck")


# -- 2, 6, 7: unusable values and paths exit 2 before anything is written ---------------------


def main_exit(main, argv, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return exit_info.value.code, err.strip()


def test_unusable_paths_and_dataset_names_exit_2_with_one_line(tmp_path, tfds_data_dir, capsys):
    main = reliability_recipe.main
    regular = tmp_path / "file"
    regular.write_text("keep")
    common = ["--data-dir", tfds_data_dir, "--smoke"]
    assert main_exit(main, common + ["--output-dir", str(regular)], capsys) == (
        2, f"error: --output-dir {regular} is not a directory")
    assert main_exit(main, common + ["--output-dir", str(regular / "run")], capsys) == (
        2, f"error: --output-dir {regular / 'run'} is under {regular}, which is not a directory")
    code, err = main_exit(main, common + ["--output-dir", "/proc/kerasnn/run"], capsys)
    assert code == 2 and err.startswith("error: --output-dir /proc/kerasnn/run cannot be written")
    code, err = main_exit(
        main, ["--data-dir", str(regular / "d"), "--output-dir", str(tmp_path / "r")], capsys)
    assert (code, err) == (2, f"error: --data-dir {regular / 'd'} is under {regular}, which is "
                              "not a directory")
    code, err = main_exit(main, common + ["--dataset", "../../etc", "--output-dir",
                                          str(tmp_path / "r")], capsys)
    assert code == 2 and err.startswith("error: Unknown dataset '../../etc' (not a dataset name)")
    assert all(name in err for name in data.embedded_names())
    assert sorted(os.listdir(tmp_path)) == ["file"] and regular.read_text() == "keep"


def test_a_batch_larger_than_the_training_split_is_clipped(tmp_path, tfds_data_dir, capsys):
    run = recipe.Run("clip", "A recipe.", ["--smoke", "--batch-size", "1000000000",
                                           "--data-dir", tfds_data_dir, "--output-dir",
                                           str(tmp_path / "run")],
                     dataset="kerasnn_digits", epochs=1)
    train, = run.splits(["train"])
    assert run.args.batch_size == 64 and sum(1 for _ in train) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (  # after tfds' lines if it built
        "note: --batch-size 1000000000 is larger than the training split (64 examples); "
        "using 64")


def test_an_image_size_memory_or_network_cannot_take_exits_2(tmp_path, tfds_data_dir, capsys):
    def flags(parser):
        parser.add_argument("--image-size", type=int, default=32)

    @cli.recipe_main
    def main(argv=None):
        run = recipe.Run("images", "A recipe.", argv, dataset="kerasnn_digits", epochs=1,
                         flags=flags)
        run.check_image_size(run.args.image_size, minimum=32, reason="the backbone")
        run.splits()
        run.open()

    data.get_builder("kerasnn_digits", tfds_data_dir)  # built now: no tfds lines below
    common = ["--data-dir", tfds_data_dir, "--output-dir", str(tmp_path / "run")]
    code, err = main_exit(main, common + ["--image-size", "100000"], capsys)
    assert code == 2 and err.startswith(
        "error: --image-size 100000: one batch of 32 float32 images of 100000x100000x1 takes "
        "1.19e+03 GiB, more than the ")
    assert "of memory available (at most --image-size " in err
    assert main_exit(main, common + ["--image-size", "1"], capsys) == (
        2, "error: --image-size 1 is smaller than the backbone takes (at least 32)")
    assert not (tmp_path / "run").exists()


# -- 5: damaged files are redone where safe, else exit 2 naming the file ----------------------


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    return data.from_arrays(x, (x[:, 0] > 0).astype("int64"), batch_size=8, shuffle=True)


def truncate(path, keep=0.5):
    size = os.path.getsize(path)
    with open(path, "r+b") as file:
        file.truncate(int(size * keep))


def test_damaged_phase_files_are_retrained_and_damaged_settings_exit_2(tmp_path, capsys):
    path = str(tmp_path / "run")
    directory = reporting.RunDirectory(path, settings={"seed": 3})
    keras.utils.set_random_seed(0)
    first = directory.fit("p", tiny_model(), tiny_data(), epochs=2, verbose=0)
    weights = os.path.join(path, "phases", "p.weights.h5")
    history = os.path.join(path, "phases", "p.history.json")
    for damage in (lambda: truncate(weights), lambda: open(history, "w").write("{garbage")):
        damage()
        keras.utils.set_random_seed(0)
        again = directory.fit("p", tiny_model(), tiny_data(), epochs=2, verbose=0)
        assert capsys.readouterr().out.startswith("phase 'p': saved state damaged (")
        assert again["loss"] == first["loss"]  # retrained from the same seed: the same figures
        reporting._check_h5(weights)
    settings = os.path.join(path, "settings.json")
    truncate(settings, 0.3)
    with pytest.raises(reporting.RunDirectoryDamaged, match=(
            f"^{settings} is damaged \\(JSONDecodeError: .*\\); pass --overwrite to start over, "
            "or choose another --output-dir$")):
        reporting.RunDirectory(path, settings={"seed": 3})


def test_damaged_backup_state_starts_the_phase_over(tmp_path, capsys):
    path = str(tmp_path / "run")
    directory = reporting.RunDirectory(path)
    backup = os.path.join(path, "backup", "p")
    os.makedirs(backup)
    with open(os.path.join(backup, "training_metadata.json"), "w") as file:
        json.dump({"epoch": 1, "batch": 0, "weights": "epoch-1-batch-0.weights.h5"}, file)
    with open(os.path.join(backup, "epoch-1-batch-0.weights.h5"), "wb") as file:
        file.write(b"\x89HDF\r\n")  # the first bytes of a file a kill cut short
    history = directory.fit("p", tiny_model(), tiny_data(), epochs=2, verbose=0)
    assert len(history["loss"]) == 2
    assert capsys.readouterr().out.startswith("phase 'p': interrupted state damaged (")


def test_files_are_replaced_atomically(tmp_path):
    path = tmp_path / "metrics.json"
    reporting.write_json(str(path), {"old": 1})
    with pytest.raises(TypeError):
        reporting.write_json(str(path), {"new": 1, "unwritable": object()})
    assert json.loads(path.read_text()) == {"old": 1} and os.listdir(tmp_path) == ["metrics.json"]


def test_a_damaged_tuner_file_exits_2_naming_it(tmp_path):
    directory = str(tmp_path / "tuner")
    os.makedirs(os.path.join(directory, "search", "trial_0"))
    oracle = os.path.join(directory, "search", "oracle.json")
    with open(oracle, "w") as file:
        file.write('{"ongoing_trials": {"tuner0": ')
    with pytest.raises(reporting.RunDirectoryDamaged, match=(
            f"^{oracle} is damaged .*; pass --overwrite to start over, or delete "
            f"{os.path.join(directory, 'search')} to search again$")):
        tuning.make_tuner("random", lambda hp: tiny_model(), directory=directory)


# -- 8: a damaged embedded dataset is rebuilt once, else exit 2 naming its directory ----------


def test_a_truncated_embedded_dataset_is_rebuilt(tmp_path, capsys, monkeypatch):
    data_dir = str(tmp_path / "tfds")
    builder = data.get_builder("kerasnn_digits", data_dir)
    (record,) = builder.info.splits["train"].filepaths
    truncate(os.fspath(record), 0.6)
    data._VERIFIED.clear()
    builder = data.get_builder("kerasnn_digits", data_dir)
    assert f"dataset kerasnn_digits: damaged files in {builder.data_dir} (" in (
        capsys.readouterr().err)
    assert sum(1 for _ in data.load("kerasnn_digits", "train", data_dir=data_dir)) == 40
    truncate(os.fspath(record), 0.6)
    data._VERIFIED.clear()
    monkeypatch.setattr(data, "_verified", lambda builder: "train: 1 records of 1258")
    with pytest.raises(data.DatasetUnavailableError, match=(
            f"cannot be read from {builder.data_dir} .*; delete that directory and run again")):
        data.get_builder("kerasnn_digits", data_dir)


# -- 10: layers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RoIAlign", "RoIPooling"])
def test_roi_layers_refuse_nan_boxes_in_eager_mode(name):
    from kerasnn import layers

    layer = getattr(layers, name)(2)
    features = np.zeros((1, 4, 4, 1), "float32")
    boxes = np.array([[[0.0, 0.0, 2.0, 2.0], [np.nan, 0.0, 2.0, 2.0]]], "float32")
    with pytest.raises(ValueError, match=(
            r"`boxes` must be finite \(NaN or infinite coordinates in box 1 of image 0\)")):
        layer(features, boxes)


def test_multi_head_attention_refuses_different_batch_sizes():
    from kerasnn import layers

    layer = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    with pytest.raises(ValueError, match=(
            r"`query` and `value` must have the same batch size. Received: "
            r"query.shape=\(2, 5, 8\), value.shape=\(3, 6, 8\)")):
        layer(np.zeros((2, 5, 8), "float32"), np.zeros((3, 6, 8), "float32"))
