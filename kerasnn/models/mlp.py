"""Multi-layer perceptrons ("Multi-Layer Perceptrons - FFNN"): ``z_i = f(sum_j w_ij x_j + b_i)`` per layer.

``mlp`` is the one fully connected builder of the course: regression and classification heads,
the activation functions of "Activation Functions", the regularizers of "Preventing Overfitting"
(weight decay ``gamma * sum_q w_q^2``, dropout with rate ``p``, batch normalization) and the
initializations of "Weight Initialization" as plain arguments.
"""

import keras

from kerasnn import arguments

# Output activation and loss of each task: the maximum-likelihood view of "Error Functions"
# (Gaussian -> MSE, Bernoulli -> binary cross-entropy, categorical -> categorical cross-entropy).
TASKS = {
    "regression": (None, "mean_squared_error"),
    "binary": ("sigmoid", "binary_crossentropy"),
    "categorical": ("softmax", "sparse_categorical_crossentropy"),
}


def task_head(task, num_classes=2):
    """``(num_outputs, output_activation, loss)`` of ``task`` (``regression``, ``binary``, ``categorical``).

    Example:
        >>> task_head("binary")
        (1, 'sigmoid', 'binary_crossentropy')
    """
    arguments.one_of("task", task, tuple(TASKS))
    activation, loss = TASKS[task]
    units = num_classes if task == "categorical" else 1
    return units, activation, loss


def mlp(
    input_shape,
    num_classes,
    *,
    hidden_units=(64,),
    activation="relu",
    output_activation="softmax",
    dropout=0.0,
    weight_decay=0.0,
    batch_normalization=False,
    kernel_initializer="glorot_uniform",
    name="mlp",
    weight_decay_norm="l2",
):
    """A fully connected network: ``Dense -> [BatchNorm] -> activation -> [Dropout]`` per hidden layer.

    Inputs with several axes (images) are unrolled first: every pixel is a separate feature, the
    baseline a CNN is compared with ("MLP, Fully connected").

    Args:
        input_shape: shape of one example.
        num_classes: units of the output layer (1 for a regression or a sigmoid output; see
            ``task_head``).
        hidden_units: width of each hidden layer; ``()`` gives a linear / logistic model.
        activation: hidden activation (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ...).
        output_activation: activation of the output layer (``None`` for scores or regression).
        dropout: rate ``p`` of the dropout after every hidden layer (0 disables it).
        weight_decay: ``gamma`` of the L2 penalty ``gamma * sum w^2`` on every kernel.
        weight_decay_norm: ``"l2"`` (the penalty above, "Weight Decay") or ``"l1"``, the norm-1
            penalty ``gamma * sum |w|`` of "Regularization".
        batch_normalization: normalize each hidden pre-activation ("Batch Normalization").
        kernel_initializer: initializer of every kernel (``"zeros"``, ``"glorot_normal"``, ...).

    Example:
        >>> model = mlp((8, 8, 1), 10, hidden_units=(32,))
        >>> model.count_params()  # (64 + 1) * 32 + (32 + 1) * 10
        2410
    """
    input_shape = tuple(input_shape)
    num_classes = arguments.positive_int("num_classes", num_classes)
    hidden_units = arguments.positive_ints("hidden_units", hidden_units)
    dropout = arguments.rate("dropout", dropout)
    weight_decay = arguments.non_negative_number("weight_decay", weight_decay)
    arguments.one_of("weight_decay_norm", weight_decay_norm, ("l1", "l2"))
    norm = {"l1": keras.regularizers.L1, "l2": keras.regularizers.L2}[weight_decay_norm]
    regularizer = norm(weight_decay) if weight_decay > 0 else None

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = keras.layers.Flatten(name="unroll")(inputs) if len(input_shape) > 1 else inputs
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(
            units,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=regularizer,
            use_bias=not batch_normalization,
            name=f"hidden_{index}",
        )(x)
        if batch_normalization:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation(activation, name=f"activation_{index}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(
        num_classes,
        activation=output_activation,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=regularizer,
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def task_mlp(input_shape, task, num_classes=2, *, optimizer="adam", steps_per_execution=1,
             **mlp_kwargs):
    """An ``mlp`` with the output and loss that ``task`` calls for (``task_head``), compiled.

    The metric is the mean squared error for ``"regression"`` and the accuracy otherwise; the
    optimizer is a name or a ``keras.optimizers.Optimizer`` (e.g. ``keras.optimizers.SGD(0.1)``).

    Args:
        input_shape: shape of one example.
        task: ``"regression"``, ``"binary"`` or ``"categorical"``.
        num_classes: classes of a categorical task.
        optimizer: what ``compile`` receives.
        steps_per_execution: training steps per compiled call (many tiny batches run faster).
        **mlp_kwargs: ``hidden_units``, ``activation``, ``dropout``, ... of ``mlp``.

    Example:
        >>> model = task_mlp((2,), "binary", hidden_units=(16, 16), activation="tanh")
        >>> model.loss, model.output_shape
        ('binary_crossentropy', (None, 1))
    """
    units, output_activation, loss = task_head(task, num_classes)
    model = mlp(input_shape, units, output_activation=output_activation, **mlp_kwargs)
    metrics = ["mean_squared_error"] if task == "regression" else ["accuracy"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  steps_per_execution=steps_per_execution)
    return model
