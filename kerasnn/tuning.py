"""KerasTuner glue: one factory for every search strategy, resume by default, a search summary.

``make_tuner("random", build_model, ...)`` returns a KerasTuner tuner whose project lives in the
run directory: a rerun with the same directory continues the search (finished trials are kept),
``overwrite=True`` starts over. ``"none"`` returns ``None``: the recipe then trains the default
hyperparameters (``default_hyperparameters``). Every trial starts from a fresh Keras session, so
memory does not grow with the number of trials.

Models are always rebuilt from ``best_hyperparameters`` rather than taken from the tuner's saved
checkpoints: a tuner whose ``run_trial`` or ``fit`` is customised saves none.

Trials are independent of one another: each starts from ``keras.utils.set_random_seed(
trial_seed(seed, trial_id))`` and iterates a ``kerasnn.data`` pipeline reshuffled from that seed,
so a trial scores the same whether it runs after other trials in one process or first in a
resumed run.
"""

import functools
import glob
import json
import os

import keras
import keras_tuner
import numpy as np
from keras_tuner.src import utils as keras_tuner_utils

from kerasnn import arguments, cli
from kerasnn.reporting import (
    EpochSeeds,
    InterruptCheck,
    RunDirectoryDamaged,
    atomic_path,
    derive_seed,
    format_table,
)


def _save_json_atomically(path, obj):
    """KerasTuner's ``utils.save_json`` (oracle, trial and tuner state), written to a temporary
    file and renamed into place: a run killed while saving leaves the previous state, whole."""
    text = json.dumps(obj)
    with atomic_path(path) as temporary, open(temporary, "w") as file:
        file.write(text)
    return text


# KerasTuner (1.4.8) writes its state files in place; every save goes through this function.
keras_tuner_utils.save_json = _save_json_atomically


def check_project(directory, project_name):
    """Raise ``RunDirectoryDamaged`` (naming the file) if a state file of the KerasTuner project
    cannot be read: reloading it would fail with a traceback, or resume a different search."""
    project = os.path.join(directory, project_name)
    paths = [os.path.join(project, "oracle.json"), *glob.glob(os.path.join(project, "tuner*.json")),
             *glob.glob(os.path.join(project, "trial_*", "trial.json"))]
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            with open(path) as file:
                if not isinstance(json.load(file), dict):
                    raise ValueError("expected a JSON object")
        except (OSError, ValueError) as error:
            raise RunDirectoryDamaged(
                f"{path} is damaged ({type(error).__name__}: {str(error)[:80]}); pass --overwrite "
                f"to start over, or delete {project} to search again"
            ) from None


class SearchFailed(RuntimeError):
    """Every trial of a search failed: there are no tuned hyperparameters to report."""


def trial_seed(seed, trial_id):
    """The seed of trial ``trial_id`` of a search seeded with ``seed``."""
    return derive_seed(seed, "trial", trial_id)


class FreshSessionHyperModel(keras_tuner.HyperModel):
    """Wraps a hypermodel (or a ``build(hp)`` function) and clears the Keras session before
    every build, so the models of finished trials are released.

    ``begin_trial(trial_id)`` (called by the tuners of ``make_tuner``) seeds Python, NumPy and
    the backend from ``trial_seed(seed, trial_id)`` and makes ``fit`` reshuffle a
    ``kerasnn.data`` pipeline from it, so a trial does not depend on the trials run before it.
    """

    def __init__(self, hypermodel, seed=None):
        super().__init__()
        self.hypermodel = hypermodel
        self.seed = seed
        self.trial_seed = None

    def begin_trial(self, trial_id):
        if self.seed is not None:
            self.trial_seed = trial_seed(self.seed, trial_id)
            keras.utils.set_random_seed(self.trial_seed)

    def build(self, hp):
        keras.backend.clear_session()
        if isinstance(self.hypermodel, keras_tuner.HyperModel):
            return self.hypermodel.build(hp)
        return self.hypermodel(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), InterruptCheck()]
        dataset = None
        if args and hasattr(args[0], "element_spec"):
            kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
            if self.trial_seed is not None:
                from kerasnn import data  # here: importing tuning must not load tfds

                dataset = data.reseeded(args[0], self.trial_seed)
                args = (dataset, *args[1:])
        if self.trial_seed is not None:
            kwargs["callbacks"].append(EpochSeeds(self.trial_seed, dataset))
        if isinstance(self.hypermodel, keras_tuner.HyperModel):
            return self.hypermodel.fit(hp, model, *args, **kwargs)
        return super().fit(hp, model, *args, **kwargs)


class ResumableGridSearchOracle(keras_tuner.oracles.GridSearchOracle):
    """``GridSearchOracle`` that resumes: KerasTuner 1.4.8 does not save the order of the grid
    combinations it tried, so a reloaded grid search creates no new trial. Rebuild that order
    from the finished trials."""

    def set_state(self, state):
        super().set_state(state)
        started = [
            self.trials[trial_id] for trial_id in self.start_order if trial_id in self.trials
        ]
        by_values = functools.cmp_to_key(
            lambda a, b: self._compare(a.hyperparameters.values, b.hyperparameters.values)
        )
        self._ordered_ids = type(self._ordered_ids)()
        for trial in sorted(started, key=by_values):
            self._ordered_ids.insert(trial.trial_id)
        self._populate_next = list(self.end_order)


KINDS = ("random", "bayesian", "grid", "hyperband")


def make_oracle(kind, *, objective="val_accuracy", max_trials=5, max_epochs=10, seed=0):
    """The KerasTuner oracle (search strategy) of ``kind``; every kind resumes from its project.

    Args:
        kind: ``random``, ``bayesian``, ``grid`` or ``hyperband``.
        objective: the metric to optimise (name or ``keras_tuner.Objective``).
        max_trials: number of trials (random, bayesian, grid).
        max_epochs: Hyperband's largest budget per model (it decides the trials itself).
    """
    if kind not in KINDS:
        arguments.fail("kind", "one of " + ", ".join(map(repr, ("none",) + KINDS)), kind)
    if kind == "hyperband":
        return keras_tuner.oracles.HyperbandOracle(
            objective, max_epochs=max_epochs, factor=3, hyperband_iterations=1, seed=seed
        )
    oracle_class = {
        "random": keras_tuner.oracles.RandomSearchOracle,
        "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
        "grid": ResumableGridSearchOracle,
    }[kind]
    return oracle_class(objective=objective, max_trials=max_trials, seed=seed)


class _HyperbandTuner(keras_tuner.Hyperband):
    """Hyperband's trial logic (epoch budgets, warm starts) on an oracle from ``make_oracle``."""

    def __init__(self, oracle, **kwargs):
        keras_tuner.Tuner.__init__(self, oracle=oracle, **kwargs)


def make_tuner(
    kind,
    hypermodel,
    *,
    objective="val_accuracy",
    max_trials=5,
    max_epochs=10,
    directory,
    project_name="search",
    overwrite=False,
    seed=0,
    **kwargs,
):
    """A KerasTuner tuner of ``kind`` (``random``, ``bayesian``, ``grid``, ``hyperband``), or
    ``None`` for ``kind="none"``.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` or a ``build(hp) -> keras.Model`` function.
        objective, max_trials, max_epochs, seed: the search (``make_oracle``).
        directory, project_name: where the tuner keeps its trials; an existing project resumes
            (a larger ``max_trials`` extends the search).
        overwrite: start the search over.
        **kwargs: other ``keras_tuner.Tuner`` arguments.
    """
    if kind == "none":
        return None
    if not overwrite:
        check_project(directory, project_name)
    oracle = make_oracle(
        kind, objective=objective, max_trials=max_trials, max_epochs=max_epochs, seed=seed
    )
    tuner_class = _HyperbandTuner if kind == "hyperband" else keras_tuner.Tuner
    tuner = tuner_class(
        oracle=oracle,
        hypermodel=FreshSessionHyperModel(hypermodel, seed=seed),
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        **kwargs,
    )
    _seed_each_trial(tuner)
    _print_each_trial(tuner)
    return tuner


def _seed_each_trial(tuner):
    """Seed every trial from its id (``FreshSessionHyperModel.begin_trial``)."""
    on_trial_begin = tuner.on_trial_begin

    def on_trial_begin_seeded(trial):
        cli.raise_if_interrupted()
        on_trial_begin(trial)
        tuner.hypermodel.begin_trial(trial.trial_id)

    tuner.on_trial_begin = on_trial_begin_seeded


def search(tuner, hypermodel, *fit_args, seed=0, **fit_kwargs):
    """Run ``tuner``'s search quietly (one line per trial), print its table, and return the best
    hyperparameters (the defaults without a tuner). Leaves a fresh Keras session seeded with
    ``seed``, ready to build the final model.

    Raises:
        SearchFailed: no trial completed (each failed trial's error is in its ``trial.json``).
    """
    if tuner is not None:
        try:
            tuner.search(*fit_args, verbose=0, **fit_kwargs)
        except RuntimeError as error:  # KerasTuner gives up after consecutive failed trials
            if "consecutive failures" not in str(error):
                raise
        print(summary(tuner))
        statuses = [trial.status for trial in tuner.oracle.trials.values()]
        if statuses and "COMPLETED" not in statuses:
            raise SearchFailed(
                f"all {len(statuses)} trials of the search failed; the last one with: "
                f"{_last_error(tuner)}"
            )
    hp = best_hyperparameters(tuner, hypermodel)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return hp


def _last_error(tuner):
    """The last line of the last failed trial's traceback (its error)."""
    messages = [trial.message for trial in tuner.oracle.trials.values()
                if getattr(trial, "message", None)]
    lines = messages[-1].strip().splitlines() if messages else []
    return lines[-1] if lines else "no error recorded"


def _print_each_trial(tuner):
    """One line per finished trial, so a quiet (``verbose=0``) search still shows progress."""
    on_trial_end = tuner.on_trial_end

    def on_trial_end_with_progress(trial):
        on_trial_end(trial)
        score = "failed" if trial.score is None else f"{trial.score:.4g}"
        values = ", ".join(
            f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
            for name, value in trial.hyperparameters.values.items()
            if not name.startswith("tuner/")
        )
        print(f"trial {trial.trial_id}: {score} ({values})", flush=True)

    tuner.on_trial_end = on_trial_end_with_progress


def default_hyperparameters(hypermodel):
    """The hyperparameters a build function declares, each at its default value."""
    hp = keras_tuner.HyperParameters()
    FreshSessionHyperModel(hypermodel).build(hp)
    keras.backend.clear_session()
    return hp


def best_hyperparameters(tuner, hypermodel):
    """The best trial's hyperparameters, or the defaults when there is no tuner."""
    if tuner is None:
        return default_hyperparameters(hypermodel)
    return tuner.get_best_hyperparameters(1)[0]


def trials(tuner):
    """The completed trials as dicts (id, score, status, hyperparameter values), best first."""
    if tuner is None:
        return []
    rows = []
    for trial in tuner.oracle.get_best_trials(len(tuner.oracle.trials)):
        rows.append(
            {
                "trial": trial.trial_id,
                "score": trial.score,
                "status": trial.status,
                **trial.hyperparameters.values,
            }
        )
    return rows


def summary(tuner):
    """A printable table of the search's trials, best first."""
    rows = trials(tuner)
    return format_table(rows) if rows else "(no tuner search: default hyperparameters)"


# --- Cross-validating tuner ("Cross-Validation", "Hyperparameters") ------------------------------
#
# KerasTuner scores a trial on one validation set. With little data that score is noisy, and the
# course's answer is k-fold cross-validation: train k times, each time holding out a different
# fold, and average the k validation scores. ``CrossValidationTuner`` does that for any oracle.


def kfold_indices(num_examples, num_folds, *, seed=0, labels=None):
    """``[(train_indices, validation_indices), ...]`` of k-fold cross-validation.

    Every example is in exactly one validation fold; fold sizes differ by at most one.
    ``num_folds == num_examples`` is leave-one-out. With ``labels`` the folds are stratified:
    each class is dealt round-robin over the folds, so every fold keeps the class proportions.
    """
    arguments.integer("num_folds", num_folds, minimum=2, maximum=num_examples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_examples)
    if labels is not None:
        labels = np.asarray(labels).reshape(num_examples, -1)[:, 0]
        # Grouping the shuffled order by class, then dealing it out, stratifies the folds.
        order = order[np.argsort(labels[order], kind="stable")]
    fold_of = np.empty(num_examples, dtype=np.int64)
    fold_of[order] = np.arange(num_examples) % num_folds
    return [
        (np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold))
        for fold in range(num_folds)
    ]


def cross_validate(
    build_model,
    x,
    y,
    folds,
    *,
    metric="accuracy",
    seed=0,
    fit=None,
    monitor_validation=False,
    batch_size=32,
    **fit_kwargs,
):
    """Train a fresh ``build_model()`` on each fold's training part; return its ``metric`` on each
    fold's validation part (``model.evaluate``), one score per fold.

    Args:
        build_model: a function of no arguments returning a compiled model.
        x, y: arrays of all the examples.
        folds: ``[(train_indices, validation_indices), ...]`` (``kfold_indices``, holdout
            splits, ...).
        metric: a name ``evaluate`` reports (``"accuracy"``, ``"loss"``, ...).
        seed: fold ``i`` starts from ``keras.utils.set_random_seed(seed + i)`` and shuffles with it.
        fit: ``fit(model, train_dataset, **fit_kwargs)``; default ``model.fit``.
        monitor_validation: also pass the fold's validation part to ``fit`` (for callbacks such as
            ``EarlyStopping`` on ``val_*``); it costs one evaluation per epoch.
        batch_size: examples per training batch.
        **fit_kwargs: ``epochs``, ``callbacks``, ``verbose``...
    """
    # Cached tf.data pipelines train small folds several times faster than NumPy arrays; imported
    # here so that importing kerasnn.tuning does not load tensorflow_datasets.
    from kerasnn import data

    x, y = np.asarray(x), np.asarray(y)
    fit = fit or (lambda model, *args, **kwargs: model.fit(*args, **kwargs))
    fit_kwargs.setdefault("verbose", 0)
    fit_kwargs.setdefault("shuffle", False)  # the dataset reshuffles itself every epoch
    scores = []
    for fold, (train_index, validation_index) in enumerate(folds):
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + fold)
        model = build_model()
        train = data.from_arrays(
            x[train_index], y[train_index], batch_size, shuffle=True, cache=True, seed=seed + fold
        )
        validation = data.from_arrays(x[validation_index], y[validation_index], 4096, cache=True)
        fit(
            model,
            train,
            **({"validation_data": validation} if monitor_validation else {}),
            **fit_kwargs,
        )
        results = model.evaluate(validation, return_dict=True, verbose=0)
        if metric not in results:
            raise ValueError(
                f"Expected the model to report {metric!r}; it reports {sorted(results)}"
            )
        scores.append(float(results[metric]))
    return scores


def fold_scores(trial, objective_name):
    """The per-fold validation scores a ``CrossValidationTuner`` recorded for ``trial``."""
    scores, fold = [], 0
    while trial.metrics.exists(f"{objective_name}_fold_{fold}"):
        scores.append(trial.metrics.get_last_value(f"{objective_name}_fold_{fold}"))
        fold += 1
    return scores


class CrossValidationTuner(keras_tuner.Tuner):
    """A KerasTuner tuner whose trial score is the mean validation metric over k folds.

    Works with any oracle (random, Bayesian, grid, Hyperband: ``tuner/epochs`` then sets the
    epochs of each fold's training, from scratch). ``search(x, y, epochs=..., batch_size=...)``
    takes the whole training set as arrays; each trial builds and trains ``num_folds`` fresh
    models (``cross_validate``), fold ``i`` holding out its validation part, and scores each with
    ``evaluate`` on it.
    The trial records the mean (its score, under the objective's name, e.g. ``val_accuracy``),
    the standard deviation (``val_accuracy_std``) and every fold's score
    (``val_accuracy_fold_<i>``).

    Like every tuner of ``make_tuner``, it resumes from ``directory`` (finished trials are kept)
    and saves no models: rebuild the best one from ``get_best_hyperparameters()`` and retrain it
    on all the training data.

    Args:
        oracle: a ``keras_tuner.Oracle``; its objective must be a validation metric (``val_*``).
        hypermodel: a ``keras_tuner.HyperModel`` or a ``build(hp)`` function returning a
            compiled model.
        num_folds: k (``>= 2``).
        stratify: stratify the folds by the labels ``y`` (classification).
        seed: seed of the fold split and of each fold's weight initialization (fold ``i`` uses
            ``seed + i``), so a trial's score does not depend on the trials before it.
        monitor_validation: pass each fold's validation part to ``fit`` too (see
            ``cross_validate``).
        **kwargs: ``keras_tuner.Tuner`` arguments (``directory``, ``project_name``, ``overwrite``).
    """

    def __init__(
        self,
        oracle,
        hypermodel,
        *,
        num_folds=5,
        stratify=True,
        seed=0,
        monitor_validation=False,
        **kwargs,
    ):
        arguments.integer("num_folds", num_folds, minimum=2)
        objective_name = getattr(oracle.objective, "name", None)
        if not (isinstance(objective_name, str) and objective_name.startswith("val_")):
            arguments.fail(
                "oracle", "an oracle with a single validation objective such as 'val_accuracy'",
                None, received=f"objective={oracle.objective}",
            )  # fmt: skip
        super().__init__(oracle=oracle, hypermodel=FreshSessionHyperModel(hypermodel), **kwargs)
        self.num_folds = num_folds
        self.stratify = stratify
        self.seed = seed
        self.monitor_validation = monitor_validation

    def run_trial(self, trial, x, y, **fit_kwargs):
        for name in ("validation_data", "validation_split"):
            if name in fit_kwargs:  # the tuner makes its own validation folds
                arguments.fail(name, "absent (the tuner makes its own folds)", fit_kwargs[name])
        if hasattr(x, "element_spec"):  # a tf.data.Dataset cannot be cut into folds
            raise ValueError(
                "CrossValidationTuner needs array inputs (x, y) to cut into folds, "
                "received a Dataset"
            )
        x, y = np.asarray(x), np.asarray(y)
        hp = trial.hyperparameters
        if "tuner/epochs" in hp.values:
            # Hyperband's budget; every round trains from scratch (no checkpoints are kept).
            fit_kwargs["epochs"] = hp.values["tuner/epochs"]
            fit_kwargs.pop("initial_epoch", None)
        name = self.oracle.objective.name
        folds = kfold_indices(
            len(x), self.num_folds, seed=self.seed, labels=y if self.stratify else None
        )
        scores = cross_validate(
            lambda: self.hypermodel.build(hp),
            x,
            y,
            folds,
            metric=name[len("val_") :],
            seed=self.seed,
            fit=lambda model, *args, **kwargs: self.hypermodel.fit(hp, model, *args, **kwargs),
            monitor_validation=self.monitor_validation,
            **fit_kwargs,
        )
        return {
            name: float(np.mean(scores)),
            f"{name}_std": float(np.std(scores)),
            **{f"{name}_fold_{fold}": score for fold, score in enumerate(scores)},
        }


def make_cross_validation_tuner(
    kind,
    hypermodel,
    *,
    num_folds=5,
    stratify=True,
    objective="val_accuracy",
    max_trials=5,
    max_epochs=10,
    directory,
    project_name="cross_validation",
    overwrite=False,
    seed=0,
):
    """A ``CrossValidationTuner`` driven by the oracle of ``kind`` (as in ``make_tuner``), or
    ``None`` for ``kind="none"``."""
    if kind == "none":
        return None
    if not overwrite:
        check_project(directory, project_name)
    oracle = make_oracle(
        kind, objective=objective, max_trials=max_trials, max_epochs=max_epochs, seed=seed
    )
    return CrossValidationTuner(
        oracle,
        hypermodel,
        num_folds=num_folds,
        stratify=stratify,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    )
