"""The perceptron of "The Perceptron" section, trained by the Hebbian rule instead of gradients.

The output is a step function of a weighted sum (course notes, "NEURAL NETWORKS - THE PERCEPTRON"):

    y = 1 if sum_i w_i x_i + b > 0 else -1

and the weights are learned online, one sample at a time, changing them only when the sample is
misclassified (Hebbian learning):

    w_i^{k+1} = w_i^k + Delta w_i^k,      Delta w_i^k = eta * x_i^k * t^k

with ``t^k`` in {-1, +1} the desired output and ``eta`` the learning rate; the bias is the weight of
a constant input ``x_0 = 1`` (``Delta b = eta * t``). On linearly separable data the rule stops
making mistakes after finitely many updates; on XOR no solution exists and it never does.
"""

import keras
from keras import ops

from kerasnn import arguments


def hebbian_epoch(kernel, bias, inputs, targets, learning_rate):
    """One online pass of the Hebbian rule over ``inputs`` in order.

    Args:
        kernel: ``(num_features,)`` weights ``w``.
        bias: scalar bias ``b``.
        inputs: ``(num_samples, num_features)`` samples ``x^k``.
        targets: ``(num_samples,)`` desired outputs ``t^k`` in {-1, +1}.
        learning_rate: ``eta``.

    Returns:
        ``(kernel, bias, mistakes)``: the weights after the pass and how many samples were
        misclassified (each one caused an update).
    """
    inputs = ops.convert_to_tensor(inputs, "float32")
    targets = ops.convert_to_tensor(targets, "float32")

    # Online learning is sequential by definition: sample k sees the weights left by sample k-1.
    def update(index, state):
        kernel, bias, mistakes = state
        x = inputs[index]
        t = targets[index]
        y = ops.where(ops.sum(kernel * x) + bias > 0, 1.0, -1.0)
        wrong = ops.cast(ops.not_equal(y, t), "float32")
        return (
            kernel + wrong * learning_rate * x * t,
            bias + wrong * learning_rate * t,
            mistakes + wrong,
        )

    return ops.fori_loop(
        0,
        ops.shape(inputs)[0],
        update,
        (
            ops.convert_to_tensor(kernel, "float32"),
            ops.convert_to_tensor(bias, "float32"),
            ops.zeros((), "float32"),
        ),
    )


@keras.saving.register_keras_serializable(package="kerasnn")
class Perceptron(keras.Model):
    """A single step-output neuron trained with the Hebbian rule (see the module docstring).

    ``fit`` runs the rule online over each batch in order (use one batch per epoch, or
    ``batch_size=1``, for the textbook algorithm; ``shuffle=True`` changes the order every epoch).
    Labels are class ids in {0, 1}; the rule uses ``t = 2 * label - 1``. The model predicts
    ``y`` in {-1, +1} as in the notes; ``(y + 1) / 2`` is the class id.

    Logged metrics: ``mistakes`` (updates made during the epoch: 0 means converged) and, when
    evaluating, ``accuracy`` and ``mistakes`` of the current weights.

    Args:
        learning_rate: ``eta > 0``.
        initializer: starting weights (random by default, as in the notes).

    Example:
        >>> x = np.array([[2.0, 1.0], [1.0, 3.0], [-1.0, -2.0], [-2.0, 0.5]], "float32")
        >>> labels = np.array([1, 1, 0, 0])  # linearly separable
        >>> model = Perceptron(learning_rate=0.1)
        >>> model.compile()
        >>> history = model.fit(x, labels, batch_size=len(x), epochs=20, verbose=0)
        >>> float(history.history["mistakes"][-1])  # no mistake left: converged
        0.0
    """

    def __init__(self, learning_rate=0.1, initializer="random_normal", **kwargs):
        super().__init__(**kwargs)
        self.learning_rate = arguments.positive_number("learning_rate", learning_rate)
        self.initializer = keras.initializers.get(initializer)
        self.mistakes_tracker = keras.metrics.Sum(name="mistakes")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")

    def build(self, input_shape):
        if len(input_shape) != 2:
            arguments.shape_error("inputs", "(batch, features)", input_shape)
        self.kernel = self.add_weight(
            shape=(input_shape[-1],), initializer=self.initializer, trainable=False, name="kernel"
        )
        self.bias = self.add_weight(shape=(), initializer="zeros", trainable=False, name="bias")

    def decision_function(self, inputs):
        """The weighted sum ``w . x + b``."""
        return ops.matmul(inputs, self.kernel) + self.bias

    def call(self, inputs):
        return ops.where(self.decision_function(inputs) > 0, 1.0, -1.0)

    @property
    def metrics(self):
        return [self.mistakes_tracker, self.accuracy_tracker]

    def train_step(self, data):
        inputs, labels = data[0], data[1]
        if not self.built:
            self.build(tuple(inputs.shape))
        targets = 2.0 * ops.cast(ops.reshape(labels, (-1,)), "float32") - 1.0
        kernel, bias, mistakes = hebbian_epoch(
            self.kernel, self.bias, inputs, targets, self.learning_rate
        )
        self.kernel.assign(kernel)
        self.bias.assign(bias)
        self.mistakes_tracker.update_state(mistakes)
        return {"mistakes": self.mistakes_tracker.result()}

    def test_step(self, data):
        inputs, labels = data[0], data[1]
        targets = 2.0 * ops.cast(ops.reshape(labels, (-1,)), "float32") - 1.0
        correct = ops.cast(ops.equal(self(inputs), targets), "float32")
        self.accuracy_tracker.update_state(correct)
        self.mistakes_tracker.update_state(ops.sum(1.0 - correct))
        return {
            "accuracy": self.accuracy_tracker.result(),
            "mistakes": self.mistakes_tracker.result(),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            learning_rate=self.learning_rate,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config
