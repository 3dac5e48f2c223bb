"""The NTM recipe's smoke run: both models on both tasks, errors by length, the heads drawn."""

import os

from classification_recipes import load_recipe

ntm = load_recipe("ntm")


def test_smoke_run(tmp_path):
    out = str(tmp_path / "run")
    metrics = ntm.main(["--smoke", "--output-dir", out])
    models = {row["model"]: row for row in metrics["models"]}
    # About the same budget: the LSTM baseline within 10% of the NTM's parameters.
    assert abs(models["lstm"]["params"] / models["ntm"]["params"] - 1) < 0.1
    assert len(metrics["copy_bit_errors_by_length"]["ntm"]) == 6  # lengths 1..2 * 3
    # Errors are counted on the answer steps only: a longer copy has more bits to get wrong.
    errors = metrics["copy_bit_errors_by_length"]["lstm"]
    assert errors[-1] > errors[0]
    for name in ("copy_errors_by_length.png", "heads.png"):
        assert os.path.exists(os.path.join(out, "plots", name))
