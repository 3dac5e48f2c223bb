"""The command line every recipe shares, and the rule that bad input exits 2 with one clear line.

A recipe builds its parser with ``recipe_parser(...)``, adds its own flags, and decorates its
``main(argv=None)`` with ``@recipe_main`` so that user errors (unknown dataset, offline download,
unreadable weights, invalid values, an unusable ``--output-dir``, a run directory in use or
damaged) print ``error: ...`` on one line and exit with status 2, without a traceback and before
anything is written to the run directory. A search whose every trial failed exits 1, one line
(so does the chief of a distributed search stopped by failed trials). A worker of a distributed
search ends with one line and exit status 0 once the chief has no trial left for it.

Ctrl-C (SIGINT) or SIGTERM stops the run within seconds: ``interrupted; run the same command to
resume`` on one line, exit status 130; what the run saved is intact (files are replaced
atomically) and the same command resumes it. An interruption that a library swallows is raised
again at the next batch, epoch or trial (``raise_if_interrupted``).
"""

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
import tempfile
import threading

TUNERS = ("none", "random", "hyperband", "bayesian", "grid")


class UserError(Exception):
    """Bad input from the person running a recipe: reported in one line, exit status 2."""


class WorkerFinished(Exception):
    """A worker of a distributed search has no trial left: its message is printed (one line)
    and the recipe returns ``None`` (exit status 0); the chief writes the results."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exits 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _bounded(convert, noun, is_valid):
    """An argparse type: ``convert`` the text, then require ``is_valid``; one-line errors."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, received {text!r}") from None
        if not is_valid(value):
            raise argparse.ArgumentTypeError(f"expected {noun}, received {value}")
        return value

    return parse


positive_int = _bounded(int, "a positive integer", lambda value: value > 0)
non_negative_int = _bounded(int, "a non-negative integer", lambda value: value >= 0)
positive_float = _bounded(float, "a positive number", lambda value: value > 0)


def recipe_parser(
    name, description, *, dataset, epochs, batch_size=32, max_trials=5, tuner="random"
):
    """The shared recipe flags with this recipe's defaults; add recipe-specific flags to it.

    Args:
        name: recipe name, used for the default output directory ``runs/<name>``.
        description: shown by ``--help``; a recipe passes its module docstring, of which the
            ``Description:`` section is kept.
        dataset, epochs, batch_size, max_trials, tuner: this recipe's defaults.
    """
    if "Description:" in description:
        description = description.split("Description:")[1].split("How to run:")[0].strip()
    parser = _OneLineParser(prog=f"{name}.py", description=description)
    parser.add_argument(
        "--dataset",
        default=dataset,
        help=f"embedded dataset or tfds catalogue name (default: {dataset})",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("TFDS_DATA_DIR"),
        help="tfds data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs,
        help=f"training epochs per run (default: {epochs})",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size,
        help=f"examples per batch (default: {batch_size})",
    )
    parser.add_argument(
        "--tuner",
        choices=TUNERS,
        default=tuner,
        help=f"KerasTuner search; 'none' trains the default hyperparameters (default: {tuner})",
    )
    parser.add_argument(
        "--max-trials",
        type=positive_int,
        default=max_trials,
        help=f"tuner trials (default: {max_trials})",
    )
    parser.add_argument(
        "--output-dir",
        default=os.path.join("runs", name),
        help=f"run directory (default: runs/{name})",
    )
    parser.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multi-worker"),
        default="none",
        help="tf.distribute strategy: 'mirrored' splits each --batch-size batch (the global "
        "batch) over this machine's GPUs, 'multi-worker' over the hosts of TF_CONFIG "
        "(TensorFlow backend; default: none)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--overwrite", action="store_true", help="start over instead of resuming the run directory"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny data, one epoch, one trial: a seconds-long end-to-end check",
    )
    return parser


def parse_args(parser, argv=None):
    """Parse ``argv``; under ``--smoke`` shrink epochs and trials to one."""
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs = 1
        args.max_trials = 1
    return args


# Flags that do not change a run's results: a rerun may change them and still resume. (Not
# --max-trials: a longer search can pick other hyperparameters than the finished phases used.)
NOT_SETTINGS = ("output_dir", "overwrite", "data_dir")


def check_paths(args):
    """Exit 2 (``UserError``) when ``--output-dir`` or ``--data-dir`` cannot be a directory this
    process writes (a regular file on the way, a read-only or virtual file system), before
    anything is read or written. Probes by creating and removing an empty directory."""
    _check_writable_directory("--output-dir", args.output_dir)
    if getattr(args, "data_dir", None):
        _check_writable_directory("--data-dir", args.data_dir)


def _check_writable_directory(flag, path):
    path = os.path.abspath(path)
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is" if existing == path else f"is under {existing}, which is"
        raise UserError(f"{flag} {path} {what} not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kerasnn-probe-", dir=existing))
    except OSError as error:
        raise UserError(
            f"{flag} {path} cannot be written ({error.strerror or error} in {existing})"
        ) from None


def run_settings(args):
    """The settings of a run: every flag but ``NOT_SETTINGS``."""
    return {name: value for name, value in vars(args).items() if name not in NOT_SETTINGS}


def run_directory(args, path=None):
    """The run directory of a parsed command line (``--output-dir``, ``--overwrite``), or
    ``path`` with the same settings and flags.

    It resumes only a run made with the same settings (``run_settings``) and otherwise exits 2
    before writing anything.
    """
    from kerasnn import reporting

    return reporting.RunDirectory(path or args.output_dir, overwrite=args.overwrite,
                                  settings=run_settings(args))


INTERRUPTED_MESSAGE = "interrupted; run the same command to resume"

_interrupts = []  # the signals received by the running recipe (recipe_main)


def raise_if_interrupted():
    """Raise ``KeyboardInterrupt`` again if the running recipe was interrupted: a library may
    swallow the first one (``Exception ignored in ...``); checkpoints call this."""
    if _interrupts:
        raise KeyboardInterrupt


def _on_signal(signum, frame):
    _interrupts.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts_raised():
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` (and are remembered) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = {number: signal.signal(number, _on_signal)
                for number in (signal.SIGINT, signal.SIGTERM)}
    _interrupts.clear()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def recipe_main(main):
    """Decorate a recipe's ``main``: user errors exit 2 with one line on stderr, no traceback;
    Ctrl-C or SIGTERM exits 130 with one line."""

    @functools.wraps(main)
    def wrapper(argv=None):
        from kerasnn import data, reporting, tuning  # at call time: the errors they define

        # tf.function retracing notices are about Keras internals, not the person's run.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            with _interrupts_raised():
                try:
                    result = main(argv)
                except WorkerFinished as finished:
                    print(finished, flush=True)
                    result = None
                raise_if_interrupted()
                return result
        except KeyboardInterrupt:
            print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
            raise SystemExit(130) from None
        except (
            UserError,
            data.UnknownDatasetError,
            data.DatasetUnavailableError,
            reporting.RunSettingsMismatch,
            reporting.RunDirectoryBusy,
            reporting.RunDirectoryDamaged,
            tuning.DistributedSetupError,
        ) as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        except tuning.SearchFailed as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        except Exception as error:
            if _is_data_loss(error):  # a dataset file damaged after the checks, while training
                print(f"error: a dataset file is damaged ({str(error).splitlines()[0]}); delete "
                      "the dataset's directory under --data-dir and run again", file=sys.stderr)
                raise SystemExit(2) from None
            raise

    return wrapper


def _is_data_loss(error):
    tensorflow = sys.modules.get("tensorflow")
    return tensorflow is not None and isinstance(error, tensorflow.errors.DataLossError)
