"""Builders made of the course's layers compute what the same builders with Keras' built-ins do.

Each model is built twice: with kerasnn's layers (the default) and inside
``models.keras_builtin_layers()``. The built-in model gets the first model's (randomized) weights
and both give the same outputs in inference and in training mode, the same batch-norm moving
statistics after a training-mode call, and the same weights after one SGD step. A model saved
with our layers loads in a fresh Python process that imports only ``kerasnn`` and ``keras``.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasnn
from kerasnn import layers, models

OURS = (layers.BatchNormalization, layers.GlobalAveragePooling2D, layers.ClassActivationMapping)
BUILTIN = (keras.layers.BatchNormalization, keras.layers.GlobalAveragePooling2D)

IMAGE = (8, 8, 3)
TINY_MODULES = ((2, 2, 3, 1, 2, 2), (3, 2, 2, 1, 2, 2))


def _small_cnn_classifier():
    backbone = models.small_cnn_backbone(IMAGE, filters=(4, 6))
    return models.classifier(backbone, 3, head_units=5, dropout=0.0)


BUILDERS = {
    "vgg_bn_flatten": lambda: models.vgg(
        IMAGE,
        3,
        filters=(4, 6),
        convs_per_block=(2, 1),
        dense_units=(5,),
        dropout=0.0,
        batch_normalization=True,
    ),
    "vgg_bn_gap_dense": lambda: models.vgg(
        IMAGE,
        3,
        filters=(4, 6),
        convs_per_block=1,
        dense_units=(5,),
        dropout=0.0,
        batch_normalization=True,
        head="gap_dense",
    ),
    "vgg_gap": lambda: models.vgg(
        IMAGE,
        3,
        filters=(4, 6),
        convs_per_block=1,
        dropout=0.0,
        batch_normalization=True,
        head="gap",
    ),
    "vgg_cam": lambda: models.vgg(
        IMAGE, 3, filters=(4, 6), convs_per_block=1, dropout=0.0, head="cam"
    ),
    "inception_net": lambda: models.inception_net(
        IMAGE, 3, stem_filters=4, modules=TINY_MODULES, dropout=0.0
    ),
    "inception_net_gap": lambda: models.inception_net(
        IMAGE, 3, stem_filters=4, modules=TINY_MODULES, dropout=0.0, head="gap"
    ),
    "inception_net_cam": lambda: models.inception_net(
        IMAGE, 3, stem_filters=4, modules=TINY_MODULES, dropout=0.0, head="cam"
    ),
    "mlp_bn": lambda: models.mlp((6,), 3, hidden_units=(7, 5), batch_normalization=True),
    "small_cnn_classifier": _small_cnn_classifier,
}


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _inputs(model, seed=0):
    shape = (6,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).normal(1.0, 2.0, shape).astype("float32")


def _randomize(model, seed=1):
    """Random weights; positive ones for the moving variances."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32")
            if "variance" in w.path
            else rng.normal(0.0, 0.5, w.shape).astype("float32")
            for w in model.weights
        ]
    )


def _twins(key):
    keras.utils.set_random_seed(0)
    ours = BUILDERS[key]()
    with models.keras_builtin_layers():
        builtin = BUILDERS[key]()
    _randomize(ours)
    builtin.set_weights(ours.get_weights())
    return ours, builtin


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_builder_with_our_layers_equals_the_builtin_one(key):
    ours, builtin = _twins(key)
    ours_types = {type(layer) for layer in _all_layers(ours)}
    builtin_types = {type(layer) for layer in _all_layers(builtin)}
    assert ours_types & set(OURS) and not ours_types & set(BUILTIN)
    assert builtin_types & set(BUILTIN) and not builtin_types & set(OURS)
    assert [w.shape for w in ours.weights] == [w.shape for w in builtin.weights]

    x = _inputs(ours)
    np.testing.assert_allclose(ours(x, training=False), builtin(x, training=False), atol=1e-5)
    np.testing.assert_allclose(ours(x, training=True), builtin(x, training=True), atol=1e-5)
    # The training-mode call updated the moving statistics alike (BN models).
    for ours_weight, builtin_weight in zip(ours.weights, builtin.weights):
        np.testing.assert_allclose(ours_weight.numpy(), builtin_weight.numpy(), atol=1e-5)

    y = np.arange(len(x)) % 3
    for model in (ours, builtin):
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.train_on_batch(x, y)
    for ours_weight, builtin_weight in zip(ours.weights, builtin.weights):
        np.testing.assert_allclose(
            ours_weight.numpy(), builtin_weight.numpy(), atol=1e-4, err_msg=ours_weight.path
        )


def test_gap_head_has_one_map_per_class_and_no_dense_layer():
    model = BUILDERS["vgg_gap"]()
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    assert model.get_layer("class_maps").filters == 3
    x = _inputs(model)
    maps = keras.Model(model.input, model.get_layer("class_maps").output)(x)
    # Class scores are the maps' averages ("GAP Layers"), then the softmax.
    expected = keras.ops.softmax(np.mean(maps, axis=(1, 2)))
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-6)


def test_cam_head_gives_the_class_activation_maps_of_its_scores():
    model = BUILDERS["vgg_cam"]()
    _randomize(model)
    head = model.get_layer("output")
    features_model = keras.Model(model.input, head.input)
    x = _inputs(model)
    features = features_model(x)
    maps = head.class_activation_maps(features)
    kernel, bias = head.get_weights()
    # S_c = sum_k w_k^c F_k = mean_{x,y} M_c(x, y) ("The GAP revisited - CAM").
    scores = np.mean(maps, axis=(1, 2)) + bias
    np.testing.assert_allclose(model(x), keras.ops.softmax(scores), rtol=1e-5, atol=1e-6)
    assert kernel.shape == (features.shape[-1], 3)


@pytest.mark.parametrize("builder", [models.vgg, models.inception_net])
def test_unknown_head_is_refused(builder):
    message = r"Argument `head` must be one of 'flatten', 'gap_dense', 'gap', 'cam'\. "
    with pytest.raises(ValueError, match=message + "Received: head='fc'"):
        builder(IMAGE, 3, head="fc")


LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys

    import kerasnn  # noqa: F401  (only this: it registers the kerasnn layers with Keras)
    import keras
    import numpy as np

    for path in sys.argv[1:]:
        model = keras.saving.load_model(path)
        np.save(path + ".out.npy", np.asarray(model.predict(np.load(path + ".in.npy"), verbose=0)))
    """
)


def test_models_saved_with_our_layers_load_in_a_fresh_process(tmp_path):
    expected = {}
    for key in ["vgg_bn_flatten", "inception_net_cam", "mlp_bn", "small_cnn_classifier"]:
        keras.utils.set_random_seed(0)
        model = BUILDERS[key]()
        _randomize(model)
        x = _inputs(model, seed=2)
        model(x, training=True)  # moving statistics away from their initial values
        path = str(tmp_path / f"{key}.keras")
        model.save(path)
        np.save(path + ".in.npy", x)
        expected[path] = model.predict(x, verbose=0)
    root = str(Path(kerasnn.__file__).parents[1])  # this checkout, not an installed copy
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, *expected],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": root},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for path, outputs in expected.items():
        np.testing.assert_allclose(np.load(path + ".out.npy"), outputs, rtol=1e-5, atol=1e-6)


def test_importing_a_layer_module_first_registers_everything_without_a_cycle():
    # ``import kerasnn.layers`` imports Keras, which triggers the registration of the builders
    # while ``kerasnn.layers`` is still half-initialized: that must not fail. Builder modules
    # therefore import layers from their modules (``from kerasnn.layers.normalization import
    # BatchNormalization``), not from the package (``from kerasnn.layers import ...``).
    script = (
        "import sys; import kerasnn.layers; "
        "assert {'kerasnn.losses', 'kerasnn.models'} <= set(sys.modules); "
        "from kerasnn import models; models.mlp((3,), 2, batch_normalization=True)"
    )
    root = str(Path(kerasnn.__file__).parents[1])
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == 0, result.stderr[-3000:]
