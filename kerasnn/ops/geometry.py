"""Geometry of convolution and pooling stacks: output sizes and receptive fields.

Course sections: "Convolutional Layers" (output-size formula), "Pooling Layers", "Receptive Field".

Sizes are per spatial axis: pass an int for one axis or a tuple for several (``(rows, cols)``);
the result has the same form.
"""

import dataclasses
import math

import numpy as np


def _per_axis(name, value, num_axes):
    values = (value,) * num_axes if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != num_axes or any(isinstance(v, bool) or int(v) != v or v <= 0 for v in values):
        raise ValueError(
            f"Argument `{name}` must be a positive integer or {num_axes} of them; received {name}={value!r}."
        )
    return tuple(int(v) for v in values)


def conv_output_size(input_size, kernel_size, strides=1, padding="valid", dilation_rate=1):
    """Spatial output size of a convolution or pooling window sliding over ``input_size``.

    Section "Convolutional Layers": with filter size ``F``, stride ``S`` and zero padding ``P`` on
    each side, ``out = floor((H - F + 2P) / S) + 1``. A dilation ``D`` spreads the filter to
    ``D (F - 1) + 1`` pixels. Keras' ``padding="same"`` pads just enough for
    ``out = ceil(H / S)``; ``"valid"`` is ``P = 0``; an int ``P`` is explicit zero padding (as
    ``ZeroPadding2D(P)`` before a ``"valid"`` layer). Pooling layers follow the same formula
    (section "Pooling Layers") with ``F`` the pool size.

    Args:
        input_size: ``H`` (int) or one size per spatial axis (tuple).
        kernel_size, strides, dilation_rate: an int or one per axis.
        padding: ``"valid"``, ``"same"`` or a non-negative int ``P``.

    Returns:
        The output size(s), in the form of ``input_size``.

    Raises:
        ValueError: invalid arguments, or a window larger than the padded input.

    Example:
        >>> conv_output_size(5, 3)          # the notes' example: floor((5 - 3) / 1) + 1
        3
        >>> conv_output_size((32, 28), 5, strides=2, padding=2)
        (16, 14)
    """
    scalar = isinstance(input_size, (int, np.integer))
    sizes = _per_axis("input_size", input_size, 1 if scalar else len(tuple(input_size)))
    num_axes = len(sizes)
    kernels = _per_axis("kernel_size", kernel_size, num_axes)
    strides = _per_axis("strides", strides, num_axes)
    dilations = _per_axis("dilation_rate", dilation_rate, num_axes)
    if isinstance(padding, str):
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(
                f"Argument `padding` must be 'valid', 'same' or an int >= 0; received padding={padding!r}."
            )
    elif isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(
            f"Argument `padding` must be 'valid', 'same' or an int >= 0; received padding={padding!r}."
        )

    outputs = []
    for size, kernel, stride, dilation in zip(sizes, kernels, strides, dilations):
        if padding == "same":
            outputs.append(math.ceil(size / stride))
            continue
        pad = 0 if padding == "valid" else int(padding)
        span = dilation * (kernel - 1) + 1
        if size + 2 * pad < span:
            raise ValueError(
                f"The window ({span} pixels with kernel_size={kernel}, dilation_rate={dilation}) is larger "
                f"than the padded input ({size} + 2*{pad} pixels)."
            )
        outputs.append((size + 2 * pad - span) // stride + 1)
    return outputs[0] if scalar else tuple(outputs)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one output unit of a stack.

    Attributes:
        size: how many input pixels (per axis) one output unit depends on.
        jump: distance in input pixels between two neighbouring output units (product of strides).
    """

    size: object
    jump: object


_POINTWISE_LAYERS = (
    "Activation",
    "BatchNormalization",
    "Dropout",
    "ReLU",
    "LeakyReLU",
    "InputLayer",
    "LayerNormalization",
    "GaussianNoise",
    "SpatialDropout",
    "Rescaling",
    "Normalization",
)


def _layer_spec(layer):
    """(kernel, stride, dilation) per axis of a Keras layer, or None when it is pointwise."""
    kind = type(layer).__name__
    if kind.startswith("Global") or kind in ("Flatten", "Dense", "Reshape", "Resizing"):
        raise ValueError(
            f"Layer {layer.name!r} ({kind}) is not a local (convolution or pooling) layer: "
            "the receptive field is defined for the stack before it."
        )
    if "Transpose" in kind:
        raise ValueError(
            f"Layer {layer.name!r} ({kind}): transposed convolutions are not supported."
        )
    if hasattr(layer, "kernel_size"):
        return (layer.kernel_size, layer.strides, getattr(layer, "dilation_rate", 1))
    if hasattr(layer, "pool_size"):
        return (layer.pool_size, layer.strides or layer.pool_size, 1)
    if any(kind.startswith(prefix) for prefix in _POINTWISE_LAYERS + ("ZeroPadding", "Cropping")):
        return None
    raise ValueError(f"Layer {layer.name!r} ({kind}) has unknown geometry.")


def receptive_field(stack):
    """Receptive field of the last layer of a stack of convolution and pooling layers.

    Section "Receptive Field": every output depends on a window of the input that grows with
    depth. Walking the stack from the input, with ``r_0 = 1`` and ``j_0 = 1``::

        r_l = r_{l-1} + (D_l (F_l - 1)) * j_{l-1}        j_l = j_{l-1} * S_l

    where ``F_l``, ``S_l``, ``D_l`` are the kernel (pool) size, stride and dilation of layer ``l``.
    Padding moves the window but does not change its size. Two 3x3 convolutions see 5x5 and three
    see 7x7 (section "VGG16").

    Args:
        stack: a ``keras.Model`` or a list of Keras layers (convolutions, pooling and pointwise
            layers such as activations, batch normalization or dropout), or a list of
            ``(kernel_size, strides)`` / ``(kernel_size, strides, dilation_rate)`` tuples whose
            entries are ints (one axis) or tuples (one per axis).

    Returns:
        ``ReceptiveField(size, jump)``: ints for int specs, tuples per axis otherwise (2 axes
        for Keras layers).

    Example:
        >>> receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)]).size
        10
    """
    layers = getattr(stack, "layers", stack)
    specs = []
    for item in layers:
        if isinstance(item, (tuple, list)):
            if len(item) not in (2, 3):
                raise ValueError(
                    "Each spec must be (kernel_size, strides) or (kernel_size, strides, dilation_rate); "
                    f"received {item!r}."
                )
            specs.append(tuple(item) if len(item) == 3 else (*item, 1))
        else:
            spec = _layer_spec(item)
            if spec is not None:
                specs.append(spec)
    scalar = all(isinstance(v, (int, np.integer)) for spec in specs for v in spec)
    num_axes = (
        1
        if scalar
        else max(
            (len(v) for spec in specs for v in spec if not isinstance(v, (int, np.integer))),
            default=2,
        )
    )
    size = np.ones(num_axes, dtype=np.int64)
    jump = np.ones(num_axes, dtype=np.int64)
    for spec in specs:
        size, jump = _grow(size, jump, spec)
    if scalar:
        return ReceptiveField(int(size[0]), int(jump[0]))
    return ReceptiveField(tuple(int(v) for v in size), tuple(int(v) for v in jump))


def _grow(size, jump, spec):
    """One step: ``r_l = r_{l-1} + D_l (F_l - 1) j_{l-1}`` and ``j_l = j_{l-1} S_l``."""
    kernel, stride, dilation = (np.array(_per_axis(name, value, len(size)))
                                for name, value in zip(_SPEC_NAMES, spec))
    return size + dilation * (kernel - 1) * jump, jump * stride


_SPEC_NAMES = ("kernel_size", "strides", "dilation_rate")


def _ends_the_stack(layer):
    kind = type(layer).__name__
    return kind.startswith("Global") or kind in ("Flatten", "ClassActivationMapping")


def model_receptive_field(model, layer=None):
    """Receptive field of a functional model's feature maps, over every path of its graph.

    Section "Receptive Field", for networks that are not a chain (the Inception module's parallel
    1x1, 3x3, 5x5 and pooling branches): every path from the input to the feature maps has the
    field of ``receptive_field`` over its layers, and a unit of the concatenated maps sees the
    union of its branches' windows, the largest of them (zero padding centres them all). Paths are
    walked through the built model's graph, so a change of the model changes the figure. A
    ``Resizing`` layer starts the paths: the field is in the pixels of the image it produces.

    Args:
        model: a functional ``keras.Model``.
        layer: the layer (or its name) whose output is measured; default: the input of the first
            global pooling, ``Flatten`` or ``ClassActivationMapping`` layer (else the output).

    Returns:
        ``(ReceptiveField, path)``: the largest field (sizes and jumps per axis, as tuples) and
        the names of the convolution and pooling layers on a path that has it.

    Example:
        >>> import keras
        >>> inputs = keras.Input((16, 16, 1))
        >>> branches = [keras.layers.Conv2D(1, k, padding="same", name=f"conv{k}")(inputs)
        ...             for k in (3, 5)]
        >>> model = keras.Model(inputs, keras.layers.Concatenate()(branches))
        >>> model_receptive_field(model)
        (ReceptiveField(size=(5, 5), jump=(1, 1)), ['conv5'])
    """
    if isinstance(layer, str):
        layer = model.get_layer(layer)
    if layer is not None:
        tensor = layer.output
    else:
        ends = [candidate for candidate in model.layers if _ends_the_stack(candidate)]
        tensor = ends[0].input if ends else model.outputs[0]
    fields = _fields(tensor, {})
    jump = max(fields, key=lambda key: fields[key][0])
    size, path = fields[jump]
    return ReceptiveField(size, jump), path


def _fields(tensor, memo):
    """``{jump: (size, path)}``: per jump, the largest field of a path ending at ``tensor``.

    Keeping the largest size per jump is exact: the recursion grows with ``r_{l-1}`` at fixed
    ``j_{l-1}``. (Keras keeps the graph in ``_keras_history`` / ``_inbound_nodes``; its own
    functional-model code walks the same attributes.)
    """
    if id(tensor) in memo:
        return memo[id(tensor)]
    operation, node_index, _ = tensor._keras_history
    kind = type(operation).__name__
    if kind in ("InputLayer", "Resizing"):
        fields = {(1, 1): ((1, 1), [])}
    else:
        inputs = operation._inbound_nodes[node_index].input_tensors
        fields = {}
        for parent in inputs:
            for jump, (size, path) in _fields(parent, memo).items():
                spec = _layer_spec(operation) if len(inputs) == 1 else None  # merges: pointwise
                if spec is not None:
                    grown, jump = _grow(np.array(size), np.array(jump), spec)
                    size, jump = tuple(int(v) for v in grown), tuple(int(v) for v in jump)
                    path = [*path, operation.name]
                if jump not in fields or size > fields[jump][0]:
                    fields[jump] = (size, path)
    memo[id(tensor)] = fields
    return fields
