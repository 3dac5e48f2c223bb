"""Builders produce the architectures' known layer shapes and parameter counts."""

import keras
import numpy as np
import pytest

from kerasnn import layers, models


def _conv_params(kernel, in_channels, filters):
    return kernel * kernel * in_channels * filters + filters


def test_lenet5_layer_shapes_and_parameters_match_the_classic_network():
    model = models.lenet5((32, 32, 1), 10)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes == {
        "image": (32, 32, 1),
        "c1": (28, 28, 6),
        "s2": (14, 14, 6),
        "c3": (10, 10, 16),
        "s4": (5, 5, 16),
        "c5": (1, 1, 120),
        "flatten": (120,),
        "f6": (84,),
        "output": (10,),
    }
    expected = {
        "c1": _conv_params(5, 1, 6),
        "c3": _conv_params(5, 6, 16),
        "c5": _conv_params(5, 16, 120),
        "f6": 120 * 84 + 84,
        "output": 84 * 10 + 10,
    }
    assert {name: model.get_layer(name).count_params() for name in expected} == expected
    assert model.count_params() == 61_706
    assert isinstance(model.get_layer("s2"), keras.layers.AveragePooling2D)


def test_lenet5_resizes_small_inputs_to_32x32_and_keeps_the_architecture():
    model = models.lenet5((8, 8, 1), 10)
    assert tuple(model.get_layer("resize").output.shape[1:]) == (32, 32, 1)
    assert model.count_params() == 61_706
    probabilities = model(np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32))
    np.testing.assert_allclose(np.sum(probabilities, axis=-1), 1.0, rtol=1e-5)


def test_vgg16_defaults_have_vgg16_parameter_count():
    # 138,357,544 is the published VGG16 size (224x224x3 input, 1000 classes).
    model = models.vgg((224, 224, 3), 1000)
    assert model.count_params() == 138_357_544
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 13 and all(layer.kernel_size == (3, 3) for layer in convs)
    assert tuple(model.get_layer("block5_pool").output.shape[1:]) == (7, 7, 512)


def test_vgg_convolutional_part_matches_keras_applications_vgg16():
    ours = models.vgg((32, 32, 3), 10, dense_units=(), dropout=0.0)
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    ours_shapes = [tuple(x.output.shape) for x in ours.layers if "block" in x.name]
    reference_shapes = [tuple(x.output.shape) for x in reference.layers if "block" in x.name]
    assert ours_shapes == reference_shapes
    assert ours.count_params() - (512 * 10 + 10) == reference.count_params() == 14_714_688


def test_small_vgg_skips_pooling_once_the_maps_are_one_pixel():
    model = models.vgg(
        (4, 4, 1),
        3,
        filters=(8, 8, 8, 8),
        convs_per_block=1,
        dense_units=(16,),
        dropout=0.0,
        batch_normalization=True,
    )
    assert [x.name for x in model.layers if "pool" in x.name] == ["block1_pool", "block2_pool"]
    # 4 convs without bias + 4 BN (4 weights of 8) + dense + output
    expected = (9 * 1 * 8 + 3 * 9 * 8 * 8) + 4 * 4 * 8 + (8 * 16 + 16) + (16 * 3 + 3)
    assert model.count_params() == expected


def test_inception_module_branches_and_parameters():
    inputs = keras.Input((28, 28, 192))
    outputs = models.inception_module(inputs, 64, 96, 128, 16, 32, 32, name="inception3a")
    module = keras.Model(inputs, outputs)
    assert tuple(outputs.shape) == (None, 28, 28, 64 + 128 + 32 + 32)
    expected = (
        _conv_params(1, 192, 64)
        + _conv_params(1, 192, 96)
        + _conv_params(3, 96, 128)
        + _conv_params(1, 192, 16)
        + _conv_params(5, 16, 32)
        + _conv_params(1, 192, 32)
    )
    assert module.count_params() == expected == 163_696
    assert module.get_layer("inception3a_pool").strides == (1, 1)


def test_inception_module_equals_its_branches_concatenated():
    inputs = keras.Input((6, 6, 3))
    module = keras.Model(inputs, models.inception_module(inputs, 2, 2, 3, 1, 2, 2, name="m"))
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 3)).astype("float32")
    layer = module.get_layer
    branches = [
        layer("m_1x1")(x),
        layer("m_3x3")(layer("m_3x3_reduce")(x)),
        layer("m_5x5")(layer("m_5x5_reduce")(x)),
        layer("m_pool_projection")(layer("m_pool")(x)),
    ]
    np.testing.assert_allclose(module(x), np.concatenate(branches, axis=-1), rtol=1e-5, atol=1e-6)


def test_inception_net_shapes_and_parameters():
    modules = ((4, 4, 8, 2, 4, 4), (8, 4, 8, 2, 4, 4))
    model = models.inception_net((8, 8, 1), 5, stem_filters=8, modules=modules, dropout=0.0)
    assert tuple(model.get_layer("inception1_concat").output.shape[1:]) == (8, 8, 20)
    assert tuple(model.get_layer("inception2_concat").output.shape[1:]) == (4, 4, 24)

    def module_params(c, f):
        return (
            _conv_params(1, c, f[0])
            + _conv_params(1, c, f[1])
            + _conv_params(3, f[1], f[2])
            + _conv_params(1, c, f[3])
            + _conv_params(5, f[3], f[4])
            + _conv_params(1, c, f[5])
        )

    expected = (
        _conv_params(3, 1, 8)
        + module_params(8, modules[0])
        + module_params(20, modules[1])
        + 24 * 5
        + 5
    )
    assert model.count_params() == expected


def test_linear_classifier_is_wx_plus_b():
    model = models.linear_classifier((4, 4, 2), 3)
    assert model.count_params() == 4 * 4 * 2 * 3 + 3
    kernel, bias = model.get_layer("scores").get_weights()
    x = np.random.default_rng(2).random((5, 4, 4, 2), dtype=np.float32)
    np.testing.assert_allclose(model(x), x.reshape(5, -1) @ kernel + bias, rtol=1e-5, atol=1e-6)


def test_mlp_parameters():
    model = models.mlp((8, 8, 1), 10, hidden_units=(32, 16), dropout=0.1)
    assert model.count_params() == (64 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10)


def _knn_reference(train, labels, queries, k, distance, num_classes):
    diffs = queries[:, None, :] - train[None, :, :]
    d = np.abs(diffs).sum(-1) if distance == "l1" else np.sqrt((diffs**2).sum(-1))
    predictions = []
    for row in d:
        order = np.argsort(row, kind="stable")[:k]
        votes = np.bincount(labels[order], minlength=num_classes).astype(float)
        votes[labels[order[0]]] += 0.5
        predictions.append(votes.argmax())
    return np.array(predictions)


@pytest.mark.parametrize("distance", ["l1", "l2"])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_nearest_neighbor_classifier_matches_numpy_reference(distance, k):
    rng = np.random.default_rng(3)
    train = rng.random((40, 3, 3, 1)).astype("float32")
    labels = rng.integers(0, 4, 40)
    queries = rng.random((25, 3, 3, 1)).astype("float32")
    model = models.nearest_neighbor_classifier(train, labels, 4, k=k, distance=distance)
    output = np.asarray(model(queries))
    np.testing.assert_allclose(output.sum(-1), 1.0, rtol=1e-6)
    expected = _knn_reference(
        train.reshape(40, -1), labels, queries.reshape(25, -1), k, distance, 4
    )
    np.testing.assert_array_equal(output.argmax(-1), expected)


def test_nearest_neighbor_classifier_notes_example_l1_distance_and_save_round_trip(tmp_path):
    test_image = np.array(
        [[56, 32, 10, 18], [90, 23, 128, 133], [24, 26, 178, 200], [2, 0, 255, 220]], "float32"
    )
    train_image = np.array(
        [[10, 20, 24, 17], [8, 10, 89, 100], [12, 16, 178, 170], [4, 32, 233, 112]], "float32"
    )
    model = models.nearest_neighbor_classifier(train_image[None, :, :, None], [1], 2, distance="l1")
    layer = model.get_layer("neighbors")
    assert float(layer.distances(test_image[None, :, :, None])[0, 0]) == 456.0
    model.save(tmp_path / "knn.keras")
    restored = keras.saving.load_model(tmp_path / "knn.keras")
    np.testing.assert_array_equal(
        restored(test_image[None, :, :, None]), model(test_image[None, :, :, None])
    )


@pytest.mark.parametrize(
    "builder, kwargs, message",
    [
        (models.lenet5, dict(input_shape=(32, 32), num_classes=10), "input_shape"),
        (models.lenet5, dict(input_shape=(32, 32, 1), num_classes=0), "num_classes=0"),
        (
            models.lenet5,
            dict(input_shape=(32, 32, 1), num_classes=10, pooling="min"),
            "pooling='min'",
        ),
        (
            models.vgg,
            dict(input_shape=(8, 8, 1), num_classes=10, filters=(8, 8), convs_per_block=(1,)),
            r"Argument `convs_per_block` must be an int or one count per block of `filters` "
            r"\(2\)\. Received: convs_per_block=\(1,\)",
        ),
        (models.vgg, dict(input_shape=(8, 8, 1), num_classes=10, dropout=1.5), "dropout=1.5"),
        (
            models.inception_net,
            dict(input_shape=(8, 8, 1), num_classes=10, modules=((1, 2, 3),)),
            r"Argument `modules` must be at least one tuple of six filter counts\. "
            r"Received: modules=\(\(1, 2, 3\),\)",
        ),
        (models.linear_classifier, dict(input_shape=(8, 8, 1), num_classes=10, l2=-1.0), "l2=-1.0"),
    ],
)
def test_builders_reject_invalid_arguments(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        builder(**kwargs)


def test_nearest_neighbors_rejects_k_larger_than_the_training_set():
    with pytest.raises(ValueError, match="k=5"):
        layers.NearestNeighbors(3, 2, k=5)
    with pytest.raises(ValueError, match="distance='cos'"):
        layers.NearestNeighbors(3, 2, distance="cos")
