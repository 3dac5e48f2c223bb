"""The anomaly-detection recipe's smoke run: every score is judged on the same labelled mix."""

import os

import pytest
from classification_recipes import load_recipe

anomaly_detection = load_recipe("anomaly_detection")

SCORES = ("gan_residual", "gan_latent_likelihood", "bigan_prior", "bigan_discriminator",
          "bigan_reconstruction", "autoencoder")


def test_smoke_run(tmp_path, tfds_data_dir):
    out = str(tmp_path / "run")
    metrics = anomaly_detection.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", out])
    assert sorted(metrics["test"]) == sorted(f"auc_{name}" for name in SCORES)
    assert metrics["test_normal"] == metrics["test_anomalies"] == 16
    assert metrics["best_score"] in SCORES
    assert os.path.exists(os.path.join(out, "plots", "roc_curves.png"))


def test_bad_normal_classes_exit_2_before_writing(tmp_path, tfds_data_dir):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as error:
        anomaly_detection.main(["--smoke", "--data-dir", tfds_data_dir, "--output-dir", str(out),
                                "--normal-classes", "circle"])
    assert error.value.code == 2 and not out.exists()
