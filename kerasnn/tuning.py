"""KerasTuner glue: one factory for every search strategy, resume by default, a search summary.

``make_tuner("random", build_model, ...)`` returns a KerasTuner tuner whose project lives in the
run directory: a rerun with the same directory continues the search (finished trials are kept),
``overwrite=True`` starts over. ``"none"`` returns ``None``: the recipe then trains the default
hyperparameters (``default_hyperparameters``). Every trial starts from a fresh Keras session, so
memory does not grow with the number of trials.

Models are always rebuilt from ``best_hyperparameters`` rather than taken from the tuner's saved
checkpoints: a tuner whose ``run_trial`` or ``fit`` is customised saves none.
"""

import keras
import keras_tuner

from kerasnn.reporting import format_table

TUNER_CLASSES = {
    "random": keras_tuner.RandomSearch,
    "bayesian": keras_tuner.BayesianOptimization,
    "grid": keras_tuner.GridSearch,
    "hyperband": keras_tuner.Hyperband,
}


class FreshSessionHyperModel(keras_tuner.HyperModel):
    """Wraps a hypermodel (or a ``build(hp)`` function) and clears the Keras session before
    every build, so the models of finished trials are released."""

    def __init__(self, hypermodel):
        super().__init__()
        self.hypermodel = hypermodel

    def build(self, hp):
        keras.backend.clear_session()
        if isinstance(self.hypermodel, keras_tuner.HyperModel):
            return self.hypermodel.build(hp)
        return self.hypermodel(hp)

    def fit(self, hp, model, *args, **kwargs):
        if isinstance(self.hypermodel, keras_tuner.HyperModel):
            return self.hypermodel.fit(hp, model, *args, **kwargs)
        return super().fit(hp, model, *args, **kwargs)


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
        objective: the metric to optimise (name or ``keras_tuner.Objective``).
        max_trials: number of trials (random, bayesian, grid).
        max_epochs: Hyperband's largest budget per model (it decides trials itself).
        directory, project_name: where the tuner keeps its trials; an existing project resumes.
        overwrite: start the search over.
    """
    if kind == "none":
        return None
    if kind not in TUNER_CLASSES:
        raise ValueError(f"Unknown tuner {kind!r}; expected one of none, {', '.join(TUNER_CLASSES)}.")
    options = dict(
        hypermodel=FreshSessionHyperModel(hypermodel),
        objective=objective,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        seed=seed,
        **kwargs,
    )
    if kind == "hyperband":
        options.update(max_epochs=max_epochs, factor=3, hyperband_iterations=1)
    else:
        options.update(max_trials=max_trials)
    return TUNER_CLASSES[kind](**options)


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
    """Every finished trial as a dict (id, score, status, hyperparameter values), best first."""
    if tuner is None:
        return []
    rows = []
    for trial in tuner.oracle.get_best_trials(len(tuner.oracle.trials)):
        rows.append({"trial": trial.trial_id, "score": trial.score, "status": trial.status,
                     **trial.hyperparameters.values})
    return rows


def summary(tuner):
    """A printable table of the search's trials, best first."""
    rows = trials(tuner)
    return format_table(rows) if rows else "(no tuner search: default hyperparameters)"
