"""kerasnn.models.transfer: the base, the new head, freezing, and keras.applications by name."""

import keras
import numpy as np
import pytest

from kerasnn import layers, models


def test_small_cnn_backbone_structure():
    backbone = models.small_cnn_backbone((32, 32, 3), filters=(4, 8))
    assert backbone.output_shape == (None, 8)
    # Two convolutions per block are tunable; batch norm (momentum 0.9) is not.
    assert [layer.name for layer in models.tunable_layers(backbone)] == [
        "block1_conv1",
        "block1_conv2",
        "block2_conv1",
        "block2_conv2",
    ]
    assert {
        layer.momentum for layer in backbone.layers if isinstance(layer, layers.BatchNormalization)
    } == {0.9}


@pytest.mark.parametrize("num_layers", [0, 1, 4])
def test_set_trainable_tail_unfreezes_exactly_the_last_layers(num_layers):
    backbone = models.small_cnn_backbone((16, 16, 3), filters=(4, 8))
    models.set_trainable_tail(backbone, num_layers)
    flags = [layer.trainable for layer in models.tunable_layers(backbone)]
    assert flags == [False] * (4 - num_layers) + [True] * num_layers
    assert not any(
        layer.trainable for layer in backbone.layers if isinstance(layer, layers.BatchNormalization)
    )
    assert len(backbone.trainable_weights) == num_layers  # one kernel per unfrozen conv


def test_set_trainable_tail_rejects_out_of_range():
    backbone = models.small_cnn_backbone((16, 16, 3), filters=(4,))
    with pytest.raises(
        ValueError,
        match=r"Argument `num_layers` must be an integer in \[0, 2\]\. Received: num_layers=3",
    ):
        models.set_trainable_tail(backbone, 3)


def test_fine_tuning_keeps_the_source_batch_norm_statistics():
    backbone = models.small_cnn_backbone((8, 8, 3), filters=(4,))
    bn = backbone.get_layer("block1_bn1")
    before = bn.moving_mean.numpy().copy()
    x = np.random.default_rng(0).normal(5.0, 1.0, (8, 8, 8, 3)).astype("float32")
    models.set_trainable_tail(backbone, 2)
    model = models.classifier(backbone, 3, head_units=4, dropout=0.0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    kernel_before = backbone.get_layer("block1_conv1").kernel.numpy().copy()
    model.fit(x, np.zeros(8), epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)
    assert not np.allclose(backbone.get_layer("block1_conv1").kernel.numpy(), kernel_before)
    # A base trained from scratch (all trainable) does update its statistics.
    scratch_base = models.small_cnn_backbone((8, 8, 3), filters=(4,))
    scratch = models.classifier(scratch_base, 3)
    scratch.compile("sgd", "sparse_categorical_crossentropy")
    scratch.fit(x, np.zeros(8), epochs=1, verbose=0)
    assert not np.allclose(scratch_base.get_layer("block1_bn1").moving_mean.numpy(), before)


def test_keras_application_by_loose_name():
    backbone, preprocess = models.keras_application("mobilenet_v2", (32, 32, 3))
    assert backbone.name == "backbone" and backbone.output_shape == (None, 1280)
    assert any(layer.name.startswith("Conv1") for layer in backbone.layers)  # MobileNetV2's stem
    # MobileNetV2 expects inputs in [-1, 1].
    np.testing.assert_allclose(preprocess(np.array([0.0, 127.5, 255.0])), [-1.0, 0.0, 1.0])
    keras.backend.clear_session()


def test_unknown_application_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown backbone 'alexnet'.*MobileNetV2.*ResNet50"):
        models.keras_application("alexnet", (32, 32, 3))
