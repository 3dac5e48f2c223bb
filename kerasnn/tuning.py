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
resumed run, or on another machine of a distributed search.

Distributed searches (KerasTuner's chief and workers over gRPC) take their role from
KerasTuner's environment variables (``distributed_role``): ``KERASTUNER_TUNER_ID`` (``chief``,
or a worker's name), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (where the chief
listens). The chief runs no trial: it serves the oracle (``serve``) until every worker has been
told that the search is over, then reports as a single process would. A worker runs the trials
the chief hands out, prints each one's score as the chief recorded it, and ``search`` returns
``None`` on it. With a non-zero oracle seed the trials of a random or Hyperband search (and of the
k-fold tuner) get the same ids, values and scores as in one process; a Bayesian search differs,
because which results its model has seen depends on which trials have ended.
"""

import functools
import glob
import json
import os
import time
from typing import NamedTuple

import keras
import keras_tuner
import numpy as np
from keras_tuner.src import utils as keras_tuner_utils
from keras_tuner.src.engine import trial as trial_module

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
    """Every trial of a search failed, or so many in a row that the search stopped."""


# --- Distributed searches -------------------------------------------------------------------------

CHIEF = "chief"
ROLE_VARIABLES = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


class DistributedSetupError(ValueError):
    """KerasTuner's environment variables do not describe a usable chief or worker."""


class Role(NamedTuple):
    """This process's part in a search: ``kind`` is ``"single"``, ``"chief"`` or ``"worker"``;
    ``tuner_id`` and ``address`` (``ip:port`` of the chief) are ``None`` for ``"single"``."""

    kind: str
    tuner_id: str = None
    address: str = None


def distributed_role(environ=None):
    """This process's ``Role`` from KerasTuner's environment variables (``ROLE_VARIABLES``).

    None set: a single-process search. Otherwise all three must be set; the chief's id is exactly
    ``chief`` (KerasTuner tests for the substring, so a worker named ``chief2`` would start a
    second server: refused).

    Raises:
        DistributedSetupError: a variable missing, a port that is no port, an id containing
            ``chief`` that is not ``chief``.
    """
    environ = os.environ if environ is None else environ
    values = {name: environ.get(name, "") for name in ROLE_VARIABLES}
    if not any(values.values()):
        return Role("single")
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise DistributedSetupError(
            f"a distributed search needs {', '.join(ROLE_VARIABLES)}; {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set"
        )
    tuner_id, ip, port = values.values()
    if not (port.isdigit() and 0 < int(port) < 65536):
        raise DistributedSetupError(
            f"KERASTUNER_ORACLE_PORT must be a port number (1-65535), received {port!r}"
        )
    if tuner_id != CHIEF and CHIEF in tuner_id:
        raise DistributedSetupError(
            f"KERASTUNER_TUNER_ID {tuner_id!r} contains {CHIEF!r}, which KerasTuner takes for "
            f"a second chief; name the chief exactly {CHIEF!r} and workers without it "
            "(e.g. worker0)"
        )
    return Role(CHIEF if tuner_id == CHIEF else "worker", tuner_id, f"{ip}:{port}")


class _ReliableOracle:
    """What every oracle of ``make_oracle`` adds to KerasTuner 1.4.8's, for resumed and
    distributed searches:

    - it saves its state *after* ending a trial (upstream saves before removing the trial from
      ``ongoing_trials``, and a distributed chief never saves again, so a resumed search ran the
      last trial again);
    - it remembers that it answered ``STOPPED`` (``is_over``), so a chief resuming a finished
      search reports at once instead of serving workers that will never come, and a worker
      started after the end exits;
    - ``max_consecutive_failed_trials`` failed trials in a row stop the search (every later
      ``create_trial`` answers ``STOPPED``; ``failure`` says why) instead of raising inside the
      chief's server, where it left the chief waiting forever;
    - it counts its ``IDLE`` answers (``idle_answers``; Hyperband waits for a round to end).
    """

    failure = None
    idle_answers = 0
    announce = False  # print one line per ended trial (the chief: workers run the trials)
    _stopped_at = None  # {"max_trials": ...} once create_trial answered STOPPED

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        status = trial_module.TrialStatus
        if self.failure is not None:
            self.tuner_ids.discard(tuner_id)
            return trial_module.Trial(self.get_space(), status=status.STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == status.IDLE:
            self.idle_answers += 1
        elif trial.status == status.STOPPED and self._stopped_at is None:
            self._stopped_at = {"max_trials": self.max_trials}
            self.save()
        return trial

    @keras_tuner.synchronized
    def end_trial(self, trial):
        try:
            super().end_trial(trial)
        except RuntimeError as error:
            if "consecutive failures" not in str(error):
                raise
            # Upstream raised before saving the trial and releasing its tuner.
            self.failure = str(error).strip().splitlines()[0]
            self._save_trial(self.trials[trial.trial_id])
            for tuner_id, ongoing in list(self.ongoing_trials.items()):
                if ongoing.trial_id == trial.trial_id:
                    self.ongoing_trials.pop(tuner_id)
        self.save()
        if self.announce:
            print(_trial_line(self.trials[trial.trial_id]), flush=True)

    def is_over(self):
        """Whether the search has no trial left to hand out (a resumed search included)."""
        if self.failure is not None:
            return True
        return (
            self._stopped_at is not None
            and self._stopped_at["max_trials"] == self.max_trials
            and not self.ongoing_trials
            and not self._retry_queue
        )

    def get_state(self):
        return {
            **super().get_state(),
            "kerasnn": {"stopped_at": self._stopped_at, "failure": self.failure,
                        "idle_answers": self.idle_answers},
        }

    def set_state(self, state):
        super().set_state(state)
        extra = state.get("kerasnn") or {}
        self._stopped_at = extra.get("stopped_at")
        self.failure = extra.get("failure")
        self.idle_answers = extra.get("idle_answers", 0)


def _state_is_over(path, max_trials):
    """``_ReliableOracle.is_over`` of the oracle state saved at ``path`` (a worker reads the
    chief's ``oracle.json``); False when it cannot be read."""
    try:
        with open(path) as file:
            state = json.load(file)
        extra = state.get("kerasnn") or {}
        if extra.get("failure") is not None:
            return True
        stopped = extra.get("stopped_at")
        return (stopped is not None and stopped.get("max_trials") == max_trials
                and not state["ongoing_trials"] and not state["retry_queue"])
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False


IDLE_BACKOFF_SECONDS = (0.05, 1.0)  # first and longest wait after an IDLE answer
# A worker waiting for its chief checks the shared state this often. A request that a busy chief
# answers later is harmless: asked again, the chief hands the same tuner id the same trial.
CONNECT_POLL_SECONDS = 2.0


def idle_delays():
    """The waits of a worker between ``IDLE`` answers: doubling from the first to the longest
    of ``IDLE_BACKOFF_SECONDS`` (KerasTuner asks again at once: 1,533 requests in 4 s)."""
    delay, longest = IDLE_BACKOFF_SECONDS
    while True:
        yield delay
        delay = min(2 * delay, longest)


def _connect_worker(tuner, role):
    """Make a worker's ``OracleClient`` wait politely: back off on ``IDLE``; while no chief
    answers, check every ``CONNECT_POLL_SECONDS`` whether the shared ``oracle.json`` says the
    search is over (a worker started or restarted after the end then stops, rather than wait
    an hour for a chief that has gone)."""
    import grpc  # only workers talk gRPC themselves
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_client

    client = tuner.oracle
    oracle_path = os.path.join(tuner.project_dir, "oracle.json")
    stopped = trial_module.Trial(
        keras_tuner.HyperParameters(), status=trial_module.TrialStatus.STOPPED)

    def ask(tuner_id):
        request = protos.get_service().CreateTrialRequest(tuner_id=tuner_id)
        waited = 0.0
        while True:
            try:
                response = client.stub.CreateTrial(
                    request, wait_for_ready=True, timeout=CONNECT_POLL_SECONDS)
                return trial_module.Trial.from_proto(response.trial)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            cli.raise_if_interrupted()
            if _state_is_over(oracle_path, client.max_trials):
                return stopped
            waited += CONNECT_POLL_SECONDS
            if waited >= oracle_client.TIMEOUT:
                raise SearchFailed(
                    f"worker {role.tuner_id}: no chief answered on {role.address} for "
                    f"{waited / 60:.0f} minutes")

    def create_trial(tuner_id):
        delays = idle_delays()
        while True:
            trial = ask(tuner_id)
            if trial.status != trial_module.TrialStatus.IDLE:
                return trial
            time.sleep(next(delays))

    client.create_trial = create_trial


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


class OrderedHyperbandOracle(keras_tuner.oracles.HyperbandOracle):
    """``HyperbandOracle`` that hands out a round's trials only once the round before has ended.

    KerasTuner's picks the next round's models from the trials finished *so far* and starts new
    brackets while a round runs, so a distributed search depends on which worker was faster. This
    one answers ``IDLE`` instead, so the trials (ids, values, budgets, warm starts) are those of a
    single-process search; the first round of each bracket still runs in parallel.
    """

    def populate_space(self, trial_id):
        self._remove_completed_brackets()
        ongoing = {trial.trial_id for trial in self.ongoing_trials.values()}
        ongoing.update(self._retry_queue)
        for bracket in self._brackets:
            rounds = bracket["rounds"]
            if len(rounds[0]) < self._get_size(bracket["bracket_num"], 0):
                break  # a random first-round trial: it needs no result
            for round_num in range(1, len(rounds)):
                if len(rounds[round_num]) < self._get_size(bracket["bracket_num"], round_num):
                    if any(info["id"] in ongoing for info in rounds[round_num - 1]):
                        return {"status": "IDLE"}
                    break
            break
        return super().populate_space(trial_id)


KINDS = ("random", "bayesian", "grid", "hyperband")

_ORACLE_CLASSES = {
    kind: type(base.__name__, (_ReliableOracle, base), {"__doc__": base.__doc__})
    for kind, base in (
        ("random", keras_tuner.oracles.RandomSearchOracle),
        ("bayesian", keras_tuner.oracles.BayesianOptimizationOracle),
        ("grid", ResumableGridSearchOracle),
        ("hyperband", OrderedHyperbandOracle),
    )
}


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
    oracle_class = _ORACLE_CLASSES[kind]
    if kind == "hyperband":
        return oracle_class(
            objective, max_epochs=max_epochs, factor=3, hyperband_iterations=1, seed=seed
        )
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
    return _prepare(tuner)


def _prepare(tuner):
    """Seed each trial, print one line per trial, and make a worker wait politely."""
    _seed_each_trial(tuner)
    _print_each_trial(tuner)
    role = distributed_role()
    if role.kind == "worker":
        _connect_worker(tuner, role)
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

    In a distributed search (``distributed_role``) the chief serves the oracle (``serve``) and
    then reports like a single process; a worker runs trials until the chief has none left and
    returns ``None`` (the results are the chief's).

    Raises:
        SearchFailed: no trial completed (each failed trial's error is in its ``trial.json``), or,
            on a chief, ``max_consecutive_failed_trials`` trials failed in a row.
    """
    if tuner is not None:
        role = distributed_role()
        if role.kind == "worker":
            tuner.search(*fit_args, verbose=0, **fit_kwargs)
            return None
        is_over = getattr(tuner.oracle, "is_over", None)
        if role.kind == CHIEF:
            if not (is_over and is_over()):
                serve(tuner, role)
        else:
            try:
                tuner.search(*fit_args, verbose=0, **fit_kwargs)
            except RuntimeError as error:  # an oracle not of make_oracle gives up this way
                if "consecutive failures" not in str(error):
                    raise
        print(summary(tuner))
        failure = getattr(tuner.oracle, "failure", None)
        if role.kind == CHIEF and failure is not None:
            # KerasTuner's protocol does not carry a trial's error: it is in the worker's output.
            raise SearchFailed(
                f"the search stopped: {failure[0].lower()}{failure[1:].rstrip('.')}; the "
                "failed trials' errors are in their workers' output"
            )
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


def serve(tuner, role, poll_seconds=0.1):
    """Serve ``tuner``'s oracle to the workers at ``role.address`` until the search is over and
    every worker that asked for a trial has been told so (KerasTuner's ``start_server``, which
    checks every 20 s once a worker has stopped and never stops its server).

    Raises:
        DistributedSetupError: the chief cannot listen on ``role.address``.
    """
    from concurrent import futures

    import grpc  # only a chief serves
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    oracle = tuner.oracle
    oracle.verbose = 0  # KerasTuner's display; the chief prints one line per trial instead
    tuner.save()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(role.address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise DistributedSetupError(
            f"the chief cannot listen on {role.address} (is KERASTUNER_ORACLE_PORT in use?)")
    server.start()
    oracle.announce = True
    print(f"chief: serving the search on {role.address}; the workers run the trials", flush=True)
    try:
        while not (servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
            cli.raise_if_interrupted()
            time.sleep(poll_seconds)
    finally:
        oracle.announce = False
        server.stop(grace=1).wait()


def _last_error(tuner):
    """The last line of the last failed trial's traceback (its error)."""
    messages = [trial.message for trial in tuner.oracle.trials.values()
                if getattr(trial, "message", None)]
    return _error_line(messages[-1] if messages else "")


def _error_line(message):
    """The last line of a trial's traceback: its error."""
    lines = message.strip().splitlines()
    return lines[-1] if lines else "no error recorded"


def _trial_line(trial):
    """``trial <id>: <score> (<hyperparameter values>)``; ``failed`` without a score."""
    score = "failed" if trial.score is None else f"{trial.score:.4g}"
    values = ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in trial.hyperparameters.values.items()
        if not name.startswith("tuner/")
    )
    return f"trial {trial.trial_id}: {score} ({values})"


def _print_each_trial(tuner):
    """One line per finished trial, so a quiet (``verbose=0``) search still shows progress. The
    score is the oracle's (on a worker: the chief's, which alone scores trials); the ids are kept
    in ``tuner.trials_run``."""
    on_trial_end = tuner.on_trial_end
    tuner.trials_run = []

    def on_trial_end_with_progress(trial):
        on_trial_end(trial)
        tuner.trials_run.append(trial.trial_id)
        line = _trial_line(tuner.oracle.get_trial(trial.trial_id))
        if trial.message:  # on a worker, the chief does not receive the error: show it here
            line += f": {_error_line(trial.message)}"
        print(line, flush=True)

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
    return _prepare(CrossValidationTuner(
        oracle,
        hypermodel,
        num_folds=num_folds,
        stratify=stratify,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
    ))
