"""kerasnn.reporting: the run directory, resumable training, and what a run writes."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from kerasnn import data, reporting


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    return data.from_arrays(x, (x[:, 0] > 0).astype("int64"), batch_size=8)


def test_finished_phase_is_loaded_not_retrained(tmp_path):
    run = reporting.RunDirectory(tmp_path / "run")
    model = tiny_model()
    history = run.fit("phase", model, tiny_data(), epochs=3, verbose=0)
    assert len(history["loss"]) == 3
    trained = [w.copy() for w in model.get_weights()]

    again = tiny_model()
    fit_calls = []
    again.fit = lambda *args, **kwargs: fit_calls.append(1)
    assert run.fit("phase", again, tiny_data(), epochs=3, verbose=0) == history
    assert not fit_calls
    for expected, loaded in zip(trained, again.get_weights()):
        np.testing.assert_array_equal(expected, loaded)


def test_interrupted_phase_resumes_from_its_last_epoch(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    run = reporting.RunDirectory(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        run.fit("phase", tiny_model(), tiny_data(), epochs=5, callbacks=[Interrupt()], verbose=0)
    model = tiny_model()
    history = run.fit("phase", model, tiny_data(), epochs=5, verbose=0)
    # Two epochs were backed up before the interruption; the rerun trains the remaining three,
    # and the history still has all five.
    assert int(model.optimizer.iterations.numpy()) == 5 * 4
    assert len(history["loss"]) == len(history["accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0]


def test_settings_mismatch_is_refused_before_anything_is_written(tmp_path):
    run = reporting.RunDirectory(
        tmp_path / "run", settings={"epochs": 3, "dataset": "a", "sizes": (1, 2)}
    )
    run.write_metrics({"recipe": "demo"})
    # The same settings resume (tuples and lists are the same once stored).
    reporting.RunDirectory(
        tmp_path / "run", settings={"epochs": 3, "dataset": "a", "sizes": [1, 2]}
    )
    with pytest.raises(
        reporting.RunSettingsMismatch,
        match=r"other settings \(epochs: 3 -> 4\); pass --overwrite to start over",
    ):
        reporting.RunDirectory(
            tmp_path / "run", settings={"epochs": 4, "dataset": "a", "sizes": [1, 2]}
        )
    assert sorted(os.listdir(tmp_path / "run")) == [
        "metrics.json", "plots", "run.lock", "settings.json"]
    reporting.RunDirectory(tmp_path / "run", overwrite=True, settings={"epochs": 4})
    assert sorted(os.listdir(tmp_path / "run")) == ["plots", "run.lock", "settings.json"]


def test_phase_names_may_contain_slashes_and_arrays_work(tmp_path):
    run = reporting.RunDirectory(tmp_path / "run")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    history = run.fit(
        "kerasnn_shapes/source", tiny_model(), x, y=y, epochs=2, batch_size=8, verbose=0
    )
    assert len(history["loss"]) == 2
    assert os.path.exists(run.file("phases", "kerasnn_shapes_source.weights.h5"))
    again = tiny_model()
    assert run.fit("kerasnn_shapes/source", again, x, y=y, epochs=2, verbose=0) == history


def test_a_phase_that_ends_in_nan_is_not_recorded_as_finished(tmp_path):
    model = tiny_model()
    run = reporting.RunDirectory(tmp_path / "run")
    x = np.full((16, 3), np.nan, "float32")
    history = run.fit(
        "diverges", model, x, y=np.zeros(16, "int64"), epochs=5, batch_size=8, verbose=0
    )
    assert np.isnan(history["loss"][-1]) and len(history["loss"]) < 5  # TerminateOnNaN stopped it
    assert not os.path.exists(run.file("phases", "diverges.history.json"))


def test_overwrite_starts_over(tmp_path):
    run = reporting.RunDirectory(tmp_path / "run")
    run.fit("phase", tiny_model(), tiny_data(), epochs=1, verbose=0)
    assert os.path.exists(run.file("phases", "phase.weights.h5"))
    run = reporting.RunDirectory(tmp_path / "run", overwrite=True)
    assert not os.path.exists(run.file("phases"))


def test_metrics_history_and_plots(tmp_path):
    run = reporting.RunDirectory(tmp_path / "run")
    run.write_metrics(
        {"recipe": "demo", "test": {"accuracy": np.float32(0.5)}, "counts": np.arange(3)}
    )
    with open(run.file("metrics.json")) as file:
        assert json.load(file) == {"recipe": "demo", "test": {"accuracy": 0.5}, "counts": [0, 1, 2]}
    histories = {"a": {"loss": [3.0, 2.0], "val_loss": [4.0, 3.5]}, "b": {"loss": [1.0]}}
    run.write_history(histories)
    with open(run.file("history.csv")) as file:
        assert list(csv.reader(file)) == [
            ["phase", "epoch", "loss", "val_loss"],
            ["a", "1", "3.0", "4.0"],
            ["a", "2", "2.0", "3.5"],
            ["b", "1", "1.0", ""],
        ]
    path = run.plot_history(histories, metrics=("loss", "accuracy"))
    assert path == run.plot_path("training_curves") and os.path.getsize(path) > 1000


def test_format_table():
    table = reporting.format_table(
        [{"run": "scratch", "accuracy": 0.51234}, {"run": "fine", "accuracy": 1.0}]
    )
    assert table.splitlines() == [
        "run      accuracy",
        "-------  --------",
        "scratch  0.5123  ",
        "fine     1       ",
    ]
