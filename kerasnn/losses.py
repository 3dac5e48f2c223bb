"""The course's losses: functions of ``(y_true, y_pred)`` and registered ``keras.losses.Loss``
classes.

Each loss exists twice: as a plain function (``multiclass_hinge(labels, scores)``: per-example
values, usable in any ``train_step``) and as a ``keras.losses.Loss`` subclass that ``compile``
takes and ``model.save`` serializes under the ``kerasnn`` package, so a saved model loads with only
``import kerasnn``. The docstring of each gives its formula and the section of the notes.
"""

import keras
from keras import ops

from kerasnn import arguments


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


# --- GANs ("GAN Training", "Alternate:") -----------------------------------------------------
#
# The discriminator outputs a logit l and D = sigmoid(l); the losses are written on l with
# log D = -softplus(-l) and log(1 - D) = -softplus(l), exact and finite for every l (clipping D
# instead would zero the very gradients that the saturating/non-saturating comparison is about).


def gan_discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss: minus the notes' objective, so minimizing it is gradient ascent.

    ``-(mean log D(s) + mean log(1 - D(G(z))))`` ("GAN Training": D maximizes the binary
    cross-entropy objective ``E_s[log D(s)] + E_z[log(1 - D(G(z)))]``).

    Args:
        real_logits: ``(batch, 1)`` discriminator logits of real samples ``s``.
        fake_logits: ``(batch, 1)`` discriminator logits of generated samples ``G(z)``.

    Example:
        >>> round(float(gan_discriminator_loss([[0.0]], [[0.0]])), 4)  # D = 1/2: 2 log 2
        1.3863
    """
    real_logits = ops.convert_to_tensor(real_logits, "float32")
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


GENERATOR_LOSSES = ("minimax", "non_saturating")


def gan_generator_loss(fake_logits, kind="non_saturating"):
    """The generator's loss on ``D(G(z))`` ("Alternate:").

    - ``"minimax"``: ``mean log(1 - D(G(z)))``, the notes' textbook objective, minimized. Its
      gradient vanishes when D confidently rejects the samples (early in training);
    - ``"non_saturating"``: ``mean -log D(G(z))``, what the notes recommend "in real life": the
      same fixed point, much stronger gradients early on.

    Example:
        >>> round(float(gan_generator_loss([[0.0]], "minimax")), 4)  # log(1/2)
        -0.6931
    """
    arguments.one_of("kind", kind, GENERATOR_LOSSES)
    fake_logits = ops.convert_to_tensor(fake_logits, "float32")
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    return ops.mean(ops.softplus(-fake_logits))


# --- Language models ("Embedding and Softmax", word2vec "Summary") ---------------------------


def negative_log_likelihood(y_true, log_probabilities):
    """``-log P(target)`` for models that output the log-probability of their target themselves
    (a hierarchical softmax given the target, "Embedding and Softmax"): maximum likelihood, the
    "log-likelihood loss function" of the notes' word2vec "Summary". ``y_true`` is ignored.

    Example:
        >>> float(negative_log_likelihood(None, [-0.5, -2.0])[1])
        2.0
    """
    del y_true  # the model already picked the target's probability
    return -ops.convert_to_tensor(log_probabilities)


@keras.saving.register_keras_serializable(package="kerasnn")
class NegativeLogLikelihood(keras.losses.Loss):
    """``negative_log_likelihood`` as a ``keras.losses.Loss`` (``y_pred``: log-probabilities of
    the targets; ``y_true`` ignored, pass any array of the batch size)."""

    def __init__(self, reduction="sum_over_batch_size", name="negative_log_likelihood"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return negative_log_likelihood(y_true, y_pred)


# --- Retrieval chatbots ("Chatbots": a dual encoder trained with in-batch negatives) ----------


def in_batch_negatives_loss(query_vectors, answer_vectors, temperature=1.0):
    """Per-example softmax cross-entropy of a dual encoder over the batch's answers.

    Row ``i`` of ``query_vectors`` ``(B, d)`` must pick its own answer ``i`` among the ``B``
    answers of the batch (the other ``B - 1`` are its negatives), by cosine similarity::

        s_ij = cos(q_i, a_j) / temperature,   loss_i = -log( exp(s_ii) / sum_j exp(s_ij) )

    Returns the ``(B,)`` losses.

    Example:
        >>> q = np.eye(2); round(float(in_batch_negatives_loss(q, q, 0.5)[0]), 4)
        0.1269
    """
    queries = ops.normalize(ops.convert_to_tensor(query_vectors, "float32"), axis=-1)
    answers = ops.normalize(ops.convert_to_tensor(answer_vectors, "float32"), axis=-1)
    scores = ops.matmul(queries, ops.transpose(answers)) / temperature
    return -ops.diagonal(ops.log_softmax(scores, axis=-1))


@keras.saving.register_keras_serializable(package="kerasnn")
class InBatchNegatives(keras.losses.Loss):
    """``in_batch_negatives_loss`` as a ``keras.losses.Loss``: ``y_pred`` is the concatenation
    ``[query_vector, answer_vector]`` along the last axis (a dual encoder's two towers side by
    side); ``y_true`` is ignored (pass any array of the batch size). Train with a shuffled
    batch: the negatives are the other rows."""

    def __init__(self, temperature=0.1, reduction="sum_over_batch_size",
                 name="in_batch_negatives"):
        super().__init__(reduction=reduction, name=name)
        self.temperature = temperature

    def call(self, y_true, y_pred):
        del y_true
        half = y_pred.shape[-1] // 2
        return in_batch_negatives_loss(y_pred[:, :half], y_pred[:, half:], self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
