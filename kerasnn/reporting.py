"""The run directory a recipe writes, and resumable training into it.

Layout (``RunDirectory(path)``)::

    metrics.json      what the run found: {"recipe", "dataset", "seed", "wall_seconds", "test", ...}
    history.csv       per-epoch metrics of every training phase (column ``phase``)
    plots/*.png       training curves and whatever the recipe shows best as a picture
    model.keras       the final model
    tuner/            the KerasTuner project (resumed on a rerun)
    logs/<phase>/     TensorBoard logs
    settings.json     the settings of the run (a rerun with other settings is refused)
    phases/           finished phases (weights + history): a rerun skips them
    backup/<phase>/   ``BackupAndRestore`` state of an interrupted phase: a rerun continues it

    run.lock          the process writing the directory (its pid): one writer at a time

Running the same command again therefore resumes: finished phases are loaded, an interrupted one
continues from its last finished epoch (its history keeps the epochs before the interruption;
``EarlyStopping``'s best weights from before it are not kept), and the tuner continues its trials.

What survives what: every file is written to a temporary name and renamed into place, so a killed
process leaves the previous version or the new one, never half a file. One process writes a
directory at a time (``run.lock``, a ``flock`` the system releases when its holder dies, however
it dies). Each epoch of a phase draws its data order from its own seed (the run's seed, the
phase name, the epoch: ``data.reseeded`` and ``EpochSeeds``), and so do the model's random layers
(dropout), so a resumed phase sees the batches and masks an uninterrupted one would have seen.
On reading a damaged file, what can be redone safely is redone (a finished phase retrained, an
interrupted phase started over); a damaged ``settings.json`` raises ``RunDirectoryDamaged``
naming the file.
"""

import contextlib
import csv
import errno
import fcntl
import hashlib
import json
import math
import os
import shutil
import time
import warnings

import keras
import numpy as np

from kerasnn import cli, plots


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds``, the wall time of the epoch (training and validation), to its logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._started


class InterruptCheck(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` at the next batch once the run was interrupted, in case the
    first one was swallowed (``cli.raise_if_interrupted``)."""

    def on_train_batch_end(self, batch, logs=None):
        cli.raise_if_interrupted()

    def on_test_batch_end(self, batch, logs=None):
        cli.raise_if_interrupted()

    def on_epoch_end(self, epoch, logs=None):
        cli.raise_if_interrupted()


class RunSettingsMismatch(ValueError):
    """The run directory holds a run made with other settings: resuming it would mix them."""


class RunDirectoryBusy(ValueError):
    """Another live process is writing the run directory."""


class RunDirectoryDamaged(ValueError):
    """A file of the run directory cannot be read and cannot safely be redone."""


LOCK_NAME = "run.lock"

# This process's locks (path -> open lock file): a process may reopen a directory it holds.
_HELD_LOCKS = {}


def derive_seed(seed, *keys):
    """A seed in ``[0, 2**31)`` for ``keys`` (trial id, phase name, ...) of a run of ``seed``: the
    same in every process (unlike ``hash``), different for different keys."""
    digest = hashlib.sha256(repr((int(seed), *map(str, keys))).encode()).digest()
    return int.from_bytes(digest[:4], "little") % 2**31


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path`` (same suffix, so ``.weights.h5``/``.keras`` savers
    accept it); once the block succeeds it replaces ``path`` in one rename, so a process killed
    while writing leaves the old file or the new one, never half of one."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(path, value, **dump_kwargs):
    """Write ``value`` as JSON to ``path`` atomically (``atomic_path``)."""
    with atomic_path(path) as temporary, open(temporary, "w") as file:
        json.dump(value, file, **dump_kwargs)
        file.write("\n")


def _read_json(path):
    with open(path) as file:
        return json.load(file)


def _lock(path):
    """Hold ``path``'s ``run.lock`` for this process, or raise ``RunDirectoryBusy``.

    The lock is an advisory ``flock`` on the file, which the system drops when the holder exits or
    is killed: a lock file left by a dead process is simply taken over. The file holds the
    holder's pid, for the message of the process that is refused.
    """
    if path in _HELD_LOCKS:
        return
    os.makedirs(path, exist_ok=True)
    file = open(os.path.join(path, LOCK_NAME), "a+")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        file.seek(0)
        holder = file.read().strip() or "unknown"
        file.close()
        if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        raise RunDirectoryBusy(
            f"{path} is being written by another run (process {holder}); wait for it to "
            "finish, or choose another --output-dir"
        ) from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")
    file.flush()
    _HELD_LOCKS[path] = file


def _clear(path):
    """Delete what ``path`` holds, except this process's lock file."""
    for name in os.listdir(path):
        if name == LOCK_NAME:
            continue
        entry = os.path.join(path, name)
        if os.path.isdir(entry) and not os.path.islink(entry):
            shutil.rmtree(entry)
        else:
            os.remove(entry)


class RunDirectory:
    """A recipe's output directory.

    Args:
        path: the directory; created if missing.
        overwrite: delete what an earlier run left there first.
        settings: a JSON-able dict of what determines the results (dataset, epochs, seed, ...).
            A directory that holds a run with other settings raises ``RunSettingsMismatch``
            before anything is written, rather than resuming it into a mixed result.

    Raises:
        RunDirectoryBusy: another live process holds the directory (``run.lock``).
        RunDirectoryDamaged: ``settings.json`` is there but unreadable.
    """

    def __init__(self, path, *, overwrite=False, settings=None):
        self.path = os.path.abspath(path)
        _lock(self.path)  # first: --overwrite must not delete another process's run
        if overwrite:
            _clear(self.path)
        self.seed = (settings or {}).get("seed", 0)
        settings_path = self.file("settings.json")
        if settings is not None:
            settings = json.loads(json.dumps(settings))  # tuples become lists, as when read back
            if os.path.exists(settings_path):
                try:
                    stored = _read_json(settings_path)
                    if not isinstance(stored, dict):
                        raise ValueError(f"expected a JSON object, found {type(stored).__name__}")
                except (OSError, ValueError) as error:
                    raise RunDirectoryDamaged(
                        f"{settings_path} is damaged ({_reason(error)}); pass --overwrite to "
                        "start over, or choose another --output-dir"
                    ) from None
                changed = [
                    f"{key}: {stored.get(key)!r} -> {settings.get(key)!r}"
                    for key in sorted(set(stored) | set(settings))
                    if stored.get(key) != settings.get(key)
                ]
                if changed:
                    raise RunSettingsMismatch(
                        f"{self.path} holds a run with other settings ({'; '.join(changed)}); "
                        "pass --overwrite to start over or choose another --output-dir"
                    )
        os.makedirs(self.plots_dir, exist_ok=True)
        if settings is not None:
            write_json(settings_path, settings, indent=2)

    def file(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def plots_dir(self):
        return self.file("plots")

    @property
    def tuner_dir(self):
        return self.file("tuner")

    def plot_path(self, name):
        """Where to save plot ``name`` (``plots/<name>.png``)."""
        return os.path.join(self.plots_dir, f"{name}.png")

    def callbacks(self, phase, dataset=None):
        """What every training run uses: an epoch log that survives interruption, resume after
        interruption, per-epoch seeds (``EpochSeeds``: the order of a ``data.reseeded``
        ``dataset``, the random layers), stop on NaN, TensorBoard, and the seconds of each epoch
        (``seconds``)."""
        return [
            EpochTimer(),  # first: the loggers after it see ``logs["seconds"]``
            # Before BackupAndRestore: an epoch is logged before it is backed up, so an
            # interruption between the two makes the rerun log it again (``_read_epoch_log``
            # keeps the last row), never lose it.
            keras.callbacks.CSVLogger(self._epoch_log(phase), append=True),
            AtomicBackupAndRestore(self._backup_dir(phase)),
            EpochSeeds(derive_seed(self.seed, "phase", phase), dataset),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(self.file("logs", _file_name(phase))),
            InterruptCheck(),
        ]

    def _epoch_log(self, phase):
        return self.file("backup", f"{_file_name(phase)}.epochs.csv")

    def _backup_dir(self, phase):
        return self.file("backup", _file_name(phase))

    def fit(self, phase, model, x, *, epochs, callbacks=(), verbose=2, **fit_kwargs):
        """``model.fit`` that a rerun skips once ``phase`` has finished, or resumes if interrupted.

        Returns the history dict (metric name -> list of per-epoch values), including the epochs
        trained before an interruption. A phase whose loss became NaN (``TerminateOnNaN``) is
        not recorded as finished: a rerun trains it again. A shuffled ``tf.data`` pipeline of
        ``kerasnn.data`` is reshuffled each epoch from (the run's seed, ``phase``, the epoch)
        (``data.reseeded``), so the data order of every epoch is the same whether or not the
        run was interrupted. Damaged saved state (unreadable weights, history or backup) is reported
        in one line and the phase is trained again from its start.
        """
        weights_path = self.file("phases", f"{_file_name(phase)}.weights.h5")
        history_path = self.file("phases", f"{_file_name(phase)}.history.json")
        is_dataset = hasattr(x, "element_spec")
        if os.path.exists(weights_path) and os.path.exists(history_path):
            history = self._load_phase(phase, model, x, weights_path, history_path)
            if history is not None:
                return history
        os.makedirs(self.file("backup"), exist_ok=True)
        self._discard_damaged_backup(phase)
        dataset = None
        if is_dataset:
            fit_kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
            from kerasnn import data  # here: importing reporting must not load tfds

            x = dataset = data.reseeded(x, derive_seed(self.seed, "phase", phase))
        model.fit(
            x,
            epochs=epochs,
            callbacks=self.callbacks(phase, dataset) + list(callbacks),
            verbose=verbose,
            **fit_kwargs,
        )
        history = _read_epoch_log(self._epoch_log(phase))
        if any(math.isnan(value) for value in history.get("loss", [])):
            os.remove(self._epoch_log(phase))
            return history
        os.makedirs(self.file("phases"), exist_ok=True)
        with atomic_path(weights_path) as temporary:
            model.save_weights(temporary)
        write_json(history_path, history)
        os.remove(self._epoch_log(phase))  # last: until the phase is saved, the log is its record
        return history

    def _load_phase(self, phase, model, x, weights_path, history_path):
        """The finished phase's history, its weights loaded into ``model``; ``None`` (after one
        line) when a file is damaged, so the phase is trained again."""
        try:
            history = _read_json(history_path)
            if not (isinstance(history, dict) and all(
                    isinstance(values, list) for values in history.values())):
                raise ValueError("expected {metric: [values per epoch]}")
            _check_h5(weights_path)  # before loading: a partial load would leave mixed weights
        except (OSError, ValueError) as error:
            print(f"phase {phase!r}: saved state damaged ({_reason(error)}); training it again",
                  flush=True)
            for path in (weights_path, history_path):
                if os.path.exists(path):
                    os.remove(path)
            return None
        if not model.built:
            is_dataset = hasattr(x, "element_spec")
            model.build(x.element_spec[0].shape if is_dataset else (None, *x.shape[1:]))
        with warnings.catch_warnings():
            # The saved optimizer has state, the fresh one none yet: only weights matter here.
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(weights_path)
        return history

    def _discard_damaged_backup(self, phase):
        """Start an interrupted phase over (one line) when its saved state cannot be read."""
        backup = self._backup_dir(phase)
        try:
            AtomicBackupAndRestore.check_state(backup)
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"phase {phase!r}: interrupted state damaged ({_reason(error)}); starting the "
                  "phase over", flush=True)
            shutil.rmtree(backup, ignore_errors=True)
            if os.path.exists(self._epoch_log(phase)):
                os.remove(self._epoch_log(phase))

    def write_metrics(self, metrics):
        """Write ``metrics.json`` (NumPy scalars and arrays are converted to plain JSON)."""
        write_json(self.file("metrics.json"), metrics, indent=2, default=_to_json)

    def read_metrics(self):
        """``metrics.json`` as written (plain JSON types)."""
        with open(self.file("metrics.json")) as file:
            return json.load(file)

    def write_history(self, histories):
        """Write ``history.csv`` from ``{phase: history dict}``: one row per phase and epoch."""
        names = sorted({name for history in histories.values() for name in history})
        with atomic_path(self.file("history.csv")) as temporary, open(
            temporary, "w", newline=""
        ) as file:
            writer = csv.writer(file)
            writer.writerow(["phase", "epoch", *names])
            for phase, history in histories.items():
                num_epochs = max((len(values) for values in history.values()), default=0)
                for epoch in range(num_epochs):
                    row = [
                        history.get(name, [])[epoch] if epoch < len(history.get(name, [])) else ""
                        for name in names
                    ]
                    writer.writerow([phase, epoch + 1, *row])

    def plot_history(self, histories, metrics=("loss", "accuracy"), name="training_curves"):
        """Training (solid) and validation (dashed) curves of every phase, one panel per metric."""
        metrics = [m for m in metrics if any(m in h for h in histories.values())]
        figure, axes = plots.pyplot().subplots(
            1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False
        )
        for axis, metric in zip(axes[0], metrics):
            for index, (phase, history) in enumerate(histories.items()):
                colour = f"C{index}"
                if metric in history:
                    axis.plot(
                        _epochs(history[metric]), history[metric], color=colour, label=f"{phase}"
                    )
                if f"val_{metric}" in history:
                    axis.plot(
                        _epochs(history[f"val_{metric}"]),
                        history[f"val_{metric}"],
                        color=colour,
                        linestyle="--",
                        label=f"{phase} (validation)",
                    )
            axis.set_xlabel("epoch")
            axis.set_ylabel(metric)
            axis.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=8)
        return plots.save_figure(figure, self.plot_path(name))

    def save_model(self, model):
        path = self.file("model.keras")
        with atomic_path(path) as temporary:
            model.save(temporary)
        return path


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose state survives a kill at any instant.

    Keras writes ``latest.weights.h5`` and then ``training_metadata.json`` in place: a kill while
    writing leaves half a file, and a kill between the two pairs new weights with the old epoch.
    Here the weights of each save go to a new file (``epoch-<e>.weights.h5``, written atomically)
    and the metadata, replaced atomically after it, names that file.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{self._current_epoch}-batch-{self._last_batch_seen}.weights.h5"
        with atomic_path(os.path.join(self.backup_dir, name)) as temporary:
            self.model.save_weights(temporary)
        previous = self._state()
        write_json(self._training_metadata_path,
                   {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name})
        if previous is not None and previous["weights"] != name:
            old = os.path.join(self.backup_dir, previous["weights"])
            if os.path.exists(old):
                os.remove(old)

    def _state(self):
        return self.read_state(self.backup_dir)

    @staticmethod
    def read_state(backup_dir):
        """The saved ``{"epoch", "batch", "weights"}`` of ``backup_dir``, ``None`` if none."""
        path = os.path.join(backup_dir, "training_metadata.json")
        if not os.path.exists(path):
            return None
        state = _read_json(path)
        return {"epoch": int(state["epoch"]), "batch": int(state["batch"]),
                "weights": str(state["weights"])}

    @classmethod
    def check_state(cls, backup_dir):
        """Raise ``OSError``/``ValueError``/``KeyError`` if ``backup_dir``'s state is unreadable."""
        state = cls.read_state(backup_dir)
        if state is not None:
            _check_h5(os.path.join(backup_dir, state["weights"]))

    def _load_model(self):
        state = self._state()
        if state is None:
            return
        if not self.model.built:
            raise ValueError("BackupAndRestore needs a built model; build it before fit().")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        self.model._initial_epoch = state["epoch"]


class EpochSeeds(keras.callbacks.Callback):
    """Seed each epoch from its own seed (``seed``: the run's seed mixed with the phase or trial;
    the epoch): the order of a ``data.reseeded`` training pipeline, and the random layers of the
    model (dropout, noise, in-model augmentation), whose generator state Keras does not save.
    The batches and masks of epoch ``e`` then do not depend on how many epochs this process
    trained before: a resumed phase sees those of an uninterrupted one."""

    def __init__(self, seed, dataset=None):
        super().__init__()
        self.seed = seed
        self.dataset = dataset

    def on_epoch_begin(self, epoch, logs=None):
        if self.dataset is not None:
            from kerasnn import data  # already loaded: the dataset came from it

            data.set_epoch(self.dataset, epoch)
        layer_seed = derive_seed(self.seed, "layers", epoch)
        for index, variable in enumerate(self.model.non_trainable_variables):
            if variable.path.endswith("seed_generator_state"):
                variable.assign(np.array([layer_seed, index], dtype=variable.dtype))


def _check_h5(path):
    """Raise ``OSError`` unless ``path`` is a readable HDF5 file (every dataset read back)."""
    import h5py  # Keras' own weights format; imported where needed

    def read(name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as file:
            file.visititems(read)
    except OSError:
        raise
    except Exception as error:  # h5py reports some corruptions as KeyError/RuntimeError
        raise OSError(f"{path}: {error}") from error


def _reason(error):
    """An exception as one short clause for a one-line message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def _file_name(phase):
    """A phase name as a file name (phases may be named after datasets such as ``a/b``)."""
    return phase.replace("/", "_").replace(os.sep, "_")


def _read_epoch_log(path):
    """``CSVLogger``'s rows as a history dict; a repeated epoch keeps its last row, a row cut
    short by a kill is skipped."""
    rows = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            try:
                epoch = int(row.pop("epoch"))
                if None in row or any(value in (None, "") for value in row.values()):
                    continue
                for value in row.values():
                    if value != "NA":
                        float(value)
            except (TypeError, ValueError):
                continue
            rows[epoch] = row
    history = {}
    for name in next(iter(rows.values()), {}):
        values = [rows[epoch][name] for epoch in sorted(rows)]
        if any(value != "NA" for value in values):  # CSVLogger writes NA for absent values
            history[name] = [float("nan") if value == "NA" else float(value) for value in values]
    return history


def _epochs(values):
    return np.arange(1, len(values) + 1)


def _to_json(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def format_table(rows, columns=None):
    """A plain-text table of a list of dicts (floats with 4 significant digits)."""
    if not rows:
        return "(empty)"
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))

    def cell(value):
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return "" if value is None else str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(str(column)), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    lines = ["  ".join(str(column).ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(
        "  ".join(value.ljust(width) for value, width in zip(line, widths)) for line in cells
    )
    return "\n".join(lines)
