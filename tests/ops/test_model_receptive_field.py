"""Receptive field over the paths of a functional model's graph (Inception branches)."""

import keras
import numpy as np

from kerasnn import backend, models
from kerasnn.ops import geometry


def _measured(model, input_size):
    """Extent of the input pixels the centre output unit depends on (non-zero gradient)."""

    def centre(x):
        y = model(x)
        return y[0, y.shape[1] // 2, y.shape[2] // 2, 0]

    _, gradient = backend.value_and_gradient(centre, keras.ops.ones((1, *input_size, 1)))
    rows, cols = np.nonzero(keras.ops.convert_to_numpy(gradient)[0, :, :, 0])
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def _conv(filters, size, name, **kwargs):
    return keras.layers.Conv2D(filters, size, padding="same", kernel_initializer="ones",
                               use_bias=False, name=name, **kwargs)


def test_branches_take_the_largest_field_as_the_gradient_shows():
    # stem 3x3, then branches: 7x7 (3 + 6 = 9), two 3x3 (3 + 2 + 2 = 7), pool 3 + 1x1 (5).
    inputs = keras.Input((31, 31, 1))
    stem = _conv(1, 3, "stem")(inputs)
    wide = _conv(1, 7, "wide")(stem)
    deep = _conv(1, 3, "deep2")(_conv(1, 3, "deep1")(stem))
    pooled = _conv(1, 1, "projection")(
        keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool")(stem))
    merged = keras.layers.Add(name="merge")([wide, deep, pooled])
    model = keras.Model(inputs, merged)
    field, path = geometry.model_receptive_field(model)
    assert field == geometry.ReceptiveField((9, 9), (1, 1)) and path == ["stem", "wide"]
    linear = keras.Model(inputs, keras.layers.Add()([wide, deep]))  # max pooling is not linear
    assert _measured(linear, (31, 31)) == (9, 9)
    # Without the wide branch the two 3x3 convolutions give the field (section "VGG16").
    narrow = keras.Model(inputs, keras.layers.Add()([deep, pooled]))
    assert geometry.model_receptive_field(narrow) == (
        geometry.ReceptiveField((7, 7), (1, 1)), ["stem", "deep1", "deep2"])


def test_a_chain_gives_receptive_field_of_its_layers():
    vgg = models.vgg((32, 32, 1), 10, filters=(8, 16, 16), convs_per_block=(1, 2, 3),
                     dense_units=())
    field, path = geometry.model_receptive_field(vgg)  # stops before Flatten
    assert field == geometry.receptive_field([vgg.get_layer(name) for name in path])
    # By hand: conv 3, pool 4 (jump 2), two convs 8, 12, pool 14 (jump 4), three convs 22, 30,
    # 38, pool 42 (jump 8).
    assert field == geometry.ReceptiveField((42, 42), (8, 8))


def test_the_inception_net_figure_follows_the_model():
    # 3x3 stem, 5x5 branch (7), pool 2/2 (8, jump 2), 5x5 branch (16): the default two modules.
    two = models.inception_net((32, 32, 1), 10)
    field, path = geometry.model_receptive_field(two)
    assert field.size == (16, 16) and path[-1] == "inception2_5x5"
    module = models.cnn.SMALL_INCEPTION_MODULES[0]
    three = models.inception_net((32, 32, 1), 10, modules=(module,) * 3)
    assert geometry.model_receptive_field(three)[0].size == (34, 34)  # pool (18, jump 4), 5x5
    assert geometry.model_receptive_field(three, "inception1_concat")[0].size == (7, 7)
    # LeNet-5 resizes 8x8 digits to 32x32: the field is counted in the resized pixels.
    assert geometry.model_receptive_field(models.lenet5((8, 8, 1), 10))[0].size == (32, 32)
