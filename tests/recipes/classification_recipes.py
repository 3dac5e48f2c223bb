"""Load a recipe script as a module, so its ``main(argv)`` runs in-process."""

import importlib.util
import json
import os

RECIPES_DIR = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "recipes")


def load_recipe(name):
    spec = importlib.util.spec_from_file_location(
        f"recipe_{name}", os.path.join(RECIPES_DIR, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_run(output_dir):
    """metrics.json of a run, after checking the files every run writes."""
    for name in ("metrics.json", "history.csv", "model.keras"):
        assert os.path.exists(os.path.join(output_dir, name)), name
    with open(os.path.join(output_dir, "metrics.json")) as file:
        metrics = json.load(file)
    for key in ("recipe", "dataset", "seed", "wall_seconds", "test", "best_hyperparameters"):
        assert key in metrics, key
    return metrics


def plots_written(output_dir):
    return sorted(os.listdir(os.path.join(output_dir, "plots")))


def assert_exits_2(main, flags, tfds_data_dir, output_dir):
    """``main(--smoke + flags)`` exits with status 2 before writing ``output_dir``."""
    import pytest

    argv = ["--smoke", *flags, "--data-dir", tfds_data_dir, "--output-dir", str(output_dir)]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert not os.path.exists(output_dir)
