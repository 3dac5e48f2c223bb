"""kerasnn.tuning: the tuner factory, resume, defaults, and the search summary."""

import re

import keras
import keras_tuner
import numpy as np
import pytest

from kerasnn import data, tuning

BUILDS = []


def build_model(hp):
    BUILDS.append(hp.values.copy())
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Choice("units", [2, 4, 8], default=4), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-2, 1e-1], default=1e-2)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def toy_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    return data.from_arrays(x, (x[:, 0] > 0).astype("int64"), batch_size=20)


def search(tmp_path, kind="random", overwrite=False, max_trials=2):
    tuner = tuning.make_tuner(
        kind,
        build_model,
        max_trials=max_trials,
        max_epochs=2,
        directory=str(tmp_path),
        overwrite=overwrite,
    )
    tuner.search(toy_data(), validation_data=toy_data(), epochs=1, verbose=0)
    return tuner


def test_none_means_no_tuner_and_default_hyperparameters(tmp_path):
    assert tuning.make_tuner("none", build_model, directory=str(tmp_path)) is None
    assert tuning.best_hyperparameters(None, build_model).values == {
        "units": 4,
        "learning_rate": 1e-2,
    }
    assert "default hyperparameters" in tuning.summary(None)


def test_unknown_kind_is_rejected(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"Argument `kind` must be one of 'none', 'random', 'bayesian', 'grid', 'hyperband'\. "
        r"Received: kind='evolution'",
    ):
        tuning.make_tuner("evolution", build_model, directory=str(tmp_path))


@pytest.mark.parametrize(
    "kind, oracle_class",
    [
        ("random", keras_tuner.oracles.RandomSearchOracle),
        ("bayesian", keras_tuner.oracles.BayesianOptimizationOracle),
        ("grid", keras_tuner.oracles.GridSearchOracle),
        ("hyperband", keras_tuner.oracles.HyperbandOracle),
    ],
)
def test_factory_kinds(kind, oracle_class, tmp_path):
    tuner = tuning.make_tuner(
        kind, build_model, directory=str(tmp_path), max_trials=3, max_epochs=4
    )
    assert isinstance(tuner.oracle, oracle_class)
    assert isinstance(tuner, keras_tuner.Hyperband) == (kind == "hyperband")


def test_search_resumes_and_overwrite_starts_over(tmp_path):
    tuner = search(tmp_path)
    trials = tuning.trials(tuner)
    assert len(trials) == 2 and all(row["status"] == "COMPLETED" for row in trials)
    assert trials[0]["score"] >= trials[1]["score"]  # best first
    BUILDS.clear()
    resumed = search(tmp_path)
    assert tuning.trials(resumed) == trials
    # Reloading the project builds once to restore the search space; no trial is trained again.
    assert len(BUILDS) <= 1
    BUILDS.clear()
    search(tmp_path, overwrite=True)
    assert len(BUILDS) >= 2
    best = tuning.best_hyperparameters(resumed, build_model)
    assert best.values == {key: trials[0][key] for key in ("units", "learning_rate")}
    assert "score" in tuning.summary(resumed).splitlines()[0]


@pytest.mark.parametrize("kind", ["random", "grid"])
def test_a_larger_max_trials_extends_a_finished_search(kind, tmp_path):
    # Random and Bayesian searches resume by KerasTuner's own means; grid needs ours.
    first = search(tmp_path, kind=kind, max_trials=2)
    done = {row["trial"]: (row["units"], row["learning_rate"]) for row in tuning.trials(first)}
    extended = search(tmp_path, kind=kind, max_trials=3)
    rows = tuning.trials(extended)
    assert len(rows) == 3
    assert {
        row["trial"]: (row["units"], row["learning_rate"]) for row in rows if row["trial"] in done
    } == done
    if kind == "grid":  # the grid goes on where it stopped: three different combinations
        assert len({(row["units"], row["learning_rate"]) for row in rows}) == 3


def test_search_helper_returns_the_best_and_a_fresh_seeded_session(tmp_path, capsys):
    tuner = tuning.make_tuner("random", build_model, max_trials=2, directory=str(tmp_path))
    hp = tuning.search(tuner, build_model, toy_data(), validation_data=toy_data(), epochs=1, seed=3)
    assert hp.values == tuning.best_hyperparameters(tuner, build_model).values
    out = capsys.readouterr().out
    assert (
        len(re.findall(r"^trial \d+: ", out, flags=re.MULTILINE)) == 2
    )  # a progress line per trial
    assert "score" in out  # the table
    first = keras.random.uniform(())
    keras.utils.set_random_seed(3)
    np.testing.assert_allclose(keras.random.uniform(()), first)
    assert tuning.search(None, build_model, seed=0).values == {"units": 4, "learning_rate": 1e-2}


def test_every_trial_starts_from_a_fresh_session(tmp_path, monkeypatch):
    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    BUILDS.clear()
    search(tmp_path, max_trials=2)
    assert len(cleared) >= len(BUILDS) >= 2
