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


def run_directory(args):
    """The run directory of a parsed command line (``--output-dir``, ``--overwrite``).

    It resumes only a run made with the same settings (every flag but ``NOT_SETTINGS``) and
    otherwise exits 2 before writing anything.
    """
    from kerasnn import reporting

    settings = {name: value for name, value in vars(args).items() if name not in NOT_SETTINGS}
    return reporting.RunDirectory(args.output_dir, overwrite=args.overwrite, settings=settings)


def recipe_main(main):
    """Decorate a recipe's ``main``: user errors exit 2 with one line on stderr, no traceback."""

    @functools.wraps(main)
    def wrapper(argv=None):
        from kerasnn import data, reporting  # at call time: the user errors they define

        # tf.function retracing notices are about Keras internals, not the person's run.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        try:
            return main(argv)
        except (
            UserError,
            data.UnknownDatasetError,
            data.DatasetUnavailableError,
            reporting.RunSettingsMismatch,
        ) as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper
