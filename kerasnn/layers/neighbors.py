"""k-nearest-neighbour voting as a Keras layer (section "Nearest Neighbor Classifiers")."""

import keras
import numpy as np  # noqa: F401  (used by the doctest)
from keras import layers, ops

from kerasnn import arguments


@keras.saving.register_keras_serializable(package="kerasnn")
class NearestNeighbors(layers.Layer):
    """k-nearest-neighbour voting over a stored training set ("Nearest Neighbor Classifiers").

    Each query ``x`` is compared with every stored example ``x_i`` by the pixel-wise distance

        L1: d(x, x_i) = sum_k |x_k - x_ik|        L2: d(x, x_i) = sqrt(sum_k (x_k - x_ik)^2)

    and receives the votes of its ``k`` nearest stored examples. The output is a vector of class
    frequencies that sums to one: ``(votes + 0.5 * onehot(nearest)) / (k + 0.5)``. The half vote
    of the single nearest neighbour breaks ties between classes with equally many votes in its
    favour and can never overturn a strict majority.

    The training set lives in non-trainable weights (``examples`` of shape ``(N, d)``,
    ``labels`` of shape ``(N,)``), so a saved model carries it. Fill them with ``set_weights``.

    Args:
        num_examples: ``N``, the number of stored training examples.
        num_classes: number of classes.
        k: number of neighbours that vote (``1 <= k <= N``).
        distance: ``"l1"`` or ``"l2"``.

    Call arguments:
        inputs: ``(batch, ...)`` queries with ``d`` values each (flattened here).

    Returns:
        ``(batch, num_classes)`` vote frequencies.

    Example:
        >>> layer = NearestNeighbors(num_examples=2, num_classes=2, k=1, distance="l1")
        >>> layer.build((None, 2))
        >>> layer.set_weights([np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0.0, 1.0])])
        >>> layer(np.array([[0.9, 0.8]])).numpy().argmax(-1)
        array([1])
    """

    def __init__(self, num_examples, num_classes, k=1, distance="l2", **kwargs):
        super().__init__(**kwargs)
        arguments.positive_int("num_examples", num_examples)
        arguments.positive_int("num_classes", num_classes)
        arguments.positive_int("k", k)
        if k > num_examples:
            arguments.fail("k", f"at most num_examples={num_examples}", k)
        arguments.one_of("distance", distance, ("l1", "l2"))
        self.num_examples = num_examples
        self.num_classes = num_classes
        self.k = k
        self.distance = distance

    def build(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            features *= dim
        self.examples = self.add_weight(
            shape=(self.num_examples, features),
            initializer="zeros",
            trainable=False,
            name="examples",
        )
        self.labels = self.add_weight(
            shape=(self.num_examples,), initializer="zeros", trainable=False, name="labels"
        )

    def distances(self, inputs):
        """``(batch, N)`` distances between the queries and every stored example."""
        queries = ops.reshape(ops.cast(inputs, self.compute_dtype), (ops.shape(inputs)[0], -1))
        examples = ops.cast(self.examples, self.compute_dtype)
        if self.distance == "l1":
            return ops.sum(ops.abs(queries[:, None, :] - examples[None, :, :]), axis=-1)
        squared = (
            ops.sum(queries**2, axis=-1, keepdims=True)
            - 2 * queries @ ops.transpose(examples)
            + ops.sum(examples**2, axis=-1)[None, :]
        )
        return ops.sqrt(ops.maximum(squared, 0.0))

    def call(self, inputs):
        _, nearest = ops.top_k(-self.distances(inputs), k=self.k)
        neighbour_labels = ops.cast(ops.take(self.labels, nearest), "int32")
        votes = ops.sum(
            ops.one_hot(neighbour_labels, self.num_classes, dtype=self.compute_dtype), axis=1
        )
        tie_break = 0.5 * ops.one_hot(
            neighbour_labels[:, 0], self.num_classes, dtype=self.compute_dtype
        )
        return (votes + tie_break) / (self.k + 0.5)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_examples": self.num_examples,
            "num_classes": self.num_classes,
            "k": self.k,
            "distance": self.distance,
        }
