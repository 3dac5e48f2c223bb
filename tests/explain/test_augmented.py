"""Tests of kerasnn.explain.augmented: the warp operators and their adjoints, the TV subgradient
and the objective against NumPy/SciPy references, and the super-resolution solver recovering a
known map better than bilinear upsampling."""

import keras
import numpy as np
import pytest
from scipy import ndimage

from kerasnn import explain
from kerasnn.explain import augmented


def _rng(seed=0):
    return np.random.default_rng(seed)


def _reference_warp(image, angle, shift):
    """A_l with scipy: pixel p reads the input at R^-1 (p - c - t) + c, bilinearly, 0 outside."""
    height, width = image.shape
    rows, cols = np.mgrid[0:height, 0:width].astype("f8")
    theta = np.radians(angle)
    y = rows - (height - 1) / 2 - shift[0]
    x = cols - (width - 1) / 2 - shift[1]
    source_y = np.cos(theta) * y - np.sin(theta) * x + (height - 1) / 2
    source_x = np.sin(theta) * y + np.cos(theta) * x + (width - 1) / 2
    return ndimage.map_coordinates(
        image, [source_y, source_x], order=1, mode="grid-constant", cval=0.0
    )


def _reference_tv(h):
    total = 0.0
    for i in range(h.shape[0]):
        for j in range(h.shape[1]):
            if i + 1 < h.shape[0]:
                total += abs(h[i + 1, j] - h[i, j])
            if j + 1 < h.shape[1]:
                total += abs(h[i, j + 1] - h[i, j])
    return total


def test_warp_matches_scipy_and_integer_moves():
    image = _rng().standard_normal((8, 10))
    angles, shifts = [0.0, 0.0, 17.0, -33.0], [[0, 0], [1, -2], [0.3, 0.7], [-1.6, 2.2]]
    warped = augmented.WarpOperator((8, 10), angles, shifts).apply(image)
    np.testing.assert_allclose(warped[0], image)
    np.testing.assert_allclose(warped[1][1:, :-2], image[:-1, 2:])  # down 1, left 2
    assert np.all(warped[1][0] == 0) and np.all(warped[1][:, -2:] == 0)
    for index in range(4):
        expected = _reference_warp(image, angles[index], shifts[index])
        np.testing.assert_allclose(warped[index], expected, atol=1e-10)
    colour = _rng(1).standard_normal((8, 10, 3))
    moved = augmented.WarpOperator((8, 10), angles, shifts).apply(colour)
    np.testing.assert_allclose(
        moved[2, ..., 1], _reference_warp(colour[..., 1], 17.0, shifts[2]), atol=1e-10
    )


def test_adjoints_satisfy_the_inner_product_identity():
    angles, shifts = augmented.random_roto_translations(5, 20.0, 3.0, seed=2)
    operator = augmented.WarpOperator((12, 8), angles, shifts)
    h, r = _rng(3).standard_normal((12, 8)), _rng(4).standard_normal((5, 12, 8))
    np.testing.assert_allclose(np.sum(operator.apply(h) * r), np.sum(h * operator.adjoint(r)))
    low = _rng(5).standard_normal((5, 3, 4))
    np.testing.assert_allclose(
        np.sum(augmented.average_pool(r, (4, 2)) * low),
        np.sum(r * augmented.average_pool_adjoint(low, (4, 2))),
    )


def test_total_variation_and_its_subgradient_against_numpy():
    h = np.array([[0.0, 1.0, 1.0], [2.0, 0.5, 1.0]])
    # |1-0|+|1-1| + |0.5-2|+|1-0.5| across, |2-0|+|0.5-1|+|1-1| down
    assert explain.total_variation(h) == pytest.approx(1 + 0 + 1.5 + 0.5 + 2 + 0.5 + 0)
    h = _rng(6).standard_normal((5, 6))  # no ties: TV is differentiable here
    assert explain.total_variation(h) == pytest.approx(_reference_tv(h))
    numerical = np.zeros_like(h)
    for index in np.ndindex(h.shape):
        step = np.zeros_like(h)
        step[index] = 1e-6
        numerical[index] = (_reference_tv(h + step) - _reference_tv(h - step)) / 2e-6
    np.testing.assert_allclose(explain.total_variation_subgradient(h), numerical, atol=1e-6)
    # at a tie sign(0) = 0: a flat map has the zero subgradient
    np.testing.assert_array_equal(explain.total_variation_subgradient(np.ones((3, 3))), 0.0)


def test_objective_and_subgradient_against_a_dense_numpy_reference():
    angles, shifts = augmented.random_roto_translations(3, 15.0, 2.0, seed=7)
    operator = augmented.WarpOperator((8, 8), angles, shifts)
    low = _rng(8).uniform(0, 1, (3, 2, 2))
    problem = explain.SuperResolutionProblem(operator, low, tv_weight=0.3, l2_weight=0.2)
    # dense matrices of D A_l from scipy's warp and explicit 4x4 block means
    basis = np.eye(64).reshape(64, 8, 8)
    columns = [
        [
            _reference_warp(e, angle, shift).reshape(2, 4, 2, 4).mean(axis=(1, 3)).ravel()
            for e in basis
        ]
        for angle, shift in zip(angles, shifts)
    ]
    matrices = np.array(columns).transpose(0, 2, 1)  # (L, 4, 64)
    h = _rng(9).standard_normal((8, 8))
    residual = matrices @ h.ravel() - low.reshape(3, 4)
    objective = 0.5 * np.sum(residual**2) + 0.3 * _reference_tv(h) + 0.1 * np.sum(h**2)
    assert problem.objective(h) == pytest.approx(objective)
    smooth = np.einsum("lpq,lp->q", matrices, residual).reshape(8, 8) + 0.2 * h
    tv = problem.subgradient(h) - smooth
    np.testing.assert_allclose(tv, 0.3 * explain.total_variation_subgradient(h), atol=1e-10)
    normal = np.einsum("lpq,lpr->qr", matrices, matrices)
    assert problem.lipschitz() == pytest.approx(np.linalg.eigvalsh(normal).max() + 0.2, rel=1e-3)


def test_solver_recovers_a_known_map_better_than_bilinear_upsampling():
    rows, cols = np.mgrid[0:32, 0:32]
    truth = ((np.abs(rows - 13) < 7) & (np.abs(cols - 18) < 5)).astype("f8")  # sharp edges
    truth += 0.6 * (np.hypot(rows - 24, cols - 8) < 4)
    angles, shifts = augmented.random_roto_translations(16, 10.0, 4.0, seed=0)
    operator = augmented.WarpOperator((32, 32), angles, shifts)
    low = augmented.average_pool(operator.apply(truth), (4, 4))  # synthetic g_l = D A_l h
    problem = explain.SuperResolutionProblem(operator, low, tv_weight=0.002, l2_weight=1e-4)
    bilinear = explain.maps.upsample(low[:1], (32, 32))[0]
    solution, objectives = problem.solve(bilinear, steps=150)
    assert len(objectives) == 151 and objectives.min() < 0.2 * objectives[0]
    error, baseline = np.abs(solution - truth).mean(), np.abs(bilinear - truth).mean()
    assert error < 0.7 * baseline, (error, baseline)


def _tiny_model():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_augmented_grad_cam_end_to_end_and_bad_input():
    model, image = _tiny_model(), _rng(10).uniform(0, 1, (16, 16, 3)).astype("f4")
    result = explain.augmented_grad_cam(model, image, num_augmentations=4, steps=10)
    assert result.heatmap.shape == (16, 16) and result.objectives.shape == (11,)
    assert result.low_resolution.shape == (4, 4, 4) and result.low_resolution.max() == 1.0
    plain = explain.grad_cam(model, image[None], upsample_to_image=False)[0]
    first = result.low_resolution[0]  # the identity copy, scaled with the others' common maximum
    np.testing.assert_allclose(first / first.max(), plain / plain.max(), rtol=1e-5)
    assert result.objectives.min() <= result.objectives[0]
    with pytest.raises(
        ValueError,
        match=r"Argument `image` must be one image \(height, width, "
        r"channels\). Received: image.shape=\(1, 16, 16, 3\)",
    ):
        explain.augmented_grad_cam(model, image[None])
    with pytest.raises(
        ValueError,
        match=r"Argument `num_augmentations` must be a positive "
        r"integer. Received: num_augmentations=0",
    ):
        explain.augmented_grad_cam(model, image, num_augmentations=0)
