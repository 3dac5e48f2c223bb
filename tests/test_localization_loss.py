"""Tests of the localization losses in kerasnn.losses: the box norm, the multitask loss against
NumPy, and a two-output model compiled with them giving the same total."""

import keras
import numpy as np
import pytest

from kerasnn import losses


def test_box_regression_norm_is_the_euclidean_norm_not_its_square():
    boxes_true = np.array([[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]], "f4")
    boxes_pred = np.array([[0.4, 0.6, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0]], "f4")
    np.testing.assert_allclose(
        losses.box_regression_norm(boxes_true, boxes_pred), [0.5, 0.0], atol=1e-6
    )
    # finite gradient at a perfect box (the epsilon under the square root)
    import tensorflow as tf

    prediction = tf.Variable(boxes_true)
    with tf.GradientTape() as tape:
        value = tf.reduce_sum(losses.box_regression_norm(boxes_true, prediction))
    assert np.isfinite(tape.gradient(value, prediction).numpy()).all()


def test_localization_loss_against_numpy():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(4), size=5).astype("f4")
    labels = np.array([0, 3, 1, 2, 2])
    boxes_true, boxes_pred = rng.uniform(0, 1, (2, 5, 4)).astype("f4")
    alpha = 0.3
    expected = alpha * -np.log(probabilities[np.arange(5), labels]) + (1 - alpha) * np.linalg.norm(
        boxes_pred - boxes_true, axis=-1
    )
    actual = losses.localization_loss(labels, probabilities, boxes_true, boxes_pred, alpha)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    with pytest.raises(
        ValueError,
        match=r"Argument `alpha` must be a float in \[0, 1\]. "
        r"Received: alpha=1.2",
    ):
        losses.localization_compile_arguments(1.2)


def test_two_output_model_compiled_with_the_arguments_minimises_the_notes_loss(tmp_path):
    inputs = keras.Input((6,))
    model = keras.Model(
        inputs,
        {
            "class": keras.layers.Dense(3, activation="softmax", name="class")(inputs),
            "box": keras.layers.Dense(4, name="box")(inputs),
        },
    )
    model.compile("sgd", **losses.localization_compile_arguments(0.25))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6)).astype("f4")
    labels, boxes = rng.integers(0, 3, 8), rng.uniform(0, 1, (8, 4)).astype("f4")
    total = model.evaluate(x, {"class": labels, "box": boxes}, batch_size=8, verbose=0)
    outputs = model.predict(x, verbose=0)
    expected = np.mean(
        losses.localization_loss(labels, outputs["class"], boxes, outputs["box"], 0.25)
    )
    assert (total[0] if isinstance(total, list) else total) == pytest.approx(expected, rel=1e-5)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.evaluate(
        x, {"class": labels, "box": boxes}, batch_size=8, verbose=0
    ) == pytest.approx(total, rel=1e-6)
