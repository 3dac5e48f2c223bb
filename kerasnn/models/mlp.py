"""Multi-layer perceptrons ("MULTI-LAYER PERCEPTRONS - FFNN"): ``z_i = f(sum_j w_ij x_j + b_i)`` per layer.

``feedforward`` is the one builder the first chapters' recipes share: regression and classification heads,
the activation functions of "Activation Functions", and the regularizers of "Preventing
Overfitting" (weight decay ``gamma * sum_q w_q^2``, dropout with rate ``p``, batch normalization)
and the initializations of "Weight Initialization" as plain arguments.
"""

import keras

# Output activation and loss of each task: the maximum-likelihood view of "Error Functions"
# (Gaussian -> MSE, Bernoulli -> binary cross-entropy, categorical -> categorical cross-entropy).
TASKS = {
    "regression": (None, "mean_squared_error"),
    "binary": ("sigmoid", "binary_crossentropy"),
    "categorical": ("softmax", "sparse_categorical_crossentropy"),
}


def task_head(task, num_classes=2):
    """``(output_units, output_activation, loss)`` of ``task`` (``regression``, ``binary``, ``categorical``)."""
    if task not in TASKS:
        raise ValueError(f"Expected task in {sorted(TASKS)}, received task={task!r}")
    activation, loss = TASKS[task]
    units = num_classes if task == "categorical" else 1
    return units, activation, loss


def feedforward(
    input_shape,
    hidden_units=(64,),
    *,
    activation="relu",
    output_units=1,
    output_activation=None,
    dropout=0.0,
    weight_decay=0.0,
    batch_normalization=False,
    kernel_initializer="glorot_uniform",
    name="feedforward",
):
    """A fully connected network: ``Dense -> [BatchNorm] -> activation -> [Dropout]`` per hidden layer.

    Args:
        input_shape: shape of one example (flattened first if it has several axes).
        hidden_units: width of each hidden layer; ``()`` gives a linear / logistic model.
        activation: hidden activation (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ...).
        output_units, output_activation: the output layer (see ``task_head``).
        dropout: rate ``p`` of the dropout after every hidden layer (0 disables it).
        weight_decay: ``gamma`` of the L2 penalty ``gamma * sum w^2`` on every kernel.
        batch_normalization: normalize each hidden pre-activation ("Batch Normalization").
        kernel_initializer: initializer of every kernel (``"zeros"``, ``"glorot_normal"``, ...).
    """
    hidden_units = tuple(hidden_units)
    if any(units <= 0 for units in hidden_units):
        raise ValueError(f"Expected positive hidden_units, received hidden_units={hidden_units}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected 0 <= dropout < 1, received dropout={dropout}")
    if weight_decay < 0:
        raise ValueError(f"Expected weight_decay >= 0, received weight_decay={weight_decay}")
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay > 0 else None

    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, kernel_initializer=kernel_initializer, kernel_regularizer=regularizer,
                               use_bias=not batch_normalization, name=f"hidden_{index}")(x)
        if batch_normalization:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation(activation, name=f"activation_{index}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(output_units, activation=output_activation, kernel_initializer=kernel_initializer,
                                 kernel_regularizer=regularizer, name="output")(x)
    return keras.Model(inputs, outputs, name=name)
