"""Tests of kerasnn.layers.normalization: parity with keras.layers.BatchNormalization, NumPy
references for the ghost and per-time-step variants, the harness, and bad-input messages."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn import backend
from kerasnn.layers.normalization import (
    BatchNormalization,
    GhostBatchNormalization,
    TimeStepBatchNormalization,
)


def _data(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2.0 + 0.5).astype("float32")


def _random_bn_weights(channels, statistics_shape=None, seed=1):
    rng = np.random.default_rng(seed)
    statistics_shape = statistics_shape or (channels,)
    gamma = rng.uniform(0.5, 1.5, channels).astype("float32")
    beta = rng.standard_normal(channels).astype("float32")
    moving_mean = rng.standard_normal(statistics_shape).astype("float32")
    moving_variance = rng.uniform(0.5, 2.0, statistics_shape).astype("float32")
    return [gamma, beta, moving_mean, moving_variance]


def _np(value):
    """NumPy array of a tensor, variable or array (PyTorch outputs that require grad included)."""
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, desired, **kwargs):
    np.testing.assert_allclose(_np(actual), _np(desired), **kwargs)


def _numpy_batch_norm(x, mean, variance, gamma, beta, epsilon):
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


# ---------------------------------------------------------------------------- BatchNormalization


@pytest.mark.parametrize(
    "shape, init_kwargs",
    [
        ((8, 5), {}),  # per unit, after Dense
        ((4, 3, 3, 6), {"momentum": 0.8, "epsilon": 1e-2}),  # per filter, channels-last
        ((4, 6, 3, 3), {"axis": 1}),  # per filter, channels-first
        ((4, 3, 6), {"center": False}),
        ((4, 3, 6), {"scale": False}),
    ],
)
def test_batch_normalization_matches_keras_after_set_weights(shape, init_kwargs):
    x = _data(*shape)
    ours, theirs = BatchNormalization(**init_kwargs), keras.layers.BatchNormalization(**init_kwargs)
    ours.build(x.shape)
    theirs.build(x.shape)
    channels = shape[init_kwargs.get("axis", -1)]
    weights = _random_bn_weights(channels)
    weights = [w for w, keep in zip(weights, [ours.scale, ours.center, True, True]) if keep]
    assert [v.shape for v in ours.weights] == [v.shape for v in theirs.weights]
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(theirs.get_weights())
    for _ in range(2):  # two training steps: the moving statistics must follow the same rule
        assert_close(ours(x, training=True), theirs(x, training=True), atol=1e-5)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            assert_close(a, b, atol=1e-6)
    assert_close(ours(x, training=False), theirs(x, training=False), atol=1e-5)


def test_batch_normalization_against_numpy_algorithm_and_update_rule():
    x = _data(6, 4)
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta, moving_mean, moving_variance = _random_bn_weights(4)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    y = layer(x, training=True)
    mean, variance = x.mean(axis=0), x.var(axis=0)  # biased variance, as the course's sigma^2_B
    assert_close(
        y, _numpy_batch_norm(x, mean, variance, gamma, beta, 1e-3), atol=1e-5
    )
    assert_close(layer.moving_mean, 0.9 * moving_mean + 0.1 * mean, atol=1e-6)
    assert_close(
        layer.moving_variance, 0.9 * moving_variance + 0.1 * variance, atol=1e-6
    )
    # Inference uses the moving statistics.
    assert_close(
        layer(x, training=False),
        _numpy_batch_norm(
            x, _np(layer.moving_mean), _np(layer.moving_variance), gamma, beta, 1e-3
        ),
        atol=1e-5,
    )


def test_frozen_batch_normalization_runs_in_inference_mode_like_keras():
    x = _data(8, 3, 3, 4)
    weights = _random_bn_weights(4)
    ours, theirs = (
        BatchNormalization(trainable=False),
        keras.layers.BatchNormalization(trainable=False),
    )
    for layer in (ours, theirs):
        layer.build(x.shape)
        layer.set_weights(weights)
    y = ours(x, training=True)
    assert_close(y, ours(x, training=False), atol=1e-6)
    assert_close(y, theirs(x, training=True), atol=1e-5)
    for a, b in zip(ours.get_weights(), weights):
        np.testing.assert_array_equal(a, b)  # no statistics update either


def test_frozen_layer_inside_fit_keeps_its_statistics_and_matches_keras():
    x, target = _data(16, 4), _data(16, 4, seed=3)
    weights = _random_bn_weights(4)
    models = []
    for cls in (BatchNormalization, keras.layers.BatchNormalization):
        inputs = keras.Input((4,))
        bn = cls(trainable=False)
        model = keras.Model(inputs, keras.layers.Dense(4, kernel_initializer="ones")(bn(inputs)))
        bn.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(x, target, batch_size=8, epochs=1, verbose=0, shuffle=False)
        models.append((model, bn))
    (ours, ours_bn), (theirs, theirs_bn) = models
    for a, b in zip(ours_bn.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)


def test_batch_normalization_masked_statistics_match_keras():
    x = _data(4, 5, 3)
    mask = np.ones((4, 5), bool)
    mask[1:, 3:] = False
    ours, theirs = BatchNormalization(momentum=0.5), keras.layers.BatchNormalization(momentum=0.5)
    for layer in (ours, theirs):
        layer.build(x.shape)
    assert_close(
        ours(x, training=True, mask=mask), theirs(x, training=True, mask=mask), atol=1e-4
    )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, atol=1e-5)
    # NumPy: statistics over the unmasked entries only.
    assert_close(ours.moving_mean, 0.5 * 0 + 0.5 * x[mask].mean(axis=0), atol=1e-5)


@pytest.mark.parametrize(
    "shape, axis, mask_shape",
    [
        ((5, 2, 3), 1, (5, 2)),  # channels-first with a Keras `Masking` mask (no last axis)
        ((5, 3, 3, 2), 1, (5, 3, 3)),
        ((2, 2, 3, 4), -1, (2, 2, 1)),  # a mask broadcast along an axis
    ],
)
def test_batch_normalization_follows_keras_mask_convention_for_any_axis(shape, axis, mask_shape):
    x = _data(*shape)
    mask = np.random.default_rng(2).uniform(size=mask_shape) > 0.3
    ours, theirs = (
        cls(axis=axis, momentum=0.5)
        for cls in (BatchNormalization, keras.layers.BatchNormalization)
    )
    for layer in (ours, theirs):
        layer.build(x.shape)
    assert_close(
        ours(x, training=True, mask=mask), theirs(x, training=True, mask=mask), atol=1e-4
    )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, atol=1e-5)
    # NumPy: the mask (expanded on the last axis) selects the entries each statistic counts.
    full = np.broadcast_to(mask[..., None], shape)
    expected = [np.take(x, c, axis)[np.take(full, c, axis)].mean() for c in range(shape[axis])]
    assert_close(ours.moving_mean, 0.5 * np.array(expected), atol=1e-5)


def test_batch_normalization_fully_masked_batch_has_zero_statistics_like_keras():
    x, mask = _data(4, 5), np.zeros((4,), bool)
    ours, theirs = (
        cls(center=False, scale=False, momentum=0.5)
        for cls in (BatchNormalization, keras.layers.BatchNormalization)
    )
    y = ours(x, training=True, mask=mask)
    # No entry counts: mu_B = sigma2_B = 0, so y = x / sqrt(epsilon), and no NaN anywhere.
    assert_close(y, x / np.sqrt(1e-3), rtol=1e-5)
    assert_close(y, theirs(x, training=True, mask=mask), rtol=1e-5)
    assert_close(ours.moving_mean, np.zeros(5))
    assert_close(ours.moving_variance, np.full(5, 0.5))


def _numpy_renorm_step(x, weights, epsilon, momentum, renorm_momentum, clipping):
    """One training step of batch renormalization (Ioffe, 2017), per the class docstring."""
    gamma, beta, moving_mean, _, moving_stddev, renorm_mean, renorm_stddev = weights
    mean, variance = x.mean(axis=0), x.var(axis=0)
    stddev = np.sqrt(variance + epsilon)
    r = np.clip(stddev / renorm_stddev, clipping["rmin"], clipping["rmax"])
    d = np.clip((mean - renorm_mean) / renorm_stddev, -clipping["dmax"], clipping["dmax"])
    y = gamma * ((x - mean) / stddev * r + d) + beta
    new_stddev = moving_stddev * momentum + stddev * (1 - momentum)
    new = [
        gamma,
        beta,
        moving_mean * momentum + mean * (1 - momentum),
        np.maximum(new_stddev**2 - epsilon, 0),
        new_stddev,
        renorm_mean * renorm_momentum + mean * (1 - renorm_momentum),
        renorm_stddev * renorm_momentum + stddev * (1 - renorm_momentum),
    ]
    return y, new


def test_batch_renormalization_matches_numpy_and_keras():
    clipping = {"rmax": 1.2, "rmin": 0.9, "dmax": 0.3}  # tight: the clipping is exercised
    kwargs = dict(renorm=True, renorm_clipping=clipping, renorm_momentum=0.8, momentum=0.7)
    x = _data(16, 4)
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    for layer in (ours, theirs):
        layer.build(x.shape)
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    rng = np.random.default_rng(3)
    weights = [rng.uniform(0.5, 1.5, 4).astype("float32") for _ in ours.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    expected, expected_weights = _numpy_renorm_step(x, weights, 1e-3, 0.7, 0.8, clipping)
    assert_close(ours(x, training=True), expected, atol=1e-5)
    for a, b in zip(ours.get_weights(), expected_weights):
        assert_close(a, b, atol=1e-5)
    theirs(x, training=True)
    for _ in range(2):  # later steps and inference agree with Keras
        assert_close(ours(x, training=True), theirs(x, training=True), atol=1e-5)
    assert_close(ours(x), theirs(x), atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, atol=1e-5)


def test_batch_renormalization_gradients_match_keras():
    # r and d carry no gradient (stop_gradient): the gradients are Keras' ones.
    x = _data(8, 3)
    weights = keras.ops.convert_to_tensor(np.arange(24, dtype="float32").reshape(8, 3) / 24.0)
    kwargs = {"renorm": True, "renorm_clipping": {"rmax": 1.1, "dmax": 0.1}}
    grads = []
    for layer in (BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)):
        layer.build(x.shape)
        layer.set_weights([np.full(w.shape, 0.7, "float32") for w in layer.weights])
        assert [v.name for v in layer.trainable_variables] == ["gamma", "beta"]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss(inputs, layer=layer, non_trainable=non_trainable):
            # The layer made a pure function of (x, gamma, beta) for every backend's autodiff.
            outputs, _ = layer.stateless_call(inputs[1:], non_trainable, inputs[0], training=True)
            return keras.ops.sum(outputs * weights)

        inputs = [keras.ops.convert_to_tensor(x), *(v.value for v in layer.trainable_variables)]
        grads.append(backend.value_and_gradient(loss, inputs)[1])
    for ours, theirs in zip(*grads):
        ours, theirs = _np(ours), _np(theirs)
        assert np.all(np.isfinite(ours)) and np.abs(ours).max() > 0
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


_SYNCHRONIZED_SCRIPT = """
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
from kerasnn.layers import BatchNormalization
# Replica 0 sees zeros, replica 1 twos: the global batch has mean 1 and variance 1.
x = np.concatenate([np.zeros((4, 3)), np.full((4, 3), 2.0)]).astype("float32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    layer = BatchNormalization(momentum=0.0, synchronized=True)
    layer.build((None, 3))
dataset = tf.data.Dataset.from_tensors(x).unbatch().batch(8)
batches = strategy.experimental_distribute_dataset(dataset)
for batch in batches:
    strategy.run(lambda b: layer(b, training=True), args=(batch,))
print(np.asarray(layer.moving_mean).tolist(), np.asarray(layer.moving_variance).tolist())
"""


@pytest.mark.tensorflow_only("tf.distribute.MirroredStrategy in a TensorFlow subprocess")
def test_synchronized_batch_normalization_uses_global_batch_statistics(tmp_path):
    # Two logical CPUs must be configured before TensorFlow starts: a fresh interpreter.
    import os
    import subprocess
    import sys

    import kerasnn

    root = os.path.dirname(os.path.dirname(os.path.abspath(kerasnn.__file__)))
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _SYNCHRONIZED_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[1.0, 1.0, 1.0] [1.0, 1.0, 1.0]"


def test_keras_batch_normalization_config_builds_ours():
    # synchronized=True exists on TensorFlow only, in Keras and in ours: elsewhere both refuse it.
    synchronized = keras.backend.backend() == "tensorflow"
    keras_layer = keras.layers.BatchNormalization(
        axis=1,
        renorm=True,
        renorm_clipping={"rmax": 3.0},
        renorm_momentum=0.9,
        synchronized=synchronized,
    )
    config = keras_layer.get_config()
    ours = BatchNormalization.from_config(config)
    assert ours.get_config() == config
    x = _data(4, 3, 2)
    assert_close(ours(x), keras_layer(x), atol=1e-6)  # synchronized: no strategy
    if not synchronized:
        with pytest.raises(ValueError, match=r"only supported with the TensorFlow backend"):
            keras.layers.BatchNormalization(synchronized=True)
        with pytest.raises(
            ValueError,
            match=rf"`synchronized` must be False on the {keras.backend.backend()} backend",
        ):
            BatchNormalization(synchronized=True)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (
            BatchNormalization,
            {"renorm": True, "renorm_clipping": {"rmaxx": 1.0}},
            r"keys among 'rmax', 'rmin', 'dmax' \(Received invalid keys \['rmaxx'\]\)",
        ),
        (
            BatchNormalization,
            {"renorm": True, "renorm_clipping": {"rmax": 0.5, "rmin": 1.0}},
            r"must have rmax >= rmin .* Received: renorm_clipping=\{'rmax': 0.5, 'rmin': 1.0\}",
        ),
        (
            BatchNormalization,
            {"renorm": True, "renorm_clipping": {"dmax": -1}},
            r"must have dmax >= 0",
        ),
        (
            BatchNormalization,
            {"renorm_momentum": 2},
            r"`renorm_momentum` must be a number in \[0.0, 1.0\]. Received: renorm_momentum=2",
        ),
        (
            GhostBatchNormalization,
            {"renorm": True},
            r"`renorm` must be False for GhostBatchNormalization",
        ),
        (
            TimeStepBatchNormalization,
            {"renorm": True},
            r"`renorm` must be False for TimeStepBatchNormalization",
        ),
    ],
)
def test_batch_renormalization_rejects_bad_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_batch_normalization_passes_harness_per_filter():
    run_layer_test(
        BatchNormalization,
        {
            "momentum": 0.8,
            "gamma_initializer": "random_uniform",
            "beta_initializer": "random_normal",
        },
        _data(4, 3, 3, 5),
        expected_output_shape=(None, 3, 3, 5),
    )


def test_batch_normalization_passes_harness_channels_first_with_regularizer():
    run_layer_test(
        BatchNormalization,
        {"axis": 1, "gamma_regularizer": "l2", "center": False},
        _data(4, 5, 2, 2),
        expected_output_shape=(None, 5, 2, 2),
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"axis": 1.5}, r"Argument `axis` must be an integer. Received: axis=1.5"),
        (
            {"momentum": 1.5},
            r"Argument `momentum` must be a number in \[0.0, 1.0\]. Received: momentum=1.5",
        ),
        (
            {"epsilon": 0},
            r"Argument `epsilon` must be a positive number. Received: epsilon=0",
        ),
    ],
)
def test_batch_normalization_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNormalization(**kwargs)


def test_batch_normalization_rejects_axis_out_of_range():
    # keras.layers.BatchNormalization raises IndexError here; ours says what is wrong.
    with pytest.raises(
        ValueError,
        match=r"`axis` is out of range for an input of rank 2; expected -2 <= axis < 2. "
        r"Received: axis=5, input shape \(4, 3\)",
    ):
        BatchNormalization(axis=5)(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"`axis` must not be the batch axis 0. Received: axis=-2"):
        BatchNormalization(axis=-2)(np.zeros((4, 3), "float32"))


def test_batch_normalization_rejects_wrong_rank():
    with pytest.raises(
        ValueError, match=r"expects an input of rank >= 2. Received: input shape \(4,\) \(rank 1\)"
    ):
        BatchNormalization()(np.zeros((4,), "float32"))
    layer = BatchNormalization()
    layer(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"expected ndim=2, found ndim=3"):
        layer(np.zeros((4, 2, 3), "float32"))


# ----------------------------------------------------------------------- GhostBatchNormalization


def test_ghost_batch_normalization_equals_batch_normalization_on_the_whole_batch():
    x = _data(8, 2, 2, 3)
    weights = _random_bn_weights(3)
    ghost, plain = (
        GhostBatchNormalization(virtual_batch_size=8, momentum=0.7),
        BatchNormalization(momentum=0.7),
    )
    for layer in (ghost, plain):
        layer.build(x.shape)
        layer.set_weights(weights)
    assert_close(ghost(x, training=True), plain(x, training=True), atol=1e-6)
    for a, b in zip(ghost.get_weights(), plain.get_weights()):
        assert_close(a, b, atol=1e-6)
    assert_close(ghost(x, training=False), plain(x, training=False), atol=1e-6)


def test_ghost_batch_normalization_against_numpy_virtual_batches():
    x = _data(12, 4)
    layer = GhostBatchNormalization(virtual_batch_size=4, momentum=0.9, epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta, moving_mean, moving_variance = _random_bn_weights(4)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    groups = x.reshape(3, 4, 4)
    means, variances = groups.mean(axis=1, keepdims=True), groups.var(axis=1, keepdims=True)
    expected = _numpy_batch_norm(groups, means, variances, gamma, beta, 1e-3).reshape(12, 4)
    assert_close(y, expected, atol=1e-5)
    assert_close(
        layer.moving_mean, 0.9 * moving_mean + 0.1 * means.mean(axis=0)[0], atol=1e-6
    )
    assert_close(
        layer.moving_variance, 0.9 * moving_variance + 0.1 * variances.mean(axis=0)[0], atol=1e-6
    )
    # Each virtual batch on its own is standardized: it differs from whole-batch normalization.
    assert (
        np.abs(y - keras.ops.convert_to_numpy(BatchNormalization()(x, training=True))).max() > 1e-2
    )


def test_ghost_batch_normalization_passes_harness():
    run_layer_test(
        GhostBatchNormalization,
        {"virtual_batch_size": 4, "momentum": 0.9},
        _data(8, 3, 3, 2),
        expected_output_shape=(None, 3, 3, 2),
    )


def test_ghost_batch_normalization_rejects_bad_virtual_batch_size():
    with pytest.raises(
        ValueError,
        match=r"`virtual_batch_size` must divide the batch size. "
        r"Received: virtual_batch_size=4, batch size 6",
    ):
        GhostBatchNormalization(virtual_batch_size=4)(np.zeros((6, 3), "float32"), training=True)
    with pytest.raises(
        ValueError,
        match=r"Argument `virtual_batch_size` must be a positive integer. "
        r"Received: virtual_batch_size=0",
    ):
        GhostBatchNormalization(virtual_batch_size=0)


# -------------------------------------------------------------------- TimeStepBatchNormalization


def test_time_step_batch_normalization_equals_keras_batch_norm_per_time_step():
    x = _data(6, 4, 3)
    time_steps = 4
    gamma, beta, moving_mean, moving_variance = _random_bn_weights(3, (time_steps, 3))
    layer = TimeStepBatchNormalization(momentum=0.6)
    layer.build(x.shape)
    assert layer.moving_mean.shape == (time_steps, 3)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    for training in (True, False):
        y = keras.ops.convert_to_numpy(layer(x, training=training))
        for t in range(time_steps):
            reference = keras.layers.BatchNormalization(momentum=0.6)
            reference.build((6, 3))
            reference.set_weights([gamma, beta, moving_mean[t], moving_variance[t]])
            assert_close(y[:, t], reference(x[:, t], training=training), atol=1e-5)
            if training:
                assert_close(layer.moving_mean[t], reference.moving_mean, atol=1e-6)
                assert_close(
                    layer.moving_variance[t], reference.moving_variance, atol=1e-6
                )
        moving_mean, moving_variance = _np(layer.moving_mean), _np(layer.moving_variance)


def test_time_step_batch_normalization_masks_padded_steps():
    x = _data(5, 4, 2)
    mask = np.ones((5, 4), bool)
    mask[2:, 2] = False  # step 2: only sequences 0 and 1 are real
    mask[:, 3] = False  # step 3: padding everywhere
    padded = x.copy()
    padded[~mask] = 1e3  # padding values must not leak into the statistics
    layer = TimeStepBatchNormalization(momentum=0.5, epsilon=1e-3)
    layer.build(x.shape)
    gamma, beta, moving_mean, moving_variance = _random_bn_weights(2, (4, 2))
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    y = keras.ops.convert_to_numpy(layer(padded, training=True, mask=mask))
    for t in range(4):
        real = x[mask[:, t], t]
        if len(real):
            mean, variance = real.mean(axis=0), real.var(axis=0)
        else:
            mean, variance = moving_mean[t], moving_variance[t]
        expected = _numpy_batch_norm(x[mask[:, t], t], mean, variance, gamma, beta, 1e-3)
        assert_close(y[mask[:, t], t], expected, atol=1e-4)
        assert_close(
            layer.moving_mean[t], 0.5 * moving_mean[t] + 0.5 * mean, atol=1e-5
        )
        assert_close(
            layer.moving_variance[t], 0.5 * moving_variance[t] + 0.5 * variance, atol=1e-5
        )
    # The mask reaches the next layer.
    inputs = keras.Input((4, 2))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    normalized = TimeStepBatchNormalization()(masked)
    assert normalized._keras_mask is not None


def test_time_step_batch_normalization_passes_harness_with_mask():
    mask = np.ones((6, 4), bool)
    mask[3:, 2:] = False
    run_layer_test(
        TimeStepBatchNormalization,
        {"momentum": 0.9},
        _data(6, 4, 3),
        call_kwargs={"mask": mask},
        expected_output_shape=(None, 4, 3),
    )


def test_time_step_batch_normalization_rejects_bad_shapes():
    with pytest.raises(
        ValueError,
        match=r"expects an input of rank >= 3. Received: input shape \(4, 3\) \(rank 2\)",
    ):
        TimeStepBatchNormalization()(np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"`axis` must not be the time axis 1. Received: axis=1"):
        TimeStepBatchNormalization(axis=1)(np.zeros((4, 3, 2), "float32"))
    with pytest.raises(
        ValueError, match=r"`axis` is out of range for an input of rank 3; expected -3 <= axis < 3"
    ):
        TimeStepBatchNormalization(axis=3)(np.zeros((4, 3, 2), "float32"))
    with pytest.raises(
        ValueError,
        match=r"needs a known number of time steps .* Received: input shape \(None, None, 2\)",
    ):
        TimeStepBatchNormalization()(keras.Input((None, 2)))
