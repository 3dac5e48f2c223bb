"""Shared test helper for kerasnn layers: ``run_layer_test``.

Every public layer of ``kerasnn.layers`` goes through the same battery of checks (the list in
``DESIGN.md``), in the spirit of Keras' own ``run_layer_test``:

1. **Config round trip** -- ``get_config()`` is JSON-serialisable, names every argument passed in
   ``init_kwargs``, and ``layer_cls.from_config(config)`` rebuilds a layer with the *same* config
   which, after ``set_weights``, gives the *same* outputs.
2. **Symbolic vs eager** -- the layer called on ``keras.Input`` tensors (a functional model) gives
   the same outputs as the layer called eagerly on the arrays, both through ``model(x)`` and
   ``model.predict(x)`` (the compiled predict function). Symbolic output shapes agree with eager
   ones, with ``compute_output_shape`` and with ``expected_output_shape`` when given.
3. **Saving** -- the functional model saved as ``.keras`` and loaded back gives identical outputs
   (``atol=rtol=1e-6``).
4. **Training** -- gradients of a mean-squared-error loss reach every trainable weight (finite and
   not all zero) and every differentiable float input; one ``fit`` step then changes every
   trainable weight and leaves all weights finite.
5. **XLA** -- ``jit_compile=True`` gives the same inference outputs (``atol=rtol=1e-5``) and, when
   training is checked, one jit-compiled training step runs with a finite loss. This check is
   TensorFlow's: on JAX, ``predict`` (check 2) and ``fit`` (check 4) already run under
   ``jax.jit``, so they are the XLA check; on PyTorch ``jit_compile=True`` means
   ``torch.compile``, minutes per layer on a CPU, and not XLA.
6. **Mixed precision** -- under the ``mixed_float16`` policy a layer built from ``init_kwargs``
   keeps float32 variables, returns float outputs in float16 (``expected_mixed_precision_dtype``)
   and, given the float32 layer's weights, outputs close to float32:
   ``|y16 - y32| <= mixed_precision_atol + mixed_precision_rtol * |y32|`` with the defaults
   ``atol = rtol = 1e-2``, i.e. about ten float16 ulps around 1.0 (float16 has an 11-bit
   significand, relative spacing 2**-10 ~ 1e-3). Loosen them for layers that accumulate over many
   terms (long reductions, softmax of large logits) and say why in the test.

The harness is backend-agnostic: it runs under ``KERAS_BACKEND=tensorflow``, ``jax`` and
``torch``. Gradients come from ``kerasnn.backend.value_and_gradient`` on the model made a pure
function of its trainable weights and inputs by ``model.stateless_call``.

Import it from any test module (``tests/`` is on ``sys.path`` because it holds ``conftest.py``)::

    from layer_harness import run_layer_test

    def test_my_layer_passes_the_harness():
        run_layer_test(
            MyLayer,
            init_kwargs={"units": 3},
            input_data=np.random.rand(4, 5).astype("float32"),
            expected_output_shape=(None, 3),
        )

Inputs and outputs
------------------
``input_data`` is one array, or a list/tuple/dict of arrays for multi-input layers. How they are
handed to the layer is ``input_call_style``:

- ``"single"`` (default): the whole structure is the first positional argument
  (``layer(x)``, ``layer([features, boxes])``, ``layer({"a": a, "b": b})``);
- ``"args"``: a list/tuple is unpacked positionally (``layer(query, value)``);
- ``"kwargs"``: a dict is unpacked as keyword arguments (``layer(query=q, value=v)``).

``call_kwargs`` holds the other call arguments. Values that are arrays (NumPy or tensors), e.g. a
``mask``, become extra model inputs too; other values (``return_maps=True``) are passed as they are.

Integer and boolean inputs (argmax indices, masks, token ids) are never differentiated. Float inputs
that must not be checked for gradients (boxes, coordinates) are listed in
``non_differentiable_inputs``: indices for list/tuple inputs, keys for dict inputs and call-kwarg
arrays, ``0`` for a single array. ``check_input_gradients=False`` switches the input check off.

The layer may return one tensor or a tuple/list/dict of tensors. Integer/boolean outputs (argmax
indices) are compared for equality but get no loss; ``non_differentiable_outputs`` (indices or
keys) removes float outputs from the loss too.

Weights that legitimately receive no gradient are listed by (a substring of) their path in
``skip_gradient_weights``. Non-trainable weights (moving statistics) are never checked for
gradients; they may change in ``fit``.

Pass ``run_training=False``, ``run_jit=False``, ``run_mixed_precision=False`` or
``run_saving=False`` to skip a check, and say why in the test. ``static_batch_size=True`` gives the
``keras.Input`` tensors the batch size of the data (for layers that need it).

The function returns the eager outputs of the layer (as NumPy, same structure), so a test can go on
comparing them with a reference.
"""

import json
import os
import tempfile

import keras
import numpy as np

from kerasnn import backend

_CALL_STYLES = ("single", "args", "kwargs")

# Whether ``jit_compile=True`` means XLA: on TensorFlow and JAX; on PyTorch it is ``torch.compile``
# (minutes per layer on a CPU, and not XLA), so compiled checks in any test leave it out there.
XLA_JIT = keras.backend.backend() != "torch"


# --------------------------------------------------------------------------------------------------
# Small structure helpers
# --------------------------------------------------------------------------------------------------


def _as_array(value):
    """NumPy array; float64 data is cast to float32 (Keras' default float type)."""
    array = keras.ops.convert_to_numpy(value) if not isinstance(value, np.ndarray) else value
    if array.dtype == np.float64:
        array = array.astype("float32")
    return array


def _is_array(value):
    return isinstance(value, np.ndarray) or keras.ops.is_tensor(value)


def _is_float(dtype):
    return keras.backend.standardize_dtype(dtype).startswith(("float", "bfloat"))


def _dtype_name(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def _flatten_with_keys(structure):
    """[(key, leaf)] for a leaf, list/tuple (keys are indices) or dict (keys are dict keys)."""
    if isinstance(structure, dict):
        return list(structure.items())
    if isinstance(structure, (list, tuple)):
        return list(enumerate(structure))
    return [(0, structure)]


def _map_structure(fn, structure):
    if isinstance(structure, dict):
        return {key: fn(key, value) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(fn(index, value) for index, value in enumerate(structure))
    return fn(0, structure)


def _to_numpy_structure(outputs):
    return _map_structure(lambda _, value: keras.ops.convert_to_numpy(value), outputs)


def _assert_structures_close(actual, expected, atol, rtol, what):
    actual_items = _flatten_with_keys(actual)
    expected_items = _flatten_with_keys(expected)
    assert [k for k, _ in actual_items] == [k for k, _ in expected_items], (
        f"{what}: output structure differs: {[k for k, _ in actual_items]} "
        f"vs {[k for k, _ in expected_items]}"
    )
    for (key, got), (_, want) in zip(actual_items, expected_items):
        got = np.asarray(keras.ops.convert_to_numpy(got))
        want = np.asarray(keras.ops.convert_to_numpy(want))
        assert got.shape == want.shape, (
            f"{what}: output {key!r} has shape {got.shape}, expected {want.shape}"
        )
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(got, want, err_msg=f"{what}: output {key!r}")
        else:
            np.testing.assert_allclose(
                got.astype("float64"),
                want.astype("float64"),
                atol=atol,
                rtol=rtol,
                err_msg=f"{what}: output {key!r}",
            )


def _shape_matches(actual, expected):
    """True when `actual` equals `expected`, a `None` in either one matching any size."""
    actual, expected = tuple(actual), tuple(expected)
    if len(actual) != len(expected):
        return False
    return all(a is None or e is None or a == e for a, e in zip(actual, expected))


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        dim is None or isinstance(dim, (int, np.integer)) for dim in value
    )


# --------------------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------------------


class _Inputs:
    """The test inputs laid out once: primary structure, tensor call kwargs, static call kwargs."""

    def __init__(self, input_data, call_kwargs, input_call_style, non_differentiable_inputs):
        if input_call_style not in _CALL_STYLES:
            raise ValueError(
                f"input_call_style must be one of {_CALL_STYLES}, received {input_call_style!r}"
            )
        if input_call_style == "args" and not isinstance(input_data, (list, tuple)):
            raise ValueError(
                "input_call_style='args' needs a list or tuple of arrays as input_data"
            )
        if input_call_style == "kwargs" and not isinstance(input_data, dict):
            raise ValueError("input_call_style='kwargs' needs a dict of arrays as input_data")
        self.style = input_call_style
        self.primary = _map_structure(lambda _, value: _as_array(value), input_data)
        call_kwargs = dict(call_kwargs or {})
        self.tensor_kwargs = {k: _as_array(v) for k, v in call_kwargs.items() if _is_array(v)}
        self.static_kwargs = {k: v for k, v in call_kwargs.items() if not _is_array(v)}
        self.non_differentiable = (
            set(
                non_differentiable_inputs
                if isinstance(non_differentiable_inputs, (list, tuple, set))
                else [non_differentiable_inputs]
            )
            if non_differentiable_inputs is not None
            else set()
        )

    # Flat views: the order used for model inputs, ``fit`` data and gradient checks.
    def flat(self):
        items = [("input", key, value) for key, value in _flatten_with_keys(self.primary)]
        items += [("kwarg", key, value) for key, value in self.tensor_kwargs.items()]
        return items

    def flat_arrays(self):
        return [value for _, _, value in self.flat()]

    def differentiable_positions(self):
        positions = []
        for position, (_, key, value) in enumerate(self.flat()):
            if value.dtype.kind == "f" and key not in self.non_differentiable:
                positions.append(position)
        return positions

    def unflatten(self, flat_values):
        """Rebuilds (primary structure, tensor kwargs) from a flat list in `flat()` order."""
        count = len(_flatten_with_keys(self.primary))
        primary_values, kwarg_values = flat_values[:count], flat_values[count:]
        if isinstance(self.primary, dict):
            primary = dict(zip(self.primary.keys(), primary_values))
        elif isinstance(self.primary, (list, tuple)):
            primary = type(self.primary)(primary_values)
        else:
            primary = primary_values[0]
        kwargs = dict(zip(self.tensor_kwargs.keys(), kwarg_values))
        return primary, kwargs

    def call(self, layer, flat_values, **extra):
        primary, kwargs = self.unflatten(list(flat_values))
        kwargs.update(self.static_kwargs)
        kwargs.update(extra)
        if self.style == "args":
            return layer(*primary, **kwargs)
        if self.style == "kwargs":
            return layer(**primary, **kwargs)
        return layer(primary, **kwargs)

    def symbolic_inputs(self, static_batch_size):
        tensors = []
        for kind, key, value in self.flat():
            name = f"{kind}_{key}".replace("/", "_")
            tensors.append(
                keras.Input(
                    shape=value.shape[1:],
                    batch_size=value.shape[0] if static_batch_size else None,
                    dtype=keras.backend.standardize_dtype(value.dtype),
                    name=name,
                )
            )
        return tensors

    def shapes_for_compute_output_shape(self):
        """Positional and keyword shape arguments for ``compute_output_shape``."""
        shapes = _map_structure(lambda _, value: tuple(value.shape), self.primary)
        if self.style == "args":
            return list(shapes), {}
        if self.style == "kwargs":
            return [], {f"{key}_shape": shape for key, shape in shapes.items()}
        return [shapes], {}


def _model_input(flat_inputs):
    return flat_inputs[0] if len(flat_inputs) == 1 else flat_inputs


def _build_model(layer, inputs, static_batch_size):
    symbolic = inputs.symbolic_inputs(static_batch_size)
    outputs = inputs.call(layer, symbolic)
    if isinstance(outputs, tuple):
        outputs = list(outputs)
    return keras.Model(_model_input(symbolic), outputs), outputs


def _check_config_round_trip(layer_cls, init_kwargs, layer, inputs, reference_outputs, atol, rtol):
    config = layer.get_config()
    try:
        json.dumps(config)
    except TypeError as error:
        raise AssertionError(
            f"get_config() of {layer_cls.__name__} is not JSON-serialisable: {error}"
        ) from error
    missing = sorted(set(init_kwargs) - set(config))
    assert not missing, (
        f"get_config() of {layer_cls.__name__} does not return the constructor argument(s) "
        f"{missing}; config keys: {sorted(config)}"
    )
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config, (
        f"{layer_cls.__name__}.from_config(config).get_config() differs from config:\n"
        f"{clone.get_config()}\nvs\n{config}"
    )
    outputs = inputs.call(clone, inputs.flat_arrays())  # builds the clone
    clone.set_weights(layer.get_weights())
    outputs = inputs.call(clone, inputs.flat_arrays())
    _assert_structures_close(outputs, reference_outputs, atol, rtol, "from_config clone")


def _check_output_shapes(layer, inputs, eager_outputs, symbolic_outputs, expected_output_shape):
    eager_items = _flatten_with_keys(eager_outputs)
    symbolic_items = _flatten_with_keys(symbolic_outputs)
    assert len(eager_items) == len(symbolic_items), (
        "symbolic and eager calls return different structures"
    )
    for (key, eager), (_, symbolic) in zip(eager_items, symbolic_items):
        assert _shape_matches(symbolic.shape, eager.shape), (
            f"output {key!r}: symbolic shape {symbolic.shape} does not match eager shape "
            f"{eager.shape}"
        )
        assert _dtype_name(symbolic) == _dtype_name(eager), (
            f"output {key!r}: symbolic dtype {symbolic.dtype} differs from eager dtype "
            f"{eager.dtype}"
        )
    if expected_output_shape is not None:
        expected_items = (
            [(0, expected_output_shape)]
            if _is_shape(expected_output_shape)
            else _flatten_with_keys(expected_output_shape)
        )
        assert len(expected_items) == len(eager_items), (
            f"expected {len(expected_items)} output shape(s), the layer returns {len(eager_items)}"
        )
        for (key, expected), (_, eager), (_, symbolic) in zip(
            expected_items, eager_items, symbolic_items
        ):
            assert _shape_matches(eager.shape, expected), (
                f"output {key!r}: eager shape {tuple(eager.shape)}, expected {tuple(expected)}"
            )
            assert _shape_matches(symbolic.shape, expected) and len(symbolic.shape) == len(
                expected
            ), f"output {key!r}: symbolic shape {symbolic.shape}, expected {tuple(expected)}"
    # compute_output_shape is what Keras uses for shape inference; it must agree with the call.
    args, kwargs = inputs.shapes_for_compute_output_shape()
    try:
        computed = layer.compute_output_shape(*args, **kwargs)
    except NotImplementedError:
        message = f"{type(layer).__name__} does not implement compute_output_shape"
        raise AssertionError(message) from None
    computed_items = [(0, computed)] if _is_shape(computed) else _flatten_with_keys(computed)
    assert len(computed_items) == len(eager_items), (
        f"compute_output_shape returns {len(computed_items)} shape(s), the call {len(eager_items)}"
    )
    for (key, shape), (_, eager) in zip(computed_items, eager_items):
        assert _shape_matches(shape, eager.shape), (
            f"output {key!r}: compute_output_shape gives {tuple(shape)}, "
            f"the call {tuple(eager.shape)}"
        )


def _loss_outputs(outputs, non_differentiable_outputs):
    """(keys, tensors) of the float outputs a loss is put on."""
    skip = set(non_differentiable_outputs or ())
    selected = [
        (key, value)
        for key, value in _flatten_with_keys(outputs)
        if _is_float(_dtype_name(value)) and key not in skip
    ]
    return selected


def _check_gradients(
    model, inputs, targets, loss_keys, skip_gradient_weights, check_input_gradients
):
    flat = [keras.ops.convert_to_tensor(value) for value in inputs.flat_arrays()]
    differentiable = inputs.differentiable_positions() if check_input_gradients else []
    trainable = model.trainable_variables
    non_trainable = [variable.value for variable in model.non_trainable_variables]
    count = len(trainable)
    targets = [keras.ops.convert_to_tensor(target) for target in targets]

    def loss_of(values):
        """The MSE loss as a pure function of (trainable weights, differentiable inputs)."""
        weights, x = values[:count], list(flat)
        for position, value in zip(differentiable, values[count:]):
            x[position] = value
        outputs, _ = model.stateless_call(weights, non_trainable, _model_input(x), training=True)
        outputs = dict(_flatten_with_keys(outputs))
        ops = keras.ops
        losses = [
            ops.mean(ops.square(ops.subtract(ops.cast(outputs[key], "float32"), target)))
            for key, target in zip(loss_keys, targets)
        ]
        return sum(losses[1:], losses[0])

    values = [variable.value for variable in trainable] + [flat[p] for p in differentiable]
    loss, gradients = backend.value_and_gradient(loss_of, values)
    loss = float(keras.ops.convert_to_numpy(loss))
    assert np.isfinite(loss), f"training loss is not finite: {loss}"
    weight_grads, input_grads = gradients[:count], gradients[count:]
    flat_keys = inputs.flat()
    checked = [(f"trainable weight {w.path}", g) for w, g in zip(trainable, weight_grads)
               if not any(part in w.path for part in skip_gradient_weights)]
    checked += [(f"{flat_keys[p][0]} {flat_keys[p][1]!r}", g)
                for p, g in zip(differentiable, input_grads)]
    for name, grad in checked:
        # An unconnected value's gradient is None on TensorFlow and PyTorch, zeros on JAX.
        grad = None if grad is None else keras.ops.convert_to_numpy(grad)
        assert grad is not None and np.any(grad != 0), (
            f"no gradient reaches {name} (None or zero everywhere)"
        )
        assert np.all(np.isfinite(grad)), f"the gradient reaching {name} is not finite"


def _check_training(
    layer_cls,
    init_kwargs,
    inputs,
    static_batch_size,
    non_differentiable_outputs,
    skip_gradient_weights,
    check_input_gradients,
    run_jit,
):
    layer = layer_cls(**init_kwargs)
    model, outputs = _build_model(layer, inputs, static_batch_size)
    selected = _loss_outputs(outputs, non_differentiable_outputs)
    assert selected, "the layer has no float output to train on (see non_differentiable_outputs)"
    loss_keys = [key for key, _ in selected]
    train_model = keras.Model(model.inputs, [value for _, value in selected])
    rng = np.random.default_rng(1)
    x = inputs.flat_arrays()
    eager = model(_model_input(x))
    eager = dict(_flatten_with_keys(eager))
    targets = [rng.standard_normal(tuple(eager[key].shape)).astype("float32") for key in loss_keys]
    _check_gradients(
        model, inputs, targets, loss_keys, skip_gradient_weights, check_input_gradients
    )

    train_model.compile(
        # The backend's default: a graph on TensorFlow's CPU, jax.jit on JAX, eager on PyTorch.
        optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile="auto"
    )
    before = [keras.ops.convert_to_numpy(w) for w in train_model.trainable_weights]
    history = train_model.fit(
        _model_input(x),
        targets if len(targets) > 1 else targets[0],
        batch_size=len(x[0]),
        epochs=1,
        verbose=0,
        shuffle=False,
    )
    assert np.isfinite(history.history["loss"][0]), "fit step gave a non-finite loss"
    for weight, old in zip(train_model.trainable_weights, before):
        if any(part in weight.path for part in skip_gradient_weights):
            continue
        assert np.any(keras.ops.convert_to_numpy(weight) != old), (
            f"one fit step did not change trainable weight {weight.path}"
        )
    for weight in train_model.weights:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(weight))), (
            f"weight {weight.path} is not finite after one fit step"
        )
    if run_jit:
        train_model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", jit_compile=True
        )
        loss = train_model.train_on_batch(
            _model_input(x), targets if len(targets) > 1 else targets[0]
        )
        loss = loss[0] if isinstance(loss, (list, tuple)) else loss
        assert np.isfinite(loss), "jit-compiled training step gave a non-finite loss"


def _check_mixed_precision(
    layer_cls, init_kwargs, inputs, reference_layer, reference_outputs, atol, rtol, expected_dtype
):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = layer_cls(**init_kwargs)
        flat = inputs.flat_arrays()
        inputs.call(layer, flat)  # builds
        for weight in layer.weights:
            assert _dtype_name(weight) == "float32", (
                f"under mixed_float16, weight {weight.path} should be float32, is {weight.dtype}"
            )
        layer.set_weights(reference_layer.get_weights())
        outputs = inputs.call(layer, flat)
        for key, value in _flatten_with_keys(outputs):
            dtype = _dtype_name(value)
            if expected_dtype is not None and _is_float(dtype):
                assert dtype == expected_dtype, (
                    f"under mixed_float16, output {key!r} has dtype {dtype}, "
                    f"expected {expected_dtype}"
                )
            assert (
                np.all(np.isfinite(keras.ops.convert_to_numpy(value))) if _is_float(dtype) else True
            ), f"under mixed_float16, output {key!r} is not finite"
        _assert_structures_close(outputs, reference_outputs, atol, rtol, "mixed_float16 vs float32")
        # The symbolic path must build under the policy as well.
        model, _ = _build_model(layer_cls(**init_kwargs), inputs, static_batch_size=False)
        model.predict(_model_input(flat), verbose=0, batch_size=len(flat[0]))
    finally:
        keras.config.set_dtype_policy(previous)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    call_kwargs=None,
    expected_output_shape=None,
    expected_output=None,
    run_training=True,
    run_jit=True,
    run_mixed_precision=True,
    run_saving=True,
    input_call_style="single",
    non_differentiable_inputs=None,
    non_differentiable_outputs=None,
    check_input_gradients=True,
    skip_gradient_weights=(),
    static_batch_size=False,
    expected_mixed_precision_dtype="float16",
    atol=1e-5,
    rtol=1e-5,
    mixed_precision_atol=1e-2,
    mixed_precision_rtol=1e-2,
):
    """Runs the standard kerasnn layer checks (see the module docstring) and returns the outputs.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict of constructor arguments.
        input_data: array, or list/tuple/dict of arrays (see ``input_call_style``).
        call_kwargs: other call arguments; array values (e.g. ``mask``) become model inputs.
        expected_output_shape: shape (``None`` for any size) or a structure of shapes, one per
            output.
        expected_output: optional array or structure of arrays the eager outputs must equal
            (within ``atol``/``rtol``).
        run_training: gradient check and one ``fit`` step.
        run_jit: ``jit_compile=True`` prediction (and training step when ``run_training``).
        run_mixed_precision: ``mixed_float16`` check.
        run_saving: ``.keras`` save/load check.
        input_call_style: ``"single"``, ``"args"`` or ``"kwargs"``.
        non_differentiable_inputs: float inputs not checked for gradients (indices or keys).
        non_differentiable_outputs: float outputs that get no loss in training (indices or keys).
        check_input_gradients: check that gradients reach the differentiable float inputs.
        skip_gradient_weights: substrings of weight paths that legitimately get no gradient.
        static_batch_size: give the ``keras.Input`` tensors the data's batch size.
        expected_mixed_precision_dtype: dtype float outputs must have under ``mixed_float16``
            (``None`` to skip that check).
        atol, rtol: tolerances of the float32 comparisons (eager vs symbolic, clone, jit).
        mixed_precision_atol, mixed_precision_rtol: tolerances of float16 vs float32 outputs.

    Returns:
        The eager outputs, as NumPy arrays in the layer's output structure.
    """
    init_kwargs = dict(init_kwargs or {})
    # The XLA check is TensorFlow's; JAX passes it in predict and fit (see the module docstring).
    run_jit = run_jit and keras.backend.backend() == "tensorflow"
    inputs = _Inputs(input_data, call_kwargs, input_call_style, non_differentiable_inputs)
    flat = inputs.flat_arrays()
    batch_size = len(flat[0])

    # Eager call of a fresh layer: the reference for everything else.
    layer = layer_cls(**init_kwargs)
    eager_tensors = inputs.call(layer, flat)
    eager_outputs = _to_numpy_structure(eager_tensors)
    if expected_output is not None:
        _assert_structures_close(eager_outputs, expected_output, atol, rtol, "expected_output")

    _check_config_round_trip(layer_cls, init_kwargs, layer, inputs, eager_outputs, atol, rtol)

    # Symbolic call: a functional model around the same (built) layer.
    model, symbolic_outputs = _build_model(layer, inputs, static_batch_size)
    _check_output_shapes(layer, inputs, eager_tensors, symbolic_outputs, expected_output_shape)
    _assert_structures_close(
        model(_model_input([keras.ops.convert_to_tensor(v) for v in flat])),
        eager_outputs,
        atol,
        rtol,
        "functional model called eagerly vs layer called eagerly",
    )
    predicted = model.predict(_model_input(flat), batch_size=batch_size, verbose=0)
    _assert_structures_close(
        predicted, eager_outputs, atol, rtol, "model.predict (compiled) vs eager call"
    )

    if run_saving:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "model.keras")
            model.save(path)
            loaded = keras.saving.load_model(path)
        reloaded = loaded.predict(_model_input(flat), batch_size=batch_size, verbose=0)
        _assert_structures_close(reloaded, predicted, 1e-6, 1e-6, ".keras save/load")
        loaded_layer = loaded.layers[-1]
        assert type(loaded_layer) is layer_cls, (
            f"the loaded model's last layer is a {type(loaded_layer).__name__}, "
            f"not {layer_cls.__name__}"
        )

    if run_jit:
        jit_model = keras.Model(model.inputs, model.outputs)
        jit_model.compile(jit_compile=True)
        jitted = jit_model.predict(_model_input(flat), batch_size=batch_size, verbose=0)
        _assert_structures_close(jitted, eager_outputs, atol, rtol, "jit_compile=True vs eager")

    if run_training:
        _check_training(
            layer_cls,
            init_kwargs,
            inputs,
            static_batch_size,
            non_differentiable_outputs,
            tuple(skip_gradient_weights),
            check_input_gradients,
            run_jit,
        )

    if run_mixed_precision:
        _check_mixed_precision(
            layer_cls,
            init_kwargs,
            inputs,
            layer,
            eager_outputs,
            mixed_precision_atol,
            mixed_precision_rtol,
            expected_mixed_precision_dtype,
        )
    return eager_outputs
