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

Running the same command again therefore resumes: finished phases are loaded, an interrupted one
continues from its last finished epoch (its history keeps the epochs before the interruption;
``EarlyStopping``'s best weights from before it are not kept), and the tuner continues its trials.
"""

import csv
import json
import math
import os
import shutil
import time
import warnings

import keras
import numpy as np

from kerasnn import plots


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds``, the wall time of the epoch (training and validation), to its logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._started


class RunSettingsMismatch(ValueError):
    """The run directory holds a run made with other settings: resuming it would mix them."""


class RunDirectory:
    """A recipe's output directory.

    Args:
        path: the directory; created if missing.
        overwrite: delete what an earlier run left there first.
        settings: a JSON-able dict of what determines the results (dataset, epochs, seed, ...).
            A directory that holds a run with other settings raises ``RunSettingsMismatch``
            before anything is written, rather than resuming it into a mixed result.
    """

    def __init__(self, path, *, overwrite=False, settings=None):
        self.path = os.path.abspath(path)
        if overwrite and os.path.isdir(self.path):
            shutil.rmtree(self.path)
        settings_path = self.file("settings.json")
        if settings is not None:
            settings = json.loads(json.dumps(settings))  # tuples become lists, as when read back
            if os.path.exists(settings_path):
                with open(settings_path) as file:
                    stored = json.load(file)
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
            with open(settings_path, "w") as file:
                json.dump(settings, file, indent=2)

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

    def callbacks(self, phase):
        """What every training run uses: an epoch log that survives interruption, resume after
        interruption, stop on NaN, TensorBoard, and the seconds of each epoch (``seconds``)."""
        return [
            EpochTimer(),  # first: the loggers after it see ``logs["seconds"]``
            # Before BackupAndRestore: an epoch is logged before it is backed up, so an
            # interruption between the two makes the rerun log it again (``_read_epoch_log``
            # keeps the last row), never lose it.
            keras.callbacks.CSVLogger(self._epoch_log(phase), append=True),
            keras.callbacks.BackupAndRestore(self.file("backup", _file_name(phase))),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(self.file("logs", _file_name(phase))),
        ]

    def _epoch_log(self, phase):
        return self.file("backup", f"{_file_name(phase)}.epochs.csv")

    def fit(self, phase, model, x, *, epochs, callbacks=(), verbose=2, **fit_kwargs):
        """``model.fit`` that a rerun skips once ``phase`` has finished, or resumes if interrupted.

        Returns the history dict (metric name -> list of per-epoch values), including the epochs
        trained before an interruption. A phase whose loss became NaN (``TerminateOnNaN``) is
        not recorded as finished: a rerun trains it again.
        """
        weights_path = self.file("phases", f"{_file_name(phase)}.weights.h5")
        history_path = self.file("phases", f"{_file_name(phase)}.history.json")
        is_dataset = hasattr(x, "element_spec")
        if os.path.exists(weights_path) and os.path.exists(history_path):
            if not model.built:
                model.build(x.element_spec[0].shape if is_dataset else (None, *x.shape[1:]))
            with warnings.catch_warnings():
                # The saved optimizer has state, the fresh one none yet: only weights matter here.
                warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(weights_path)
            with open(history_path) as file:
                return json.load(file)
        os.makedirs(self.file("backup"), exist_ok=True)
        if is_dataset:
            fit_kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
        model.fit(
            x,
            epochs=epochs,
            callbacks=self.callbacks(phase) + list(callbacks),
            verbose=verbose,
            **fit_kwargs,
        )
        history = _read_epoch_log(self._epoch_log(phase))
        os.remove(self._epoch_log(phase))
        if any(math.isnan(value) for value in history.get("loss", [])):
            return history
        os.makedirs(self.file("phases"), exist_ok=True)
        model.save_weights(weights_path)
        with open(history_path, "w") as file:
            json.dump(history, file)
        return history

    def write_metrics(self, metrics):
        """Write ``metrics.json`` (NumPy scalars and arrays are converted to plain JSON)."""
        with open(self.file("metrics.json"), "w") as file:
            json.dump(metrics, file, indent=2, default=_to_json, sort_keys=False)
            file.write("\n")

    def read_metrics(self):
        """``metrics.json`` as written (plain JSON types)."""
        with open(self.file("metrics.json")) as file:
            return json.load(file)

    def write_history(self, histories):
        """Write ``history.csv`` from ``{phase: history dict}``: one row per phase and epoch."""
        names = sorted({name for history in histories.values() for name in history})
        with open(self.file("history.csv"), "w", newline="") as file:
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
        model.save(path)
        return path


def _file_name(phase):
    """A phase name as a file name (phases may be named after datasets such as ``a/b``)."""
    return phase.replace("/", "_").replace(os.sep, "_")


def _read_epoch_log(path):
    """``CSVLogger``'s rows as a history dict; a repeated epoch keeps its last row."""
    with open(path, newline="") as file:
        rows = {int(row.pop("epoch")): row for row in csv.DictReader(file)}
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
