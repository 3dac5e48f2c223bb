"""The few backend-specific helpers of kerasnn: gradients.

``keras.ops`` has no gradient operator, so whatever differentiates outside ``fit`` goes through
this module, and only through it: Grad-CAM's ``dy^c / df_k`` (``intermediate_gradients``), a
custom ``train_step``'s variable gradients (``loss_and_gradients``, the GANs; ``minimize``, the
detectors). Recipes, ``kerasnn.explain`` and the models stay backend-agnostic. This is the only
module besides ``kerasnn.data`` that imports a backend library (lazily).
"""

import keras


def loss_and_gradients(loss_function, variables):
    """``(loss_function(), [d loss / d v for v in variables])`` for a scalar loss of variables.

    What a custom ``train_step`` needs (``kerasnn.models.gan``): the loss is computed inside, so
    every variable it reads is differentiated. TensorFlow records it on a ``GradientTape``;
    PyTorch builds the graph eagerly and ``torch.autograd.grad`` reads it. (JAX differentiates
    pure functions of their arguments, so a stateful ``train_step`` on it must be written with
    ``stateless_call``: not provided.)
    """
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_function()
        return loss, tape.gradient(loss, variables)
    if name == "torch":
        import torch

        loss = loss_function()
        gradients = torch.autograd.grad(loss, [v.value for v in variables], allow_unused=True)
        return loss, list(gradients)
    raise NotImplementedError(f"No variable-gradient helper for the {name!r} backend.")


def minimize(model, loss_function):
    """One step of ``model.optimizer`` on the scalar ``loss_function()``; returns the loss.

    ``model.trainable_variables`` are read after the loss has run, so the variables of
    sublayers that build on their first call are in the first step too; variables the loss does
    not read (gradient ``None``, e.g. a branch used only at inference) are left out of the update.
    """
    variables = []

    def loss_then_variables():
        loss = loss_function()
        variables.extend(model.trainable_variables)
        return loss

    loss, gradients = loss_and_gradients(loss_then_variables, variables)
    model.optimizer.apply_gradients(
        [(g, v) for g, v in zip(gradients, variables) if g is not None])
    return loss


def intermediate_gradients(model, inputs, target):
    """Outputs of a two-output model and the gradient of a scalar target with respect to the first.

    ``model`` maps ``inputs`` to ``(features, scores)`` where ``features`` is an intermediate
    tensor that ``scores`` depends on (e.g. ``keras.Model(x, [conv.output, logits])``). The
    gradient is ``d sum(target(scores)) / d features``: with a per-example target (one class score
    per image) every image's gradient is that of its own score, since examples do not interact in
    inference mode.

    Args:
        model: a ``keras.Model`` with two outputs ``(features, scores)``.
        inputs: the model's input batch.
        target: ``target(scores)`` -> the tensor to differentiate (summed).

    Returns:
        ``(features, scores, gradients)`` as NumPy arrays; ``gradients`` has ``features``' shape.

    Raises:
        NotImplementedError: on another backend. (PyTorch would read ``features.grad`` after
            ``features.retain_grad()``; JAX differentiates functions, not tensors, so it would
            need the model split at ``features``. Neither is installed here to test a branch.)
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        # GradientTape records the forward pass, so the gradient can be taken with respect to
        # any tensor computed inside it, including the intermediate feature maps.
        import tensorflow as tf

        with tf.GradientTape() as tape:
            features, scores = model(inputs, training=False)
            tape.watch(features)
            objective = tf.reduce_sum(target(scores))
        gradients = tape.gradient(objective, features)
    else:
        raise NotImplementedError(
            "Gradients with respect to intermediate tensors are implemented for the TensorFlow "
            f"backend only. Received: backend={backend!r}"
        )
    convert = keras.ops.convert_to_numpy
    return convert(features), convert(scores), convert(gradients)


def value_and_gradient(function, inputs):
    """``(function(inputs), d function / d inputs)`` for a scalar-valued ``function``.

    ``inputs`` is one tensor or a list of tensors (then the gradient is a list too): a pure
    function of its arguments, so JAX works too. An input the value does not depend on gets
    ``None`` (TensorFlow, PyTorch) or zeros (JAX). Used by ``kerasnn.layers.recurrent``
    (gradients with respect to a perturbation of the recurrent state, to weight replicas) and by
    the layer-test harness (a model made a pure function of its weights by ``stateless_call``).
    """
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = function(inputs)
        return value, tape.gradient(value, inputs)
    if name == "jax":
        import jax

        # Compiled as one XLA program: eager JAX compiles every operation of a first call alone.
        return jax.jit(jax.value_and_grad(function))(inputs)
    if name == "torch":
        import torch

        leaves = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        leaves = [torch.as_tensor(x).detach().requires_grad_(True) for x in leaves]
        value = function(leaves if isinstance(inputs, (list, tuple)) else leaves[0])
        gradients = list(torch.autograd.grad(value, leaves, allow_unused=True))
        return value.detach(), gradients if isinstance(inputs, (list, tuple)) else gradients[0]
    raise NotImplementedError(f"No gradient helper for the {name!r} backend.")
