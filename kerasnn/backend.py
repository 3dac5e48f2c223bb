"""The few backend-specific helpers (gradients): with ``data/``, the only place that may import a
backend's own package, because ``keras.ops`` has no gradient function."""

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


def value_and_gradient(function, inputs):
    """``(function(inputs), d function / d inputs)`` for a scalar-valued ``function``.

    ``inputs`` is one tensor or a list of tensors (then the gradient is a list too): a pure
    function of its arguments, so JAX works too. Used by ``kerasnn.layers.recurrent`` (gradients
    with respect to a perturbation of the recurrent state, to weight replicas).
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

        return jax.value_and_grad(function)(inputs)
    if name == "torch":
        import torch

        leaves = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        leaves = [torch.as_tensor(x).detach().requires_grad_(True) for x in leaves]
        value = function(leaves if isinstance(inputs, (list, tuple)) else leaves[0])
        gradients = list(torch.autograd.grad(value, leaves))
        return value.detach(), gradients if isinstance(inputs, (list, tuple)) else gradients[0]
    raise NotImplementedError(f"No gradient helper for the {name!r} backend.")
