"""The few backend-specific helpers (gradients): with ``data/``, the only place that may import a
backend's own package, because ``keras.ops`` has no gradient function."""

import keras


def value_and_gradient(function, inputs):
    """``(function(inputs), d function / d inputs)`` for a scalar-valued ``function``.

    ``inputs`` is one tensor or a list of tensors (then the gradient is a list too). Used by
    ``kerasnn.layers.recurrent`` (gradients with respect to a perturbation of the recurrent
    state, to weight replicas). Works on the TensorFlow, JAX and PyTorch backends.
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
