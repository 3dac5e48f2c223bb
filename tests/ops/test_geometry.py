"""Output-size formula and receptive field against what Keras actually computes."""

import keras
import numpy as np
import pytest

from kerasnn import backend, models
from kerasnn.ops import geometry


def test_notes_examples():
    assert geometry.conv_output_size(5, 3) == 3  # floor((5 - 3) / 1) + 1
    assert geometry.conv_output_size((32, 32), 5) == (28, 28)  # LeNet-5's C1
    assert geometry.conv_output_size(7, 3, strides=2, padding=1) == 4  # (7 - 3 + 2) / 2 + 1
    assert geometry.receptive_field([(3, 1)] * 2).size == 5  # two 3x3 convolutions see 5x5
    assert geometry.receptive_field([(3, 1)] * 3).size == 7


def _random_layer(rng):
    kind = rng.choice(["conv", "conv_dilated", "max", "average", "padded_conv"])
    kernel = tuple(int(v) for v in rng.integers(1, 6, size=2))
    if kind in ("conv", "padded_conv"):
        strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
        return kind, dict(
            kernel_size=kernel,
            strides=strides,
            padding=str(rng.choice(["valid", "same"])),
            dilation_rate=1,
        )
    if kind == "conv_dilated":  # Keras forbids strides > 1 with dilation > 1
        dilation = tuple(int(v) for v in rng.integers(1, 4, size=2))
        return kind, dict(
            kernel_size=kernel,
            strides=1,
            padding=str(rng.choice(["valid", "same"])),
            dilation_rate=dilation,
        )
    strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
    return kind, dict(
        kernel_size=kernel,
        strides=strides,
        padding=str(rng.choice(["valid", "same"])),
        dilation_rate=1,
    )


def _computed_size(stack, size):
    """(height, width) of the output the backend computes for the layers on a (1, *size, 1) input.

    The layers really run on TensorFlow and PyTorch. On JAX, where each new shape of an eager call
    compiles (30 s for the 150 configurations below), ``jax.eval_shape`` traces the same calls
    through the same ``lax`` convolution and window reductions and returns their output shape,
    computed by JAX's own shape rules, without compiling them.
    """

    def run(x):
        for layer in stack:
            x = layer(x)
        return x

    x = np.zeros((1, *size, 1), "float32")
    if keras.backend.backend() == "jax":
        import jax

        # Built outside the trace: their weights are created eagerly, as in the other backends.
        run(keras.KerasTensor(x.shape))
        return tuple(jax.eval_shape(run, jax.ShapeDtypeStruct(x.shape, x.dtype)).shape[1:3])
    return tuple(run(x).shape[1:3])


def test_conv_output_size_matches_keras_on_random_configurations():
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 150:
        kind, options = _random_layer(rng)
        size = tuple(int(v) for v in rng.integers(1, 30, size=2))
        pad = int(rng.integers(0, 3)) if kind == "padded_conv" else 0
        try:
            expected = geometry.conv_output_size(
                size,
                options["kernel_size"],
                options["strides"],
                pad if kind == "padded_conv" else options["padding"],
                options["dilation_rate"],
            )
        except ValueError:
            continue  # window larger than the input: Keras refuses those too
        if kind in ("max", "average"):
            pool = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
            layer = pool(options["kernel_size"], options["strides"], padding=options["padding"])
        else:
            layer = keras.layers.Conv2D(
                1,
                options["kernel_size"],
                strides=options["strides"],
                padding="valid" if kind == "padded_conv" else options["padding"],
                dilation_rate=options["dilation_rate"],
            )
        stack = [keras.layers.ZeroPadding2D(pad), layer] if pad else [layer]
        assert _computed_size(stack, size) == expected, (kind, options, size, pad)
        checked += 1


def test_conv_output_size_rejects_windows_larger_than_the_input_and_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"Argument `kernel_size` must be a window no larger than the padded input "
        r"\(4 \+ 2\*0 ",
    ):
        geometry.conv_output_size(4, 5)
    with pytest.raises(ValueError, match="padding='full'"):
        geometry.conv_output_size(4, 3, padding="full")
    with pytest.raises(ValueError, match="strides=0"):
        geometry.conv_output_size(4, 3, strides=0)


def _measured_receptive_field(model, input_size):
    """Extent of the input pixels that the centre output unit depends on (non-zero gradient)."""

    def centre(x):
        y = model(x)
        return y[0, y.shape[1] // 2, y.shape[2] // 2, 0]

    _, gradient = backend.value_and_gradient(centre, keras.ops.ones((1, *input_size, 1)))
    rows, cols = np.nonzero(keras.ops.convert_to_numpy(gradient)[0, :, :, 0])
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def test_receptive_field_matches_gradient_support_of_random_keras_stacks():
    rng = np.random.default_rng(1)
    for _ in range(25):
        stack = []
        for _ in range(int(rng.integers(1, 5))):
            kind, options = _random_layer(rng)
            if kind in ("max", "average"):
                # Average pooling has the same geometry as max pooling and a dense gradient.
                stack.append(
                    keras.layers.AveragePooling2D(
                        options["kernel_size"], options["strides"], padding="valid"
                    )
                )
            else:
                stack.append(
                    keras.layers.Conv2D(
                        1,
                        options["kernel_size"],
                        strides=options["strides"],
                        dilation_rate=options["dilation_rate"],
                        padding="valid",
                        kernel_initializer="ones",
                        use_bias=False,
                    )
                )
            if rng.random() < 0.3:
                stack.append(keras.layers.Activation("linear"))
        expected = geometry.receptive_field(stack)
        input_size = tuple(3 * s + 2 * j for s, j in zip(expected.size, expected.jump))
        model = keras.Sequential([keras.Input((*input_size, 1)), *stack])
        assert _measured_receptive_field(model, input_size) == expected.size, [
            layer.get_config() for layer in stack
        ]


def test_receptive_field_of_lenet5_and_vgg16():
    lenet = models.lenet5((32, 32, 1), 10)
    trunk = [layer for layer in lenet.layers if layer.name in ("c1", "s2", "c3", "s4", "c5")]
    assert geometry.receptive_field(trunk) == geometry.ReceptiveField((32, 32), (4, 4))
    vgg_trunk = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)] + ([(3, 1)] * 3 + [(2, 2)]) * 3
    assert geometry.receptive_field(vgg_trunk) == geometry.ReceptiveField(212, 32)


def test_receptive_field_rejects_non_local_layers():
    with pytest.raises(
        ValueError,
        match=r"Argument `stack` must be local \(convolution or pooling\) layers, not transposed\. "
        r"Received: layer 'flatten.*' \(Flatten\)",
    ):
        geometry.receptive_field([keras.layers.Conv2D(1, 3), keras.layers.Flatten()])
