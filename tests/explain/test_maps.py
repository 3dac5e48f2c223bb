"""Tests of kerasnn.explain.maps: CAM against NumPy from the model's weights, Grad-CAM against CAM
(exact alpha = w / Z) and against finite differences, and the bad-input messages."""

import keras
import numpy as np
import pytest

from kerasnn import explain, layers


def _images(batch=3, size=12, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, size, size, channels)).astype("f4")


def _gap_model(num_classes=4, head="dense"):
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(x)
    if head == "cam_layer":
        outputs = layers.ClassActivationMapping(
            num_classes, activation="softmax", bias_initializer="glorot_uniform", name="output"
        )(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        x = keras.layers.Dropout(0.5, name="dropout")(x)
        outputs = keras.layers.Dense(
            num_classes, activation="softmax", name="output", bias_initializer="glorot_uniform"
        )(x)
    return keras.Model(inputs, outputs)


def _bilinear(maps, size):
    """NumPy bilinear resize with half-pixel centres and clamped edges (as tf.image.resize)."""
    n = maps.shape[1]
    source = np.clip((np.arange(size) + 0.5) * n / size - 0.5, 0, n - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = source - low
    rows = maps[:, low] * (1 - frac)[None, :, None] + maps[:, high] * frac[None, :, None]
    return rows[:, :, low] * (1 - frac) + rows[:, :, high] * frac


def _features(model, images, name="conv2"):
    return keras.Model(model.inputs, model.get_layer(name).output).predict(images, verbose=0)


@pytest.mark.parametrize("head", ["dense", "cam_layer"])
def test_cam_is_the_weighted_sum_of_feature_maps_and_averages_to_the_score(head):
    model, images = _gap_model(head=head), _images()
    features = _features(model, images)
    kernel, bias = model.get_layer("output").get_weights()
    probabilities = model.predict(images, verbose=0)
    for c in range(4):
        maps = explain.cam(model, images, class_index=c, upsample_to_image=False)
        expected = sum(kernel[k, c] * features[..., k] for k in range(features.shape[-1]))
        np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)
    # S_c = mean M_c + b_c: the softmax of those scores is the model's output
    all_maps = np.stack(
        [explain.cam(model, images, class_index=c, upsample_to_image=False) for c in range(4)],
        axis=-1,
    )
    scores = all_maps.mean(axis=(1, 2)) + bias
    softmax = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax, probabilities, rtol=1e-5, atol=1e-6)


def test_cam_defaults_to_the_predicted_class_and_upsamples_to_the_image():
    model, images = _gap_model(), _images()
    predicted = model.predict(images, verbose=0).argmax(-1)
    maps = explain.cam(model, images, upsample_to_image=False)
    expected = explain.cam(model, images, class_index=predicted, upsample_to_image=False)
    np.testing.assert_array_equal(maps, expected)
    full = explain.cam(model, images)
    assert full.shape == (3, 12, 12)
    np.testing.assert_allclose(full, _bilinear(maps, 12), rtol=1e-5, atol=1e-6)


def test_grad_cam_on_a_gap_network_is_cam_up_to_the_scale_one_over_z():
    model, images = _gap_model(), _images()
    kernel, _ = model.get_layer("output").get_weights()
    predicted = model.predict(images, verbose=0).argmax(-1)
    maps, alpha = explain.grad_cam(
        model, images, "conv2", upsample_to_image=False, return_weights=True
    )
    z = 6 * 6
    np.testing.assert_allclose(alpha, kernel[:, predicted].T / z, rtol=1e-5, atol=1e-7)
    cam_maps = explain.cam(model, images, upsample_to_image=False)
    np.testing.assert_allclose(maps, np.maximum(cam_maps, 0) / z, rtol=1e-4, atol=1e-7)
    # the output layer computes a softmax again afterwards
    assert model.get_layer("output").activation is keras.activations.softmax
    np.testing.assert_allclose(model.predict(images, verbose=0).sum(-1), 1.0, atol=1e-5)


def test_grad_cam_weights_match_finite_differences_on_a_flatten_network():
    inputs = keras.Input((6, 6, 2))
    features = keras.layers.Conv2D(3, 3, activation="tanh", name="features")(inputs)
    tail = [
        keras.layers.Conv2D(2, 3, activation="tanh", name="conv"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(5, activation="tanh"),
        keras.layers.Dense(3, name="scores"),
    ]
    x = features
    for layer in tail:
        x = layer(x)
    model = keras.Model(inputs, keras.layers.Softmax(name="softmax")(x))
    images = _images(batch=2, size=6, channels=2, seed=1)
    _, alpha = explain.grad_cam(
        model,
        images,
        "features",
        class_index=[2, 0],
        relu=False,
        upsample_to_image=False,
        return_weights=True,
    )
    # numerical d y^c / d f_k(x, y) through the tail (scores before the softmax), in float64
    f = keras.Model(inputs, features)(images).numpy().astype("f8")
    eps = 1e-3
    expected = np.zeros_like(alpha, dtype="f8")
    for b, c in enumerate([2, 0]):
        for k in range(3):
            for i in range(4):
                for j in range(4):
                    step = np.zeros_like(f[b])
                    step[i, j, k] = eps  # noqa: E702
                    ys = []
                    for sign in (1, -1):
                        y = (f[b] + sign * step)[None].astype("f4")
                        for layer in tail:
                            y = layer(y)
                        ys.append(float(y[0, c]))
                    expected[b, k] += (ys[0] - ys[1]) / (2 * eps) / 16
    np.testing.assert_allclose(alpha, expected, rtol=2e-2, atol=2e-4)


def test_grad_cam_runs_on_a_flatten_network_where_cam_cannot():
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="output")(x))
    images = _images()
    maps = explain.grad_cam(model, images)  # default layer: the last 4-D output, "pool"
    assert maps.shape == (3, 12, 12) and (maps >= 0).all()
    assert explain.feature_layer(model).name == "pool"
    with pytest.raises(
        ValueError,
        match=r"`cam` needs a model whose last feature maps go "
        r"through global average pooling.*fed by 'flatten' \(Flatten\)",
    ):
        explain.cam(model, images)


def test_bad_inputs_raise_clear_value_errors():
    model, images = _gap_model(), _images()
    with pytest.raises(
        ValueError,
        match=r"Argument `layer` must name a layer of model .* "
        r"Received: layer='conv9'",
    ):
        explain.grad_cam(model, images, "conv9")
    with pytest.raises(
        ValueError,
        match=r"Argument `layer` must be a convolutional layer .* "
        r"Received: layer='gap' with output shape \(None, 5\)",
    ):
        explain.grad_cam(model, images, "gap")
    for function in (explain.cam, explain.grad_cam):
        with pytest.raises(
            ValueError,
            match=r"Argument `images` must be a 4-D batch .* "
            r"Received: images.shape=\(12, 12, 3\)",
        ):
            function(model, images[0])
        with pytest.raises(
            ValueError,
            match=r"Argument `class_index` must be None, an int in "
            r"\[0, 4\) .* Received: class_index=7",
        ):
            function(model, images, class_index=7)
