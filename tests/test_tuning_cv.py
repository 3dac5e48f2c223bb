"""The cross-validating tuner: k-fold splits, trial score = mean of fold scores, resume, rebuild."""

import keras
import keras_tuner
import numpy as np
import pytest

from kerasnn import tuning

NUM_FOLDS = 3


def test_kfold_indices_partition_the_examples():
    folds = tuning.kfold_indices(10, 3, seed=1)
    validation = np.concatenate([v for _, v in folds])
    assert sorted(validation.tolist()) == list(range(10))
    assert sorted(len(v) for _, v in folds) == [3, 3, 4]
    for train, val in folds:
        assert set(train.tolist()) | set(val.tolist()) == set(range(10))
        assert not set(train.tolist()) & set(val.tolist())


def test_kfold_indices_stratified_and_leave_one_out():
    labels = np.array([0] * 12 + [1] * 6)
    for _, val in tuning.kfold_indices(18, 3, seed=0, labels=labels):
        assert np.bincount(labels[val]).tolist() == [4, 2]
    loo = tuning.kfold_indices(5, 5)
    assert sorted(v.item() for _, v in loo) == [0, 1, 2, 3, 4]
    with pytest.raises(
        ValueError,
        match=r"Argument `num_folds` must be an integer in \[2, 5\]. Received: num_folds=6",
    ):
        tuning.kfold_indices(5, 6)


class ConstantClassifier:
    """A 'model' that always predicts class ``hp['favoured']``: its accuracy on a fold is exactly
    the share of that class in the fold, which the test computes with NumPy."""

    def __init__(self):
        self.builds = 0

    def __call__(self, hp):
        self.builds += 1
        favoured = hp.Choice("favoured", [0, 1])
        model = keras.Sequential(
            [
                keras.Input((1,)),
                keras.layers.Dense(
                    2,
                    activation="softmax",
                    kernel_initializer="zeros",
                    bias_initializer=keras.initializers.Constant([1.0 - favoured, favoured]),
                    trainable=False,
                ),
            ]
        )
        model.compile(
            optimizer="sgd",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=True,
        )  # no tracing: tiny data
        return model


def _data():
    rng = np.random.default_rng(3)
    y = (rng.random(37) < 0.3).astype("int64")  # 37: folds of unequal size and class mix
    return rng.normal(size=(37, 1)).astype("float32"), y


def _tuner(build, directory, max_trials):
    return tuning.make_cross_validation_tuner(
        "grid",
        build,
        num_folds=NUM_FOLDS,
        stratify=False,
        objective="val_accuracy",
        max_trials=max_trials,
        directory=directory,
        seed=5,
    )


def test_trial_score_is_mean_of_fold_scores(tmp_path):
    x, y = _data()
    build = ConstantClassifier()
    tuner = _tuner(build, str(tmp_path), max_trials=2)
    tuner.search(x, y, epochs=1, batch_size=64, verbose=0)

    folds = tuning.kfold_indices(len(x), NUM_FOLDS, seed=5)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    for trial in trials:
        favoured = trial.hyperparameters.get("favoured")
        expected = [np.mean(y[val] == favoured) for _, val in folds]
        recorded = tuning.fold_scores(trial, "val_accuracy")
        np.testing.assert_allclose(recorded, expected, atol=1e-6)
        assert len(set(np.round(expected, 6))) > 1  # the folds really differ
        assert trial.score == pytest.approx(np.mean(expected), abs=1e-6)
        assert trial.metrics.get_last_value("val_accuracy_std") == pytest.approx(
            np.std(expected), abs=1e-6
        )

    # The majority class wins, and the best model is rebuilt from its hyperparameters.
    best = tuning.best_hyperparameters(tuner, build)
    assert best.get("favoured") == 0
    model = build(best)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        np.mean(y == 0)
    )


def test_search_resumes_finished_trials(tmp_path):
    x, y = _data()
    first = ConstantClassifier()
    _tuner(first, str(tmp_path), max_trials=1).search(x, y, epochs=1, verbose=0)

    second = ConstantClassifier()
    tuner = _tuner(second, str(tmp_path), max_trials=2)
    tuner.search(x, y, epochs=1, verbose=0)
    # Only the missing trial ran: k builds, none repeated for the finished one.
    assert second.builds == NUM_FOLDS
    assert len(tuner.oracle.trials) == 2
    assert {t.hyperparameters.get("favoured") for t in tuner.oracle.trials.values()} == {0, 1}


def test_cross_validation_tuner_rejects_bad_input(tmp_path):
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="loss", max_trials=1)
    with pytest.raises(
        ValueError,
        match=r"Argument `oracle` must be an oracle with a single validation objective such as "
        r"'val_accuracy'\. Received: objective=",
    ):
        tuning.CrossValidationTuner(oracle, ConstantClassifier(), directory=str(tmp_path))
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1)
    with pytest.raises(
        ValueError, match=r"Argument `num_folds` must be an integer >= 2. Received: num_folds=1"
    ):
        tuning.CrossValidationTuner(
            oracle, ConstantClassifier(), num_folds=1, directory=str(tmp_path)
        )
    assert (
        tuning.make_cross_validation_tuner("none", ConstantClassifier(), directory=str(tmp_path))
        is None
    )
