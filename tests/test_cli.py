"""kerasnn.cli: shared flags, and bad input exiting 2 with one line."""

import pytest

from kerasnn import cli, data


def parser():
    return cli.recipe_parser("demo", "A demo.", dataset="kerasnn_digits", epochs=7, max_trials=3)


def test_defaults_and_smoke_shrinking():
    args = cli.parse_args(parser(), [])
    assert (args.dataset, args.epochs, args.max_trials, args.tuner, args.batch_size) == (
        "kerasnn_digits",
        7,
        3,
        "random",
        32,
    )
    assert args.output_dir.endswith("runs/demo") and not args.overwrite
    smoke = cli.parse_args(parser(), ["--smoke", "--epochs", "50"])
    assert (smoke.epochs, smoke.max_trials) == (1, 1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "argument --epochs: expected a positive integer, received 0"),
        (["--batch-size", "-1"], "argument --batch-size: expected a positive integer, received -1"),
        (
            ["--max-trials", "many"],
            "argument --max-trials: expected a positive integer, received 'many'",
        ),
        (["--tuner", "evolution"], "argument --tuner: invalid choice: 'evolution'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(parser(), argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    "error",
    [
        cli.UserError("bad weights"),
        data.UnknownDatasetError("bad weights"),
        data.DatasetUnavailableError("bad weights"),
    ],
)
def test_recipe_main_turns_user_errors_into_exit_2(error, capsys):
    @cli.recipe_main
    def main(argv=None):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: bad weights\n"


def test_recipe_main_lets_programming_errors_through():
    @cli.recipe_main
    def main(argv=None):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        main([])
