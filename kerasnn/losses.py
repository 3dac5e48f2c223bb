"""The course's losses: functions of ``(y_true, y_pred)`` and registered ``keras.losses.Loss``s.

Each loss exists twice: as a plain function (``multiclass_hinge(labels, scores)``: per-example
values, usable in any ``train_step``) and as a ``keras.losses.Loss`` subclass that ``compile``
takes and ``model.save`` serializes under the ``kerasnn`` package, so a saved model loads with only
``import kerasnn``. The docstring of each gives its formula and the section of the notes.
"""

import keras
from keras import ops


def multiclass_hinge(labels, scores, margin=1.0):
    """The multiclass SVM (hinge) loss, section "Linear Classifier" (training it).

    ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``: the correct class must beat every
    other class by ``margin``; a class already beaten by that much costs nothing.

    Args:
        labels: ``(batch,)`` or ``(batch, 1)`` integer class ids.
        scores: ``(batch, num_classes)`` raw scores ``s = Wx + b`` (not posteriors).
        margin: the required margin (1 in the notes).

    Returns:
        ``(batch,)`` per-example losses.

    Example:
        >>> float(multiclass_hinge([0], [[3.0, 2.5, -1.0]])[0])  # max(0, 2.5-3+1) + max(0, -1-3+1)
        0.5
    """
    scores = ops.convert_to_tensor(scores)
    num_classes = ops.shape(scores)[-1]
    labels = ops.cast(ops.reshape(ops.convert_to_tensor(labels), (-1,)), "int32")
    target = ops.one_hot(labels, num_classes, dtype=scores.dtype)
    correct = ops.sum(scores * target, axis=-1, keepdims=True)
    return ops.sum(ops.maximum(scores - correct + margin, 0.0) * (1.0 - target), axis=-1)


@keras.saving.register_keras_serializable(package="kerasnn")
class MulticlassHinge(keras.losses.Loss):
    """``multiclass_hinge`` as a ``keras.losses.Loss`` (integer labels, raw scores).

    Args:
        margin: the required margin between the correct score and every other one.
        reduction, name: as for every ``keras.losses.Loss``.

    Example:
        >>> loss = MulticlassHinge()
        >>> float(loss([0, 1], [[3.0, 2.5, -1.0], [0.0, 2.0, 0.0]]))  # mean of 0.5 and 0.0
        0.25
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="multiclass_hinge"):
        super().__init__(reduction=reduction, name=name)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        return multiclass_hinge(y_true, y_pred, margin=self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
