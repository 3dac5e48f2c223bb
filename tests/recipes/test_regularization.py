"""The regularization recipe: regularizers beat the overfitting baseline, dropout's expectation,
the notes' Xavier initialization, the init/gradient picture, a k-fold search of gamma."""

import os

import numpy as np
import pytest
import regularization


def test_regularizers_beat_the_overfitting_baseline(tmp_path, tfds_data_dir):
    output = str(tmp_path / "run")
    # Half the default 100 epochs (the suite's time budget): the baseline has overfitted by then.
    metrics = regularization.main(
        ["--data-dir", tfds_data_dir, "--output-dir", output, "--tuner", "none", "--epochs", "50"]
    )
    by_name = {row["variant"].split(" (")[0]: row for row in metrics["regularizers"]}
    baseline = by_name["baseline"]
    # The baseline overfits: training cross-entropy ~0, validation above its own minimum
    # (measured after 50 epochs: 0.214 against 0.206).
    assert baseline["train_crossentropy"] < 0.01
    assert baseline["val_crossentropy"] > 1.02 * baseline["min_val_crossentropy"]
    for name in ("early stopping", "weight decay", "dropout"):
        assert by_name[name]["val_crossentropy"] < baseline["val_crossentropy"], name
    assert by_name["early stopping"]["epochs_run"] < baseline["epochs_run"]

    # Inverted dropout and the notes' scaling at evaluation: the mean over 500 masks equals the
    # evaluation output of each scheme (the notes' one is (1 - p) times Keras').
    inverted, notes = metrics["dropout_expectation"]
    for row in (inverted, notes):
        assert row["ratio"] == pytest.approx(1.0, abs=0.01), row["scheme"]
    assert notes["evaluation_activation"] == pytest.approx(0.5 * inverted["evaluation_activation"])

    norms = {
        (r["activation"], r["initializer"]): [r[f"layer_{i}"] for i in range(1, 7)]
        for r in metrics["gradient_norms"]
    }
    assert all(value == 0 for value in norms[("relu", "zeros")])  # symmetric: nothing to learn from
    # Sigmoid: the gradient shrinks layer after layer towards the input (vanishing gradient)...
    sigmoid_xavier = norms[("sigmoid", "Xavier N(0, 1/n_in)")]
    assert all(a < b for a, b in zip(sigmoid_xavier, sigmoid_xavier[1:]))
    assert sigmoid_xavier[0] < 1e-2 * sigmoid_xavier[-1]
    # ...while ReLU with He initialization keeps it within a factor of two across the depth.
    relu_he = norms[("relu", "He normal (Keras)")]
    assert max(relu_he) < 2 * min(relu_he)

    assert metrics["train_examples"] == 200
    # Known good: the default gamma and p give test accuracy ~0.93 from 200 training images;
    # chance is 0.1.
    assert metrics["test"]["accuracy"] > 0.85 and metrics["trials"] == []
    for name in ("regularizers", "gradient_norms", "training_curves"):
        assert os.path.exists(os.path.join(output, "plots", f"{name}.png"))


def test_xavier_is_the_notes_untruncated_normal_of_variance_one_over_n_in():
    n_in = 400
    weights = np.asarray(regularization.INITIALIZERS["Xavier N(0, 1/n_in)"]()((n_in, 300)))
    assert weights.std() == pytest.approx(1 / np.sqrt(n_in), rel=0.02)
    assert abs(weights.mean()) < 1e-3
    # Untruncated: values beyond 2 sigma occur (~4.6%); Keras' Glorot and He are cut at 2 sigma.
    assert np.mean(np.abs(weights) > 2 / np.sqrt(n_in)) == pytest.approx(0.0455, abs=0.005)
    glorot = np.asarray(regularization.INITIALIZERS["Glorot normal (Keras)"]()((n_in, 300)))
    assert np.abs(glorot).max() <= 2 * np.sqrt(2 / (n_in + 300)) / 0.8796 + 1e-6


def test_smoke_run_chooses_gamma_by_k_fold_cross_validation(tmp_path, tfds_data_dir):
    metrics = regularization.main(
        ["--data-dir", tfds_data_dir, "--output-dir", str(tmp_path / "run"), "--smoke"]
    )
    (trial,) = metrics["trials"]
    assert len(metrics["best_fold_scores"]) == 2  # --smoke: 2 folds of the 50 training images
    assert trial["score"] == pytest.approx(np.mean(metrics["best_fold_scores"]))
    assert set(metrics["best_hyperparameters"]) == {"weight_decay", "weight_decay_norm", "dropout"}
    assert metrics["best_hyperparameters"]["weight_decay_norm"] in ("l1", "l2")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train-per-class", "1000"], "--train-per-class 1000"),
        (["--min-delta", "-0.1"], "--min-delta must be at least 0, received -0.1"),
        (["--folds", "1"], "--folds must be at least 2, received 1"),
    ],
)
def test_bad_flags_exit_2(tmp_path, tfds_data_dir, capsys, flags, message):
    with pytest.raises(SystemExit) as error:
        regularization.main(
            ["--data-dir", tfds_data_dir, "--output-dir", str(tmp_path / "never"), *flags]
        )
    assert error.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
