"""kerasnn_sequences: the problems' definitions and their floors, computed exactly."""

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data.builders import sequences


def _spec(name):
    return next(config.spec for config in sequences.CONFIGS if config.name == name)


def test_every_configuration_is_listed():
    names = [n for n in data.embedded_names() if n.startswith("kerasnn_sequences/")]
    assert names == [f"kerasnn_sequences/{n}" for n in (
        "adding_50", "adding_100", "adding_200", "future_tagging", "ar_process",
        "linear_dynamics")]


@pytest.mark.parametrize("length", [50, 100, 200])
def test_adding_problem_and_its_constant_floor(length):
    x, target = sequences.generate(_spec(f"adding_{length}"), "train")
    assert x.shape == (2000, length, 2)
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, : length // 2].sum(axis=1) == 1)  # one marker in each half
    np.testing.assert_allclose(target, (x[..., 0] * markers).sum(axis=1))
    # Var(u1 + u2) = 2 * 1/12: the MSE of predicting the mean 1 (within 4 standard errors)
    assert sequences.ADDING_CONSTANT_MSE == 2 * (1 / 12)
    mse = np.mean((target - 1.0) ** 2)
    standard_error = np.std((target - 1.0) ** 2) / np.sqrt(len(target))
    assert abs(mse - 1 / 6) < 4 * standard_error


def test_future_tagging_labels_are_the_symbols_d_steps_ahead():
    spec = sequences.TAGGING
    x, labels = sequences.generate(_spec("future_tagging"), "test")
    assert x.shape == (500, spec.length, spec.num_symbols) and labels.shape == (500, spec.length)
    np.testing.assert_array_equal(x.argmax(-1)[:, spec.delay :], labels[:, : -spec.delay])
    # Unidirectional floor: the label is independent of the symbol seen at t (chance 1/K).
    seen = x.argmax(-1)[:, : -spec.delay].reshape(-1)
    future = labels[:, : -spec.delay].reshape(-1)
    counts = np.zeros((spec.num_symbols, spec.num_symbols))
    np.add.at(counts, (seen, future), 1)
    best_guess_accuracy = counts.max(axis=1).sum() / counts.sum()
    assert abs(best_guess_accuracy - 1 / spec.num_symbols) < 0.03


def _exact_conditional_predictions(system, y):
    """E[y_{t+1} | y_1..y_t] and its variance by Gaussian conditioning on the joint covariance
    Cov(y_i, y_j) = C A^(i-j) P C^T + R [i = j] (independent of the Kalman recursion)."""
    a, c, p = system.transition, system.observation, system.stationary_covariance()
    length = y.shape[1] + 1
    cov = np.empty((length, length))
    for i in range(length):
        for j in range(i + 1):
            value = (c @ np.linalg.matrix_power(a, i - j) @ p @ c.T).item()
            cov[i, j] = cov[j, i] = value + (system.observation_noise if i == j else 0.0)
    predictions, variances = [], []
    for t in range(1, length):
        weights = np.linalg.solve(cov[:t, :t], cov[:t, t])
        predictions.append(y[:, :t] @ weights)
        variances.append(cov[t, t] - cov[:t, t] @ weights)
    return np.stack(predictions, axis=1), np.array(variances)


@pytest.mark.parametrize("name", ["ar_process", "linear_dynamics"])
def test_kalman_predictions_are_the_exact_conditional_means(name):
    system = sequences.SYSTEMS[name]
    y = sequences.simulate(system, 8, 12, np.random.default_rng(0))
    predictions, variances = sequences.kalman_predictions(system, y)
    expected_predictions, expected_variances = _exact_conditional_predictions(system, y)
    np.testing.assert_allclose(predictions, expected_predictions, atol=1e-8)
    np.testing.assert_allclose(variances, expected_variances, atol=1e-8)


def test_ar_floor_is_the_noise_variance_once_two_values_are_seen():
    phi1, phi2 = sequences.AR_COEFFICIENTS
    sigma2 = sequences.AR_NOISE_VARIANCE
    x, target = sequences.generate(_spec("ar_process"), "test")
    system = sequences.SYSTEMS["ar_process"]
    predictions, variances = sequences.kalman_predictions(system, x[..., 0])
    # the true AR coefficients are the optimal predictor from the second step on
    np.testing.assert_allclose(predictions[:, 1:], phi1 * x[:, 1:, 0] + phi2 * x[:, :-1, 0],
                               atol=1e-10)
    # first step: gamma0 (1 - rho1^2) with the AR(2) autocovariances
    gamma0 = (1 - phi2) * sigma2 / ((1 + phi2) * ((1 - phi2) ** 2 - phi1**2))
    rho1 = phi1 / (1 - phi2)
    np.testing.assert_allclose(variances[0], gamma0 * (1 - rho1**2))
    np.testing.assert_allclose(variances[1:], sigma2)
    floor = sequences.optimal_mse("ar_process")
    np.testing.assert_allclose(floor, (gamma0 * (1 - rho1**2) + 63 * sigma2) / 64)
    empirical = np.mean((predictions - target) ** 2)
    assert abs(empirical - floor) < 0.05 * floor


def test_linear_dynamics_floor_is_reached_by_kalman_and_not_beaten_by_ar():
    from kerasnn import models

    x, target = sequences.generate(_spec("linear_dynamics"), "test")
    predictions, _ = sequences.kalman_predictions(sequences.SYSTEMS["linear_dynamics"], x[..., 0])
    floor = sequences.optimal_mse("linear_dynamics")
    kalman_mse = np.mean((predictions - target) ** 2)
    assert abs(kalman_mse - floor) < 0.05 * floor
    # a memoryless AR(4) fitted on the test data itself still does worse than the floor
    coefficients, intercept = models.autoregressive_least_squares(x[..., 0], target, 4)
    ar_mse = np.mean((models.delay_taps(x[..., 0], 4) @ coefficients + intercept - target) ** 2)
    assert ar_mse > kalman_mse


def test_builder_examples_are_the_generated_arrays(tfds_data_dir):
    name = "kerasnn_sequences/future_tagging"
    spec = data.describe(name, tfds_data_dir)
    assert spec.input_shape == (24, 4)
    assert spec.split_sizes == {"train": 2000, "validation": 500, "test": 500}
    x, labels = data.load_arrays(name, "test", data_dir=tfds_data_dir)
    expected_x, expected_labels = sequences.generate(_spec("future_tagging"), "test")

    def in_canonical_order(inputs, outputs):  # tfds stores examples in its own shuffled order
        order = np.argsort(inputs.argmax(-1) @ (4 ** np.arange(24)), kind="stable")
        return inputs[order], outputs[order]

    x, labels = in_canonical_order(x, labels)
    expected_x, expected_labels = in_canonical_order(expected_x.astype("float32"), expected_labels)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(labels, expected_labels)
