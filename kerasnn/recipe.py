"""The recipe runner: what every recipe does around its topic, in one place.

A recipe shows only its topic; ``Run`` owns the rest, in the order a run needs it::

    flags -> seed -> data -> run directory -> tuner search -> named training phases -> metrics.json

Example (the skeleton of ``recipes/linear_classifier.py``)::

    @cli.recipe_main
    def main(argv=None):
        run = recipe.Run("linear_classifier", __doc__, argv, dataset="kerasnn_digits", epochs=30)
        train, validation, test = run.splits()       # reads only: bad input exits 2 here
        run.open()                                   # from here on the run directory is written
        hp = run.search(build_model, train, validation_data=validation)
        model = build_model(hp)
        run.fit("train", model, train, validation_data=validation)
        loss, accuracy = model.evaluate(test, verbose=0)
        return run.finish(test={"accuracy": accuracy}, model=model)

What the runner guarantees:

- the shared flags of ``kerasnn.cli`` with the recipe's defaults, plus its own (``flags=``);
  ``--smoke`` shrinks epochs and trials to one and data to a few batches (``splits``, ``arrays``);
- one seed for Python, NumPy and the backend (``keras.utils.set_random_seed``) and a non-zero
  seed for the tuner's oracle (KerasTuner reads ``seed=0`` as "pick one at random");
- the run directory is opened (settings check, resume) only by ``open()``, after the recipe has
  read and checked its inputs, so bad input exits 2 before anything is written: an unusable
  ``--output-dir``/``--data-dir`` (checked at once), an image size the memory cannot hold
  (``check_image_size``, automatic for an ``--image-size`` flag); a ``--batch-size`` larger than
  the training split is clipped to it, with one line;
- one process writes a run directory at a time (a second one exits 2 naming the holder's pid);
  files are replaced atomically; each trial and phase draws its data order and initial weights
  from its own seed, so a run resumed after Ctrl-C, SIGTERM or ``kill -9`` gives the figures of
  an uninterrupted one;
- every phase trained with ``fit`` resumes after an interruption and records its per-epoch
  history and seconds per epoch (``epoch_seconds`` in ``metrics.json``);
- distributed searches (KerasTuner's ``KERASTUNER_TUNER_ID``, ``KERASTUNER_ORACLE_IP`` and
  ``KERASTUNER_ORACLE_PORT``; ``tuning.distributed_role``): the chief (``KERASTUNER_TUNER_ID=
  chief``) owns ``--output-dir`` and runs no trial; a worker shares the chief's ``tuner/``, keeps
  its own files under ``workers/<id>/``, refuses ``--overwrite`` and settings other than the
  chief's, and ends in ``search`` with one line (exit 0) once the chief has no trial left;
- ``--distribute mirrored`` or ``multi-worker`` (``kerasnn.distribute``): every model is built
  in the strategy's scope (tuner trials included), ``--batch-size`` is the global batch, and
  under ``multi-worker`` only the chief host writes ``--output-dir`` (the others under
  ``workers/<task index>/``);
- ``finish`` writes ``metrics.json`` with ``recipe``, ``dataset``, ``seed``, ``wall_seconds``,
  ``test``, ``best_hyperparameters``, ``trials``, ``epoch_seconds`` and the recipe's extras, plus
  ``history.csv``, the training curves and ``model.keras``.
"""

import functools
import json
import math
import os
import time

import keras

from kerasnn import cli, data, distribute, reporting, tuning


def compile_classifier(model, learning_rate=1e-3, *, optimizer="adam", loss=None,
                       from_logits=False, metrics=("accuracy",)):
    """Compile ``model`` for integer class labels: Adam (or ``optimizer``) at ``learning_rate``,
    sparse categorical cross-entropy (or ``loss``), accuracy.

    Args:
        optimizer: ``"adam"``, ``"sgd"`` or a ``keras.optimizers.Optimizer`` (then
            ``learning_rate`` is ignored).
        loss: a loss other than the cross-entropy (e.g. ``kerasnn.losses.MulticlassHinge()``).
        from_logits: the model outputs scores, not posteriors.
    """
    if isinstance(optimizer, str):
        optimizer = keras.optimizers.get({"class_name": optimizer,
                                          "config": {"learning_rate": learning_rate}})
    if loss is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def oracle_seed(seed):
    """The tuner oracle's seed for a run seed: KerasTuner treats 0 as "random", so shift by one."""
    return seed + 1


class Run:
    """One run of a recipe.

    Args:
        name: the recipe's name (``runs/<name>`` is its default output directory).
        doc: the recipe's module docstring (``--help`` shows its Description).
        argv: the command line (``None``: ``sys.argv[1:]``).
        dataset, epochs, batch_size, max_trials, tuner: the recipe's defaults of the shared flags.
        flags: ``flags(parser)`` adds the recipe's own flags.
        smoke: ``smoke(args)`` shrinks recipe-specific settings under ``--smoke``.
        smoke_examples: examples per split that ``splits``/``arrays`` keep under ``--smoke``.
        tfds_dataset: ``False`` for a recipe that generates its data itself (``--dataset`` then
            names one of its tasks): no tfds dataset is read or checked.

    Attributes:
        args: the parsed flags.
        histories: ``{phase: history dict}`` of every phase trained with ``fit``.
        hp: the best hyperparameters (after ``search``).
    """

    def __init__(self, name, doc, argv=None, *, dataset, epochs, batch_size=32, max_trials=5,
                 tuner="random", flags=None, smoke=None, smoke_examples=64, tfds_dataset=True):
        parser = cli.recipe_parser(name, doc, dataset=dataset, epochs=epochs,
                                   batch_size=batch_size, max_trials=max_trials, tuner=tuner)
        if flags is not None:
            flags(parser)
        self.args = cli.parse_args(parser, argv)
        if self.args.smoke and smoke is not None:
            smoke(self.args)
        cli.check_paths(self.args)
        self.role = self._distributed_role()
        try:
            self.strategy = distribute.make_strategy(self.args.distribute)
        except ValueError as error:
            raise cli.UserError(str(error)) from None
        distribute.activate(self.strategy)  # every model from here on is built in its scope
        self._inputs_checked = False
        self.name = name
        self.smoke_examples = smoke_examples
        self.tfds_dataset = tfds_dataset
        self.started = time.time()
        self.histories = {}
        self.tuner = None
        self.hp = None
        self._directory = None
        keras.utils.set_random_seed(self.args.seed)

    def _distributed_role(self):
        """This process's part in a distributed search; exit 2 on a setting that cannot work."""
        try:
            role = tuning.distributed_role()
        except tuning.DistributedSetupError as error:
            raise cli.UserError(str(error)) from None
        if role.kind != "single" and self.args.tuner == "none":
            raise cli.UserError(f"KERASTUNER_TUNER_ID={role.tuner_id} asks for a distributed "
                                "search, but --tuner is none")
        if role.kind == "worker" and self.args.overwrite:
            raise cli.UserError(f"--overwrite on worker {role.tuner_id} would delete the search "
                                "the chief serves; pass it to the chief only")
        return role

    # -- data -------------------------------------------------------------------------------

    @functools.cached_property
    def spec(self):
        """``data.describe`` of ``--dataset`` (shape, classes, split sizes)."""
        return data.describe(self.args.dataset, self.args.data_dir)

    def split_names(self, names=("train", "validation", "test")):
        """tfds split strings of ``--dataset``'s standard splits (``data.standard_splits``), the
        first few examples of each under ``--smoke``: for recipes that load the data their own
        way (``kerasnn.data.detection.load``)."""
        standard = data.standard_splits(self.args.dataset, self.args.data_dir)
        if not self.args.smoke:
            return [standard[name] for name in names]
        return [data.first_examples(self.args.dataset, standard[name], self.smoke_examples,
                                    self.args.data_dir) for name in names]

    def training_examples(self):
        """Examples in the training split this run uses (``--smoke`` limit included)."""
        split = self.split_names(["train"])[0]
        builder = data.get_builder(self.args.dataset, self.args.data_dir)
        return builder.info.splits[split].num_examples

    def check_inputs(self):
        """The checks of flag values against the data, before anything is written (``splits``,
        ``arrays`` and ``open`` call it): ``--batch-size`` is clipped to the training split (one
        line), an ``--image-size`` flag is checked with ``check_image_size``."""
        if self._inputs_checked or not self.tfds_dataset:
            return
        self._inputs_checked = True
        examples = self.training_examples()
        if 0 < examples < self.args.batch_size:
            print(f"note: --batch-size {self.args.batch_size} is larger than the training split "
                  f"({examples} examples); using {examples}", flush=True)
            self.args.batch_size = examples
        if isinstance(getattr(self.args, "image_size", None), int):
            self.check_image_size(self.args.image_size)

    def check_image_size(self, size, *, minimum=None, channels=None, flag="--image-size",
                         reason="the network"):
        """Exit 2 (``cli.UserError``, one line naming the limit) unless images of ``size`` x
        ``size`` can be used: at least ``minimum`` (what ``reason`` needs, e.g. a backbone's
        smallest input), and one ``--batch-size`` batch of them as float32 fits in the memory
        available now (a lower bound of what training needs)."""
        if minimum is not None and size < minimum:
            raise cli.UserError(f"{flag} {size} is smaller than {reason} takes (at least "
                                f"{minimum})")
        if channels is None:
            shape = self.spec.input_shape
            channels = shape[-1] if len(shape) == 3 else 3
        needed = self.args.batch_size * size * size * channels * 4
        available = available_memory()
        if available is not None and needed > available:
            largest = math.isqrt(available // (self.args.batch_size * channels * 4))
            raise cli.UserError(
                f"{flag} {size}: one batch of {self.args.batch_size} float32 images of "
                f"{size}x{size}x{channels} takes {_gib(needed)}, more than the {_gib(available)} "
                f"of memory available (at most {flag} {largest} at --batch-size "
                f"{self.args.batch_size})")

    def splits(self, names=("train", "validation", "test"), **load_kwargs):
        """Batched ``tf.data`` pipelines of ``--dataset``'s standard splits (``data.load``; the
        training split is shuffled), a few examples each under ``--smoke``."""
        self.check_inputs()
        load_kwargs.setdefault("batch_size", self.args.batch_size)
        return [data.load(self.args.dataset, split, data_dir=self.args.data_dir,
                          seed=self.args.seed, **load_kwargs)
                for split in self.split_names(names)]

    def arrays(self, names=("train", "validation", "test"), **load_kwargs):
        """``[(x, y), ...]`` NumPy arrays of the standard splits (``data.load_arrays``)."""
        self.check_inputs()
        return [data.load_arrays(self.args.dataset, split, data_dir=self.args.data_dir,
                                 **load_kwargs)
                for split in self.split_names(names)]

    def localization_arrays(self, names=("train", "validation", "test"), **load_kwargs):
        """Each split as NumPy arrays ``{"image", "label", "box", "mask"}``
        (``data.localization_arrays`` of the feature dicts, in order, a few examples each under
        ``--smoke``); a dataset without boxes exits 2."""
        load_kwargs.setdefault("batch_size", 256)
        splits = self.splits(names, supervised=False, shuffle=False, **load_kwargs)
        try:
            return [data.localization_arrays(data.feature_arrays(split)) for split in splits]
        except ValueError as error:
            raise cli.UserError(f"--dataset {self.args.dataset}: {error}") from None

    # -- the run directory ------------------------------------------------------------------

    def open(self):
        """Open the run directory: refuse one holding other settings (exit 2), resume one with
        the same settings, start over under ``--overwrite``. Call it once the inputs are checked:
        nothing is written before."""
        if self._directory is None:
            self.check_inputs()
            if self.role.kind == "worker":
                self._check_chief_settings()
                self._directory = cli.run_directory(
                    self.args, os.path.join(self.args.output_dir, "workers", self.role.tuner_id))
            elif not distribute.is_writer(self.strategy):  # a multi-worker host but the chief
                self._directory = cli.run_directory(self.args, os.path.join(
                    self.args.output_dir, "workers", str(distribute.task_id(self.strategy))))
            else:
                self._directory = cli.run_directory(self.args)
        return self._directory

    def _check_chief_settings(self):
        """A worker runs the chief's search: exit 2 when the chief's run has other settings."""
        path = os.path.join(self.args.output_dir, "settings.json")
        try:
            with open(path) as file:
                chief = json.load(file)
        except (OSError, ValueError):
            return  # the chief has not started yet (or its directory is not shared)
        mine = json.loads(json.dumps(cli.run_settings(self.args)))
        changed = [f"{key}: {chief.get(key)!r} (chief) -> {mine.get(key)!r}"
                   for key in sorted(set(chief) | set(mine)) if chief.get(key) != mine.get(key)]
        if changed:
            raise cli.UserError(f"worker {self.role.tuner_id} has other settings than the "
                                f"chief's run in {self.args.output_dir} ({'; '.join(changed)})")

    @property
    def directory(self):
        """The ``reporting.RunDirectory`` (opened on first use)."""
        return self.open()

    def plot_path(self, name):
        """Where to save the figure ``name`` (``plots/<name>.png``)."""
        return self.directory.plot_path(name)

    # -- search and training ----------------------------------------------------------------

    def tuner_for(self, hypermodel, *, objective="val_accuracy", max_epochs=None, num_folds=None,
                  project_name=None):
        """The KerasTuner tuner of ``--tuner`` (``None`` for ``none``) in the run directory;
        ``num_folds`` gives the k-fold ``tuning.CrossValidationTuner``."""
        # A worker's tuner shares the chief's project (trial checkpoints, Hyperband's warm starts).
        directory = (os.path.join(os.path.abspath(self.args.output_dir), "tuner")
                     if self.role.kind == "worker" else self.directory.tuner_dir)
        settings = dict(objective=objective, max_trials=self.args.max_trials,
                        max_epochs=max_epochs or self.args.epochs,
                        directory=directory, seed=oracle_seed(self.args.seed))
        if num_folds is not None:
            return tuning.make_cross_validation_tuner(
                self.args.tuner, hypermodel, num_folds=num_folds,
                project_name=project_name or "cross_validation", **settings)
        return tuning.make_tuner(self.args.tuner, hypermodel, project_name=project_name or "search",
                                 **settings)

    def search(self, hypermodel, *fit_args, objective="val_accuracy", epochs=None, num_folds=None,
               **fit_kwargs):
        """Search ``hypermodel``'s hyperparameters with ``--tuner`` (one line per trial, then the
        table) and return the best (the defaults under ``--tuner none``); the Keras session is then
        fresh and seeded, ready for the final model. On a worker of a distributed search it ends
        the recipe instead (``cli.WorkerFinished``: one line, exit 0).

        Args:
            fit_args, fit_kwargs: what each trial's ``fit`` receives (``epochs`` defaults to
                ``--epochs``).
            objective: the metric the search maximises or minimises (``val_loss`` is minimised).
            num_folds: score each trial by k-fold cross-validation on array inputs instead.
        """
        epochs = epochs or self.args.epochs
        self.tuner = self.tuner_for(hypermodel, objective=objective, max_epochs=epochs,
                                    num_folds=num_folds)
        self.hp = tuning.search(self.tuner, hypermodel, *fit_args, epochs=epochs,
                                seed=self.args.seed, **fit_kwargs)
        if self.role.kind == "worker":
            ran = ", ".join(self.tuner.trials_run) or "none"
            raise cli.WorkerFinished(
                f"worker {self.role.tuner_id}: the search is over (this worker ran trials: "
                f"{ran}); the chief writes the results to {self.args.output_dir}")
        return self.hp

    def fit(self, phase, model, x, *, epochs=None, **fit_kwargs):
        """Train ``model`` as the named ``phase`` (``RunDirectory.fit``: a finished phase is
        loaded, an interrupted one continues); returns and records its history."""
        history = self.directory.fit(phase, model, x, epochs=epochs or self.args.epochs,
                                     **fit_kwargs)
        self.histories[phase] = history
        return history

    # -- report -----------------------------------------------------------------------------

    def epoch_seconds(self):
        """Median seconds per epoch of every phase (``None`` for a phase of no timed epoch)."""
        medians = {}
        for phase, history in self.histories.items():
            seconds = sorted(s for s in history.get("seconds", []) if not math.isnan(s))
            medians[phase] = seconds[len(seconds) // 2] if seconds else None
        return medians

    def finish(self, *, test, model=None, curves=("loss", "accuracy"), **extra):
        """Write the run's report and return ``metrics.json``'s content.

        Args:
            test: the headline figures on held-out data (the keys the recipe's issue names).
            model: the final model, saved as ``model.keras``.
            curves: metrics drawn in ``plots/training_curves.png`` (when phases were trained).
            extra: anything else worth keeping (tables, per-variant figures, settings).
        """
        directory = self.directory
        if self.histories:
            directory.write_history(self.histories)
            directory.plot_history(self.histories, metrics=curves)
        if model is not None:
            directory.save_model(model)
        metrics = {
            "recipe": self.name,
            "dataset": self.args.dataset,
            "seed": self.args.seed,
            "wall_seconds": time.time() - self.started,
            "test": test,
            **extra,
            "epoch_seconds": self.epoch_seconds(),
            "best_hyperparameters": self.hp.values if self.hp is not None else {},
            "trials": tuning.trials(self.tuner),
        }
        # A failed trial is reported as such, never silently dropped from the search's record.
        metrics["failed_trials"] = [row["trial"] for row in metrics["trials"]
                                    if row["status"] != "COMPLETED"]
        directory.write_metrics(metrics)
        print("test: " + ", ".join(f"{key} {_short(value)}" for key, value in test.items()))
        return directory.read_metrics()


def available_memory():
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), else ``None``."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(size):
    return f"{size / 2**30:.3g} GiB"


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(rows, columns=None):
    """Print ``rows`` (a list of dicts) as a plain-text table and return them."""
    print(reporting.format_table(rows, columns))
    return rows
