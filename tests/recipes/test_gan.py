"""The GAN recipe's smoke run: the non-saturating loss's larger initial gradient, scored samples."""

import os

from classification_recipes import load_recipe

gan = load_recipe("gan")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = gan.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    test = metrics["test"]
    # D rejects the first samples (D(G(z)) < 1/2), so -log D(G(z)) has the larger gradient.
    assert metrics["initial_d_of_fake"] < 0.5
    assert (test["initial_generator_grad_norm_non_saturating"]
            > test["initial_generator_grad_norm_saturating"])
    assert [row["variant"] for row in metrics["variants"]] == [
        "non_saturating_k1", "non_saturating_k2", "minimax_k1"]
    assert 1 <= test["classes_covered"] <= 10 and test["classifier_confidence"] >= 0.1
    assert os.path.exists(os.path.join(out, "plots", "samples.png"))
