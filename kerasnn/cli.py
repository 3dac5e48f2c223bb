"""The command line every recipe shares, and the rule that bad input exits 2 with one clear line.

A recipe builds its parser with ``recipe_parser(...)``, adds its own flags, and decorates its
``main(argv=None)`` with ``@recipe_main`` so that user errors (unknown dataset, offline download,
unreadable weights, invalid values) print ``error: ...`` on one line and exit with status 2,
without a traceback and before anything is written to the run directory.
"""

import argparse
import functools
import logging
import os
import sys

TUNERS = ("none", "random", "hyperband", "bayesian", "grid")


class UserError(Exception):
    """Bad input from the person running a recipe: reported in one line, exit status 2."""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block) and exits 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {value}")
    return value


positive_int = _positive_int
positive_float = _positive_float


def recipe_parser(name, description, *, dataset, epochs, batch_size=32, max_trials=5, tuner="random"):
    """The shared recipe flags with this recipe's defaults; add recipe-specific flags to it.

    Args:
        name: recipe name, used for the default output directory ``runs/<name>``.
        description: one paragraph shown by ``--help``.
        dataset, epochs, batch_size, max_trials, tuner: this recipe's defaults.
    """
    parser = _OneLineParser(prog=f"{name}.py", description=description)
    parser.add_argument("--dataset", default=dataset,
                        help=f"embedded dataset or tfds catalogue name (default: {dataset})")
    parser.add_argument("--data-dir", default=os.environ.get("TFDS_DATA_DIR"),
                        help="tfds data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    parser.add_argument("--epochs", type=_positive_int, default=epochs,
                        help=f"training epochs per run (default: {epochs})")
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size,
                        help=f"examples per batch (default: {batch_size})")
    parser.add_argument("--tuner", choices=TUNERS, default=tuner,
                        help=f"KerasTuner search; 'none' trains the default hyperparameters (default: {tuner})")
    parser.add_argument("--max-trials", type=_positive_int, default=max_trials,
                        help=f"tuner trials (default: {max_trials})")
    parser.add_argument("--output-dir", default=os.path.join("runs", name),
                        help=f"run directory (default: runs/{name})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over instead of resuming the run directory")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny data, one epoch, one trial: a seconds-long end-to-end check")
    return parser


def parse_args(parser, argv=None):
    """Parse ``argv``; under ``--smoke`` shrink epochs and trials to one."""
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs = 1
        args.max_trials = 1
    return args


def recipe_main(main):
    """Decorate a recipe's ``main``: user errors exit 2 with one line on stderr, no traceback."""
    from kerasnn import data  # deferred: parsing ``--help`` should not import TensorFlow

    @functools.wraps(main)
    def wrapper(argv=None):
        # tf.function retracing notices are about Keras internals, not the person's run.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            return main(argv)
        except (UserError, data.UnknownDatasetError, data.DatasetUnavailableError) as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
