"""The first classifiers of the course: the linear classifier and k nearest neighbours.

Course sections: "Linear Classifier", "Nearest Neighbor Classifiers".
"""

import keras
import numpy as np
from keras import layers

from kerasnn import arguments
from kerasnn.layers.neighbors import NearestNeighbors


def linear_classifier(
    input_shape, num_classes, *, l2=0.0, output_activation=None, name="linear_classifier"
):
    """The unrolled-image linear classifier ``s = W x + b`` (section "Linear Classifier").

    The image is unrolled into ``x`` of length ``d = H * W * C``; ``W`` has shape ``(L, d)`` and
    the predicted class is ``argmax_i s_i``. Keras stores ``W`` transposed: the ``scores`` layer's
    kernel is ``(d, L)`` and its column ``i`` reshaped to ``input_shape`` is the template of class
    ``i`` (section "Geometric Interpretation").

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: ``L``.
        l2: L2 weight-decay factor on ``W`` (0 disables it).
        output_activation: ``None`` returns the scores ``s``; ``"softmax"`` the posteriors.

    Example:
        >>> model = linear_classifier((8, 8, 1), 10)
        >>> model.count_params()  # 64 * 10 + 10
        650
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    arguments.positive_int("num_classes", num_classes)
    l2 = arguments.non_negative_number("l2", l2)
    inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="unroll")(inputs)
    scores = layers.Dense(
        num_classes,
        activation=output_activation,
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        name="scores",
    )(x)
    return keras.Model(inputs, scores, name=name)


def nearest_neighbor_classifier(
    train_inputs, train_labels, num_classes, *, k=1, distance="l2", name="nearest_neighbor"
):
    """A k-NN classifier as a ``keras.Model`` holding ``train_inputs`` / ``train_labels``.

    "Training" is storing the training set; all the work happens at test time (one distance per
    stored example and query), which is what makes k-NN slow to evaluate.

    Args:
        train_inputs: ``(N, height, width, channels)`` array.
        train_labels: ``(N,)`` integer class ids.
        num_classes, k, distance: see ``NearestNeighbors``.
    """
    train_inputs = np.asarray(train_inputs, dtype="float32")
    train_labels = np.asarray(train_labels)
    if len(train_inputs) != len(train_labels):
        arguments.fail(
            "train_labels",
            f"one label per example of `train_inputs` ({len(train_inputs)})",
            None,
            received=f"{len(train_labels)} labels",
        )
    inputs = keras.Input(train_inputs.shape[1:], name="image")
    voting = NearestNeighbors(
        len(train_inputs), num_classes, k=k, distance=distance, name="neighbors"
    )
    model = keras.Model(inputs, voting(inputs), name=name)
    voting.set_weights(
        [train_inputs.reshape(len(train_inputs), -1), train_labels.astype("float32")]
    )
    return model
