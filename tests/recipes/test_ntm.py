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
    # Untrained or not, a copied sequence of length L has at most 6 L wrong bits.
    assert all(e <= 6 * length for length, e in
               enumerate(metrics["copy_bit_errors_by_length"]["ntm"], start=1))
    for name in ("copy_errors_by_length.png", "heads.png"):
        assert os.path.exists(os.path.join(out, "plots", name))
