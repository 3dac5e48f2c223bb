"""The course's losses: functions of ``(y_true, y_pred)`` and registered ``keras.losses.Loss``
classes.

Each loss exists twice: as a plain function (``multiclass_hinge(labels, scores)``: per-example
values, usable in any ``train_step``) and as a ``keras.losses.Loss`` subclass that ``compile``
takes and ``model.save`` serializes under the ``kerasnn`` package, so a saved model loads with only
``import kerasnn``. The docstring of each gives its formula and the section of the notes.
"""

import keras
import numpy as np
import scipy.ndimage
from keras import ops

from kerasnn import arguments
from kerasnn.ops import yolo as yolo_ops


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
def box_regression_norm(boxes_true, boxes_pred, epsilon=1e-12):
    """The localization regression term ``R = ||[x', y', w', h'] - [x, y, w, h]||_2``, section
    "Localization": the Euclidean norm of the box error (not its square, as the notes write it).

    Args:
        boxes_true, boxes_pred: ``(batch, 4)`` boxes in one convention (any 4 coordinates).
        epsilon: added under the square root so the gradient stays finite at a perfect box.

    Returns:
        ``(batch,)`` norms.

    Example:
        >>> round(float(box_regression_norm([[0.0, 0, 0, 0]], [[0.3, 0.4, 0, 0]])[0]), 6)
        0.5
    """
    boxes_true = ops.convert_to_tensor(boxes_true)
    boxes_pred = ops.convert_to_tensor(boxes_pred)
    error = boxes_pred - ops.cast(boxes_true, boxes_pred.dtype)
    return ops.sqrt(ops.sum(ops.square(error), axis=-1) + epsilon)


@keras.saving.register_keras_serializable(package="kerasnn")
class BoxRegressionNorm(keras.losses.Loss):
    """``box_regression_norm`` as a ``keras.losses.Loss`` (the box output of a localizer).

    Example:
        >>> round(float(BoxRegressionNorm()([[0.0, 0, 0, 0]], [[0.3, 0.4, 0, 0]])), 6)
        0.5
    """

    def __init__(self, epsilon=1e-12, reduction="sum_over_batch_size", name="box_regression_norm"):
        super().__init__(reduction=reduction, name=name)
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        return box_regression_norm(y_true, y_pred, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def localization_loss(labels, class_output, boxes_true, boxes_pred, alpha=0.5, from_logits=False):
    """The multitask localization loss ``L = alpha * delta + (1 - alpha) * R``, section
    "Localization": ``delta`` the (sparse categorical) cross-entropy of the class, ``R`` the
    ``box_regression_norm``. ``alpha`` trades the two tasks ("difficult to tune").

    Returns:
        ``(batch,)`` per-example losses.
    """
    alpha = arguments.probability("alpha", alpha)
    crossentropy = keras.losses.sparse_categorical_crossentropy(
        labels, class_output, from_logits=from_logits
    )
    return alpha * crossentropy + (1.0 - alpha) * box_regression_norm(boxes_true, boxes_pred)


def localization_compile_arguments(
    alpha=0.5, *, class_output="class", box_output="box", from_logits=False
):
    """``compile`` arguments that train a two-output model with ``localization_loss``.

    Keras sums the per-output losses times their ``loss_weights``, so with ``loss_weights``
    ``alpha`` and ``1 - alpha`` the total is the notes' ``L``.

    Returns:
        ``{"loss": {...}, "loss_weights": {...}}`` keyed by the two output names; use as
        ``model.compile(optimizer, **localization_compile_arguments(0.5), metrics=...)``.
    """
    alpha = arguments.probability("alpha", alpha)
    return {
        "loss": {
            class_output: keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
            box_output: BoxRegressionNorm(),
        },
        "loss_weights": {class_output: alpha, box_output: 1.0 - alpha},
    }
# --- Siamese networks: distances between embeddings ("Siamese Networks", "Triplet Loss") ---------
#
# The notes' distances are plain Euclidean norms ||f(I_i) - f(I_j)||_2, not squared. The square
# root has an infinite derivative at 0, so it is taken of max(squared distance, epsilon): equal
# embeddings then get a zero gradient instead of NaN.

DISTANCE_EPSILON = 1e-12


def _check_margin(margin):
    return arguments.non_negative_number("margin", margin)


def _check_same_shape(reference_name, reference, name, value):
    if reference.shape != value.shape:
        arguments.fail(
            name, f"a tensor of the shape of `{reference_name}`, {tuple(reference.shape)}",
            tuple(value.shape),
        )


def euclidean_distance(first, second):
    """``||first - second||_2`` along the last axis: ``(batch, dim)`` twice -> ``(batch,)``."""
    squared = ops.sum(ops.square(first - second), axis=-1)
    return ops.sqrt(ops.maximum(squared, DISTANCE_EPSILON))


def contrastive(labels, first, second, margin=1.0):
    """The contrastive loss of a siamese pair, section "Siamese Networks" (Contrastive Loss).

    ``L(I_i, I_j, y) = (1 - y)/2 * d + y/2 * max(0, m - d)`` with ``d = ||f(I_i) - f(I_j)||_2``:
    a pair of the same identity (``y = 0``) costs its distance, a pair of different identities
    (``y = 1``) costs only while it is closer than the margin ``m``. The distance is not squared,
    as the notes write it.

    Args:
        labels: ``(batch,)`` or ``(batch, 1)`` pair labels, **0 for the same identity, 1 for
            different ones** (the notes' convention).
        first, second: ``(batch, dim)`` embeddings ``f(I_i)`` and ``f(I_j)``.
        margin: ``m >= 0``.

    Returns:
        ``(batch,)`` per-pair losses.

    Example:
        >>> float(contrastive([1], [[0.0, 0.0]], [[0.3, 0.4]], margin=1.0)[0])  # (1 - 0.5) / 2
        0.25
    """
    margin = _check_margin(margin)
    first, second = ops.convert_to_tensor(first), ops.convert_to_tensor(second)
    _check_same_shape("first", first, "second", second)
    distance = euclidean_distance(first, second)
    labels = ops.cast(ops.reshape(ops.convert_to_tensor(labels), (-1,)), distance.dtype)
    return (1.0 - labels) / 2.0 * distance + labels / 2.0 * ops.maximum(margin - distance, 0.0)


def triplet(anchor, positive, negative, margin=1.0):
    """The triplet loss, section "Triplet Loss", with the sign the notes intend.

    ``L(I, P, N) = max(0, m + ||f(I) - f(P)||_2 - ||f(I) - f(N)||_2)``: the anchor ``I`` must be
    closer to the positive ``P`` (same identity) than to the negative ``N`` by the margin ``m``.

    **The notes print the difference the other way round**, ``max(0, m + ||f(I) - f(N)|| -
    ||f(I) - f(P)||)``. Minimising that printed form rewards the wrong embedding (negative
    close, positive far: zero loss) and penalises the right one; its own sentence ("a pair from
    the same individual [is] smaller in distance than those with different ones") states the
    intent implemented here. ``tests/test_losses.py`` checks both forms on such embeddings.

    Args:
        anchor, positive, negative: ``(batch, dim)`` embeddings.
        margin: ``m >= 0``.

    Returns:
        ``(batch,)`` per-triplet losses.

    Example:
        >>> float(triplet([[0.0, 0.0]], [[0.3, 0.4]], [[0.0, 1.0]], margin=1.0)[0])  # 1 + 0.5 - 1
        0.5
    """
    margin = _check_margin(margin)
    anchor, positive, negative = (ops.convert_to_tensor(t) for t in (anchor, positive, negative))
    _check_same_shape("anchor", anchor, "positive", positive)
    _check_same_shape("anchor", anchor, "negative", negative)
    return ops.maximum(
        margin + euclidean_distance(anchor, positive) - euclidean_distance(anchor, negative), 0.0
    )


def pairwise_distances(embeddings):
    """``(batch, batch)`` Euclidean distances between every two rows of ``(batch, dim)``."""
    squared_norms = ops.sum(ops.square(embeddings), axis=-1)
    squared = (
        squared_norms[:, None] + squared_norms[None, :]
        - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings))
    )
    return ops.sqrt(ops.maximum(squared, DISTANCE_EPSILON))


def semi_hard_triplet(labels, embeddings, margin=1.0):
    """The triplet loss over the semi-hard triplets of a batch (FaceNet's online mining).

    The notes leave "the selection of triplets for training" open. Here every anchor-positive
    pair ``(i, j)`` of the batch (same label, ``i != j``) takes as negative the closest example
    of another label that is still farther than the positive (``d(i, n) > d(i, j)``: a
    *semi-hard* negative); when there is none, the farthest negative (the smallest loss). The
    loss is ``triplet``'s ``max(0, m + d(i, j) - d(i, n))`` averaged over those pairs (0 for a
    batch without any). Feed class-balanced batches (``kerasnn.data.pairs.class_balanced_batches``).

    Args:
        labels: ``(batch,)`` or ``(batch, 1)`` integer identities.
        embeddings: ``(batch, dim)``.
        margin: ``m >= 0``.

    Returns:
        The scalar mean loss of the batch.
    """
    margin = _check_margin(margin)
    embeddings = ops.convert_to_tensor(embeddings)
    labels = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    distances = pairwise_distances(embeddings)
    same = ops.equal(labels[:, None], labels[None, :])
    size = ops.shape(distances)[0]
    positive_pair = ops.logical_and(same, ops.logical_not(ops.eye(size, dtype="bool")))
    negative = ops.logical_not(same)
    anchor_positive = distances[:, :, None]  # (anchor i, positive j, 1)
    anchor_negative = distances[:, None, :]  # (anchor i, 1, negative k)
    semi_hard = ops.logical_and(negative[:, None, :], anchor_negative > anchor_positive)
    far = ops.max(distances) + 1.0
    closest_semi_hard = ops.min(ops.where(semi_hard, anchor_negative, far), axis=-1)
    farthest_negative = ops.max(ops.where(negative, distances, 0.0), axis=-1)[:, None]
    chosen = ops.where(ops.any(semi_hard, axis=-1), closest_semi_hard, farthest_negative)
    has_negative = ops.any(negative, axis=-1)[:, None]
    mask = ops.cast(ops.logical_and(positive_pair, has_negative), distances.dtype)
    losses = ops.maximum(margin + distances - chosen, 0.0) * mask
    return ops.divide_no_nan(ops.sum(losses), ops.sum(mask))


def _check_stacked(y_pred, branches, loss_name):
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_pred.shape) != 3 or y_pred.shape[1] != branches:
        arguments.fail(
            "y_pred", f"(batch, {branches}, dim) embeddings stacked by a {branches}-branch "
            f"siamese model for {loss_name}", tuple(y_pred.shape),
        )
    return y_pred


class _MarginLoss(keras.losses.Loss):
    """A loss with a margin ``m >= 0``: the constructor check and the config of the three below."""

    def __init__(self, margin, reduction, name):
        super().__init__(reduction=reduction, name=name)
        self.margin = _check_margin(margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="kerasnn")
class Contrastive(_MarginLoss):
    """``contrastive`` as a ``keras.losses.Loss`` for a two-branch siamese model.

    ``y_true``: pair labels (0 same identity, 1 different); ``y_pred``: ``(batch, 2, dim)``, the
    two embeddings stacked on axis 1 (what ``kerasnn.models.siamese_network`` outputs).

    Args:
        margin: ``m >= 0``.
        reduction, name: as for every ``keras.losses.Loss``.

    Example:
        >>> float(Contrastive(margin=1.0)([0, 1], [[[0.0, 0.0], [0.3, 0.4]]] * 2))  # d = 0.5
        0.25
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="contrastive"):
        super().__init__(margin, reduction, name)

    def call(self, y_true, y_pred):
        y_pred = _check_stacked(y_pred, 2, "the contrastive loss")
        return contrastive(y_true, y_pred[:, 0], y_pred[:, 1], margin=self.margin)


@keras.saving.register_keras_serializable(package="kerasnn")
class Triplet(_MarginLoss):
    """``triplet`` as a ``keras.losses.Loss`` for a three-branch siamese model.

    ``y_pred``: ``(batch, 3, dim)``, the anchor, positive and negative embeddings stacked on
    axis 1; ``y_true`` is ignored (the order of the branches is the label).

    Args:
        margin: ``m >= 0``.
        reduction, name: as for every ``keras.losses.Loss``.
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="triplet"):
        super().__init__(margin, reduction, name)

    def call(self, y_true, y_pred):
        y_pred = _check_stacked(y_pred, 3, "the triplet loss")
        return triplet(y_pred[:, 0], y_pred[:, 1], y_pred[:, 2], margin=self.margin)


@keras.saving.register_keras_serializable(package="kerasnn")
class SemiHardTriplet(_MarginLoss):
    """``semi_hard_triplet`` as a ``keras.losses.Loss``: train an embedding network directly on
    ``(images, labels)`` batches; ``y_true`` identities, ``y_pred`` ``(batch, dim)`` embeddings.

    Args:
        margin: ``m >= 0``.
        reduction, name: as for every ``keras.losses.Loss`` (the batch's loss is already a mean).
    """

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="semi_hard_triplet"):
        super().__init__(margin, reduction, name)

    def call(self, y_true, y_pred):
        return semi_hard_triplet(y_true, y_pred, margin=self.margin)


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


# --- Segmentation ("Full Image", "U-NET") ----------------------------------------------------
#
# Full-image training sums a loss over the pixels, weighted: theta = argmin sum_x w(x) l(x, theta)
# ("Full Image"). The weight map is computed from the annotation in the data pipeline (NumPy and
# SciPy: an exact Euclidean distance transform, which keras.ops has not) and given to ``fit`` as
# a per-pixel sample weight.

UNET_W0 = 10.0  # the U-Net paper's w0 (Ronneberger et al., 2015)
UNET_SIGMA = 5.0  # the U-Net paper's sigma, in pixels


def pixelwise_weighted_crossentropy(labels, outputs, weights=None, from_logits=False):
    """The pixel-wise weighted cross-entropy of full-image segmentation ("Full Image", "U-NET").

    ``L = (1 / |R|) sum_{x in R} w(x) l(x)``, ``l(x) = -log p_{y(x)}(x)`` the cross-entropy of
    pixel ``x``: the notes' ``sum_x w(x) l(x)`` divided by the number of pixels, so that its
    scale does not depend on the image size (the minimizer is the same).

    Args:
        labels: ``(batch, H, W)`` (or ``(batch, H, W, 1)``) integer class ids.
        outputs: ``(batch, H, W, num_classes)`` posteriors (or logits with ``from_logits``).
        weights: ``(batch, H, W)`` per-pixel weights ``w(x)`` (``unet_weight_map``); None is 1.
        from_logits: whether ``outputs`` are logits.

    Returns:
        ``(batch,)`` per-image losses.

    Example:
        >>> p = [[[[0.5, 0.5], [0.9, 0.1]]]]  # one image of 1 x 2 pixels, two classes
        >>> round(float(pixelwise_weighted_crossentropy([[[0, 0]]], p, [[[2.0, 0.0]]])[0]), 4)
        0.6931
    """
    outputs = ops.convert_to_tensor(outputs)
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == len(outputs.shape):
        labels = ops.squeeze(labels, axis=-1)
    if tuple(labels.shape) != tuple(outputs.shape[:-1]):
        arguments.shape_error("labels", tuple(outputs.shape[:-1]), labels.shape)
    losses = keras.losses.sparse_categorical_crossentropy(
        labels, outputs, from_logits=from_logits
    )
    if weights is not None:
        weights = ops.convert_to_tensor(weights, losses.dtype)
        if tuple(weights.shape) != tuple(losses.shape):
            arguments.shape_error("weights", tuple(losses.shape), weights.shape)
        losses = losses * weights
    return ops.mean(ops.reshape(losses, (ops.shape(losses)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="kerasnn")
class PixelwiseWeightedCrossentropy(keras.losses.Loss):
    """``pixelwise_weighted_crossentropy`` as a ``keras.losses.Loss``: the weight map comes as
    ``sample_weight`` of shape ``(batch, H, W)`` (a dataset of ``(image, mask, weights)``
    triples in ``fit``). With the default reduction the result is ``sum_x w(x) l(x)`` over the
    batch's pixels divided by their number.

    Args:
        from_logits: whether the model outputs logits.
        reduction, name: as for every ``keras.losses.Loss``.
    """

    def __init__(
        self,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="pixelwise_weighted_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = arguments.boolean("from_logits", from_logits)

    def call(self, y_true, y_pred):
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        # per-pixel losses (batch, H, W): Keras multiplies them by the per-pixel sample_weight
        return keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=self.from_logits
        )

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


def class_balance_weights(masks, num_classes):
    """The class-balancing weights ``w_c`` of the U-Net weight map ("U-NET": "w_c is used to
    balance class proportions"): ``w_c = N / (K n_c)``, ``n_c`` the pixels of class ``c`` among
    the ``N`` pixels of ``masks``, ``K`` the number of classes present; 0 for an absent class.
    The mean weight over the pixels is 1.

    Returns:
        ``(num_classes,)`` float array.

    Example:
        >>> class_balance_weights([[0, 0, 0, 1]], 3).tolist()  # 4 / (2 * 3), 4 / (2 * 1)
        [0.6666666666666666, 2.0, 0.0]
    """
    num_classes = arguments.positive_int("num_classes", num_classes)
    masks = np.asarray(masks).reshape(-1)
    if masks.size and (masks.min() < 0 or masks.max() >= num_classes):
        arguments.fail("masks", f"class ids in [0, {num_classes})", None,
                       received=f"ids from {masks.min()} to {masks.max()}")
    counts = np.bincount(masks, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = masks.size / (present.sum() * counts[present])
    return weights


def unet_weight_map(instances, semantic=None, class_weights=None, w0=UNET_W0, sigma=UNET_SIGMA):
    """The U-Net weight map ``w(x) = w_c(x) + w0 exp(-(d1(x) + d2(x))^2 / (2 sigma^2))`` ("U-NET").

    ``d1(x)``, ``d2(x)``: Euclidean distances (pixels) from ``x`` to the nearest pixel of the
    closest and of the second-closest object. As in the paper, the border term weighs the
    background pixels (``instances == 0``): those in the narrow gaps between two objects get up
    to ``w0`` more, so the network learns to separate touching objects. With fewer than two
    objects the term is 0. Defaults ``w0 = 10``, ``sigma = 5`` are the paper's values
    (``UNET_W0``, ``UNET_SIGMA``).

    Args:
        instances: ``(H, W)`` or ``(N, H, W)`` instance ids: 0 background, 1..n one per object.
        semantic: class ids of the same shape, for ``w_c`` (None: ``w_c = 1`` everywhere).
        class_weights: ``(num_classes,)`` ``w_c`` per class (``class_balance_weights``);
            default: computed from ``semantic``.
        w0, sigma: the border term's height and width.

    Returns:
        float32 array of ``instances``' shape.
    """
    w0 = arguments.non_negative_number("w0", w0)
    sigma = arguments.positive_number("sigma", sigma)
    instances = np.asarray(instances)
    if instances.ndim == 3:
        semantic = [None] * len(instances) if semantic is None else np.asarray(semantic)
        if len(semantic) != len(instances):
            arguments.shape_error("semantic", instances.shape, np.shape(semantic))
        if class_weights is None and semantic[0] is not None:
            class_weights = class_balance_weights(semantic, int(semantic.max()) + 1)
        return np.stack([
            unet_weight_map(i, s, class_weights, w0, sigma) for i, s in zip(instances, semantic)
        ])
    if instances.ndim != 2:
        arguments.shape_error("instances", "(H, W) or (N, H, W)", instances.shape)
    if semantic is None:
        weights = np.ones(instances.shape)
    else:
        semantic = np.asarray(semantic)
        if semantic.shape != instances.shape:
            arguments.shape_error("semantic", instances.shape, semantic.shape)
        if class_weights is None:
            class_weights = class_balance_weights(semantic, int(semantic.max()) + 1)
        weights = np.asarray(class_weights, dtype=np.float64)[semantic]
    ids = np.unique(instances[instances > 0])
    if len(ids) >= 2 and w0 > 0:
        distances = np.stack([scipy.ndimage.distance_transform_edt(instances != i) for i in ids])
        distances.partition(1, axis=0)  # distances[0], distances[1]: the two smallest
        border = w0 * np.exp(-((distances[0] + distances[1]) ** 2) / (2 * sigma**2))
        weights = weights + border * (instances == 0)
    return weights.astype(np.float32)


def separate_touching(instances, masks):
    """Background lines between touching objects of one class, as the U-Net paper's labels have
    them: without a gap, two touching objects of one class are one blob of that class in the
    semantic mask, and no per-pixel loss could teach the network to split them.

    Where two different objects of one class are 4-neighbours, the pixel of the object with the
    larger id becomes background (0) in both maps: a one-pixel line. The border term of
    ``unet_weight_map`` then weighs exactly those lines (``d1 + d2`` about 2 pixels).

    Args:
        instances: ``(..., H, W)`` instance ids (0 background).
        masks: class ids of the same shape.

    Returns:
        ``(instances, masks)``: copies with the separating lines set to 0.

    Example:
        >>> instances, masks = separate_touching([[1, 1, 2, 2]], [[1, 1, 1, 1]])
        >>> instances.tolist(), masks.tolist()
        ([[1, 1, 0, 2]], [[1, 1, 0, 1]])
    """
    instances, masks = np.array(instances), np.array(masks)
    if instances.shape != masks.shape or instances.ndim < 2:
        arguments.shape_error("masks", f"(..., H, W) as instances {instances.shape}", masks.shape)
    line = np.zeros(instances.shape, dtype=bool)
    for axis in (-2, -1):
        a = np.moveaxis(instances, axis, -1)
        m = np.moveaxis(masks, axis, -1)
        touching = (a[..., 1:] != a[..., :-1]) & (a[..., 1:] > 0) & (a[..., :-1] > 0)
        touching &= m[..., 1:] == m[..., :-1]
        later = np.moveaxis(line, axis, -1)  # a view: marks land in ``line``
        later[..., 1:] |= touching & (a[..., 1:] > a[..., :-1])
        later[..., :-1] |= touching & (a[..., :-1] > a[..., 1:])
    instances[line] = 0
    masks[line] = 0
    return instances, masks


# --- Two-stage detection ("Faster R-CNN": "Training now involves 4 losses") ------------------
#
# RPN objectness, RPN box regression, detection classification and detection box regression,
# each a function returning per-image values and a registered Loss. Labels come from
# ``kerasnn.ops.targets``: -1 marks entries outside the sampled mini-batch (ignored). Each
# per-image loss is normalized by that image's number of sampled entries (torchvision's choice;
# the paper's N_cls / N_reg with lambda = 10 weigh the terms about the same way).


def smooth_l1(y_true, y_pred, beta=1.0):
    """Elementwise smooth L1 (Fast R-CNN, eq. 3): ``0.5 x**2 / beta`` if ``|x| < beta`` else
    ``|x| - 0.5 * beta``, with ``x = y_pred - y_true``. ``beta = 1`` is Fast R-CNN's; torchvision's
    RPN uses ``1 / 9``. Keras' ``Huber(delta)`` equals ``delta * smooth_l1(beta=delta)``.

    Example:
        >>> [float(v) for v in smooth_l1([0.0, 0.0], [0.5, 3.0])]
        [0.125, 2.5]
    """
    beta = arguments.positive_number("beta", beta)
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, "float32")
    error = ops.abs(y_pred - ops.cast(y_true, y_pred.dtype))
    return ops.where(error < beta, 0.5 * ops.square(error) / beta, error - 0.5 * beta)


def _sampled_mean(values, labels):
    """Per-image mean of ``values`` over entries with ``labels >= 0`` (0 when there are none)."""
    sampled = ops.cast(labels >= 0, values.dtype)
    return ops.sum(values * sampled, axis=-1) / ops.maximum(ops.sum(sampled, axis=-1), 1.0)


def rpn_objectness_loss(objectness_labels, objectness_logits):
    """Binary cross-entropy of the RPN's objectness over the sampled anchors.

    ``L_cls = mean over anchors with label in {0, 1} of BCE(label, sigmoid(logit))``; anchors
    labelled ``-1`` (not sampled, ignored) do not count.

    Args:
        objectness_labels: ``(batch, A)`` ints in ``{1, 0, -1}`` (``ops.targets.anchor_targets``).
        objectness_logits: ``(batch, A)`` logits (``RPNHead``).

    Returns:
        ``(batch,)`` per-image losses.

    Example:
        >>> round(float(rpn_objectness_loss([[1, -1]], [[0.0, 5.0]])[0]), 4)  # log 2
        0.6931
    """
    logits = ops.convert_to_tensor(objectness_logits)
    if not keras.backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, "float32")
    labels = ops.cast(objectness_labels, "int32")
    targets = ops.cast(ops.maximum(labels, 0), logits.dtype)
    # log(1 + exp(-|l|)) + max(l, 0) - l * t: the stable form of the cross-entropy on logits.
    crossentropy = ops.softplus(-ops.abs(logits)) + ops.relu(logits) - logits * targets
    return _sampled_mean(crossentropy, labels)


def _box_loss(labels, positive, deltas_true, deltas_pred, beta):
    per_entry = ops.sum(smooth_l1(deltas_true, deltas_pred, beta), axis=-1)
    per_entry = per_entry * ops.cast(positive, per_entry.dtype)
    return _sampled_mean(per_entry, labels)


def rpn_box_loss(objectness_labels, box_deltas_true, box_deltas_pred, beta=1.0 / 9.0):
    """Smooth L1 of the RPN's box deltas on positive anchors only.

    ``L_reg = sum over positive anchors of sum_4 smooth_l1(t - t*) / number of sampled anchors``
    (the paper's ``p* L_reg``: only anchors with label 1 regress).

    Args:
        objectness_labels: ``(batch, A)`` ints in ``{1, 0, -1}``.
        box_deltas_true: ``(batch, A, 4)`` targets (``anchor_targets``' ``box_deltas``).
        box_deltas_pred: ``(batch, A, 4)`` predicted deltas.
        beta: smooth L1 transition point (default ``1 / 9``, torchvision's RPN).

    Returns:
        ``(batch,)`` per-image losses.
    """
    labels = ops.cast(objectness_labels, "int32")
    return _box_loss(labels, labels == 1, box_deltas_true, box_deltas_pred, beta)


def detection_class_loss(classes, class_logits):
    """Softmax cross-entropy of the second stage over the sampled RoIs.

    Args:
        classes: ``(batch, R)`` ints: ``0`` background, ``c + 1`` class ``c``, ``-1`` ignored
            (``ops.targets.sample_rois``).
        class_logits: ``(batch, R, num_classes + 1)`` logits, background first.

    Returns:
        ``(batch,)`` per-image losses.
    """
    logits = ops.convert_to_tensor(class_logits)
    if not keras.backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, "float32")
    classes = ops.cast(classes, "int32")
    log_probabilities = ops.log_softmax(logits, axis=-1)
    target = ops.one_hot(ops.maximum(classes, 0), ops.shape(logits)[-1], dtype=logits.dtype)
    return _sampled_mean(-ops.sum(target * log_probabilities, axis=-1), classes)


def detection_box_loss(classes, box_deltas_true, box_deltas_pred, beta=1.0):
    """Smooth L1 of the second stage's class-specific box deltas, on foreground RoIs only.

    Fast R-CNN's ``[u >= 1] L_loc(t^u, v)``: the deltas predicted *for the RoI's true class* are
    compared with the targets; background and ignored RoIs do not regress.

    Args:
        classes: ``(batch, R)`` ints as in :func:`detection_class_loss`.
        box_deltas_true: ``(batch, R, 4)`` targets (``sample_rois``' ``box_deltas``).
        box_deltas_pred: ``(batch, R, num_classes, 4)`` class-specific deltas (class ``c`` at
            index ``c``, no background entry), or ``(batch, R, 4)`` class-agnostic ones.
        beta: smooth L1 transition point (default 1, Fast R-CNN's).

    Returns:
        ``(batch,)`` per-image losses.
    """
    classes = ops.cast(classes, "int32")
    deltas_pred = ops.convert_to_tensor(box_deltas_pred)
    if len(deltas_pred.shape) == 4:
        index = ops.maximum(classes - 1, 0)[..., None, None]
        deltas_pred = ops.squeeze(ops.take_along_axis(deltas_pred, index, axis=2), axis=2)
    return _box_loss(classes, classes >= 1, box_deltas_true, deltas_pred, beta)


def _split_packed(y_true):
    """``[..., label, dy, dx, dh, dw]`` packed targets to (labels, deltas)."""
    return ops.cast(ops.round(y_true[..., 0]), "int32"), y_true[..., 1:]


@keras.saving.register_keras_serializable(package="kerasnn")
class RPNObjectnessLoss(keras.losses.Loss):
    """``rpn_objectness_loss`` as a Loss: ``y_true`` the ``(batch, A)`` labels, ``y_pred`` the
    ``(batch, A)`` logits."""

    def __init__(self, reduction="sum_over_batch_size", name="rpn_objectness_loss"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return rpn_objectness_loss(y_true, y_pred)


@keras.saving.register_keras_serializable(package="kerasnn")
class RPNBoxLoss(keras.losses.Loss):
    """``rpn_box_loss`` as a Loss: ``y_true`` packs ``(batch, A, 5)`` = ``[label, dy, dx, dh,
    dw]``, ``y_pred`` the ``(batch, A, 4)`` deltas."""

    def __init__(self, beta=1.0 / 9.0, reduction="sum_over_batch_size", name="rpn_box_loss"):
        super().__init__(reduction=reduction, name=name)
        self.beta = arguments.positive_number("beta", beta)

    def call(self, y_true, y_pred):
        labels, deltas = _split_packed(y_true)
        return rpn_box_loss(labels, deltas, y_pred, self.beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="kerasnn")
class DetectionClassLoss(keras.losses.Loss):
    """``detection_class_loss`` as a Loss: ``y_true`` the ``(batch, R)`` classes, ``y_pred`` the
    ``(batch, R, num_classes + 1)`` logits."""

    def __init__(self, reduction="sum_over_batch_size", name="detection_class_loss"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        return detection_class_loss(y_true, y_pred)


@keras.saving.register_keras_serializable(package="kerasnn")
class DetectionBoxLoss(keras.losses.Loss):
    """``detection_box_loss`` as a Loss: ``y_true`` packs ``(batch, R, 5)`` = ``[class, dy, dx,
    dh, dw]``, ``y_pred`` the ``(batch, R, num_classes, 4)`` (or ``(batch, R, 4)``) deltas."""

    def __init__(self, beta=1.0, reduction="sum_over_batch_size", name="detection_box_loss"):
        super().__init__(reduction=reduction, name=name)
        self.beta = arguments.positive_number("beta", beta)

    def call(self, y_true, y_pred):
        classes, deltas = _split_packed(y_true)
        return detection_box_loss(classes, deltas, y_pred, self.beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


# --- YOLO ("YOLO": one regression from the pixels to the boxes and class scores) --------------
#
# The notes give YOLO's output tensor but no loss; the loss below is the YOLO v1 paper's
# (Redmon et al., 2016, eq. 3) with its lambda_coord = 5 and lambda_noobj = 0.5, on the v2
# parameterization of ``kerasnn.ops.yolo`` (sigmoid offsets, anchor log-scales).

PAPER_YOLO_LAMBDA_COORD = 5.0  # YOLO v1, section 2.2
PAPER_YOLO_LAMBDA_NOOBJ = 0.5  # YOLO v1, section 2.2


def yolo_loss(targets, outputs, anchors, lambda_coord=PAPER_YOLO_LAMBDA_COORD,
              lambda_noobj=PAPER_YOLO_LAMBDA_NOOBJ):
    """YOLO's sum-squared error over the grid, per image (the v1 paper's eq. 3).

    With ``1_obj`` the anchors that hold a true box (``kerasnn.ops.yolo.encode_targets``) and
    ``1_noobj`` the others::

        L = lambda_coord * sum 1_obj [(sigmoid(ty) - y)^2 + (sigmoid(tx) - x)^2]
          + lambda_coord * sum 1_obj [(sqrt(h_hat) - sqrt(h))^2 + (sqrt(w_hat) - sqrt(w))^2]
          + sum 1_obj (C_hat - 1)^2 + lambda_noobj * sum 1_noobj C_hat^2
          + sum 1_obj sum_c (p_hat(c) - p(c))^2

    where ``(y, x)`` is the centre's offset in its cell, ``h, w`` the sizes as image fractions,
    ``h_hat = anchor_h * exp(th)`` (likewise ``w_hat``), ``C_hat = sigmoid(to)`` and
    ``p_hat = softmax(class logits)``, ``p`` the one-hot class. **From the paper**: the square
    roots of the sizes (an error on a small box weighs more than on a large one),
    ``lambda_coord = 5`` (localization weighs more than classification) and
    ``lambda_noobj = 0.5`` (the many empty anchors do not swamp the few objects). The paper's
    objectness target is the IoU of the predicted and true boxes; here it is 1 (as in most
    re-implementations: the target does not move with the prediction).

    Args:
        targets: ``(batch, H, L, B, 6)`` encoded targets.
        outputs: ``(batch, H, L, B, 5 + C)`` raw head outputs ``[ty, tx, th, tw, to, logits]``.
        anchors: ``(B, 2)`` anchor ``[height, width]`` image fractions.
        lambda_coord, lambda_noobj: non-negative weights (defaults: the paper's 5 and 0.5).

    Returns:
        ``(batch,)`` per-image losses.
    """
    lambda_coord = arguments.non_negative_number("lambda_coord", lambda_coord)
    lambda_noobj = arguments.non_negative_number("lambda_noobj", lambda_noobj)
    anchors = yolo_ops.check_anchors(anchors)
    outputs = ops.convert_to_tensor(outputs)
    if not keras.backend.is_float_dtype(outputs.dtype):
        outputs = ops.cast(outputs, "float32")
    targets = ops.cast(ops.convert_to_tensor(targets), outputs.dtype)
    if len(outputs.shape) != 5 or outputs.shape[3] != len(anchors) or outputs.shape[4] < 6:
        arguments.shape_error("outputs", f"(batch, H, L, {len(anchors)}, 5 + num_classes)",
                              outputs.shape)
    if len(targets.shape) != 5 or tuple(targets.shape[1:]) != tuple(outputs.shape[1:4]) + (6,):
        arguments.shape_error("targets", f"(batch, {outputs.shape[1]}, {outputs.shape[2]}, "
                              f"{len(anchors)}, 6)", targets.shape)
    has_object = targets[..., 4]
    offsets = ops.sigmoid(outputs[..., 0:2])
    coord = ops.sum(ops.square(offsets - targets[..., 0:2]), axis=-1)
    # sqrt(anchor * exp(t)) = sqrt(anchor) * exp(t / 2): no sqrt of a value that may reach 0.
    root_anchor = ops.convert_to_tensor(np.sqrt(anchors), outputs.dtype)
    root_size = root_anchor * ops.exp(0.5 * ops.minimum(outputs[..., 2:4], 10.0))
    size = ops.sum(ops.square(root_size - ops.sqrt(targets[..., 2:4])), axis=-1)
    confidence = ops.sigmoid(outputs[..., 4])
    probabilities = ops.softmax(outputs[..., 5:], axis=-1)
    num_classes = outputs.shape[-1] - 5
    one_hot = ops.one_hot(ops.cast(ops.maximum(targets[..., 5], 0), "int32"), num_classes,
                          dtype=outputs.dtype)
    classification = ops.sum(ops.square(probabilities - one_hot), axis=-1)
    per_anchor = has_object * (lambda_coord * (coord + size) + ops.square(confidence - 1.0)
                               + classification)
    per_anchor = per_anchor + lambda_noobj * (1.0 - has_object) * ops.square(confidence)
    return ops.sum(ops.reshape(per_anchor, (ops.shape(per_anchor)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="kerasnn")
class YOLOLoss(keras.losses.Loss):
    """``yolo_loss`` as a Loss: ``y_true`` the ``(batch, H, L, B, 6)`` targets of
    ``kerasnn.ops.yolo.encode_targets``, ``y_pred`` the ``(batch, H, L, B, 5 + C)`` raw outputs
    of ``kerasnn.layers.YOLOHead``.

    Args:
        anchors: ``(B, 2)`` anchor ``[height, width]`` image fractions.
        lambda_coord, lambda_noobj: the paper's 5 and 0.5 by default.
    """

    def __init__(self, anchors, lambda_coord=PAPER_YOLO_LAMBDA_COORD,
                 lambda_noobj=PAPER_YOLO_LAMBDA_NOOBJ, reduction="sum_over_batch_size",
                 name="yolo_loss"):
        super().__init__(reduction=reduction, name=name)
        self.anchors = yolo_ops.check_anchors(anchors).tolist()
        self.lambda_coord = arguments.non_negative_number("lambda_coord", lambda_coord)
        self.lambda_noobj = arguments.non_negative_number("lambda_noobj", lambda_noobj)

    def call(self, y_true, y_pred):
        return yolo_loss(y_true, y_pred, self.anchors, self.lambda_coord, self.lambda_noobj)

    def get_config(self):
        return {**super().get_config(), "anchors": self.anchors,
                "lambda_coord": self.lambda_coord, "lambda_noobj": self.lambda_noobj}


# --- Instance segmentation ("Instance Segmentation": a mask branch beside the box branch) ------


def mask_loss(classes, mask_targets, mask_logits):
    """Mask R-CNN's ``L_mask``: the mean binary cross-entropy of the mask of the RoI's class.

    Over the foreground RoIs only (``classes >= 1``), the ``m x m`` sigmoid mask of the RoI's
    true class ``c`` (channel ``c - 1``) against the RoI's binary target, averaged over the
    pixels; the other classes' masks get no loss (He et al., 2017, section 3: "the definition
    of L_mask allows the network to generate masks for every class without competition among
    classes"). Per image, the mean over its foreground RoIs (0 when it has none).

    Args:
        classes: ``(batch, R)`` ints as ``ops.targets.sample_rois`` (``0`` background, ``c + 1``
            class ``c``, ``-1`` ignored).
        mask_targets: ``(batch, R, m, m)`` binary targets (``ops.masks.mask_targets``).
        mask_logits: ``(batch, R, m, m, num_classes)`` logits (``layers.MaskHead``).

    Returns:
        ``(batch,)`` per-image losses.

    Example:
        >>> logits = np.zeros((1, 2, 1, 1, 2)); logits[0, 0, 0, 0, 1] = 5.0  # class 1's mask
        >>> round(float(mask_loss([[2, 0]], np.ones((1, 2, 1, 1)), logits)[0]), 4)  # log(1 + e^-5)
        0.0067
    """
    logits = ops.convert_to_tensor(mask_logits)
    if not keras.backend.is_float_dtype(logits.dtype):
        logits = ops.cast(logits, "float32")
    if len(logits.shape) != 5:
        arguments.shape_error("mask_logits", "(batch, R, m, m, num_classes)", logits.shape)
    targets = ops.cast(ops.convert_to_tensor(mask_targets), logits.dtype)
    if tuple(targets.shape[1:]) != tuple(logits.shape[1:4]):
        arguments.shape_error("mask_targets", f"(batch, {logits.shape[1]}, {logits.shape[2]}, "
                              f"{logits.shape[3]})", targets.shape)
    classes = ops.cast(ops.convert_to_tensor(classes), "int32")
    channel = ops.one_hot(ops.maximum(classes - 1, 0), logits.shape[-1], dtype=logits.dtype)
    chosen = ops.sum(logits * channel[:, :, None, None, :], axis=-1)  # (batch, R, m, m)
    # the stable cross-entropy on logits, as rpn_objectness_loss
    crossentropy = ops.softplus(-ops.abs(chosen)) + ops.relu(chosen) - chosen * targets
    per_roi = ops.mean(ops.reshape(crossentropy, ops.shape(crossentropy)[:2] + (-1,)), axis=-1)
    foreground = ops.cast(classes >= 1, per_roi.dtype)
    return ops.sum(per_roi * foreground, axis=-1) / ops.maximum(ops.sum(foreground, axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="kerasnn")
class MaskLoss(keras.losses.Loss):
    """``mask_loss`` as a Loss: ``y_true`` packs ``(batch, R, 1 + m * m)`` = ``[class,
    flattened m x m target]``, ``y_pred`` the ``(batch, R, m, m, num_classes)`` logits."""

    def __init__(self, reduction="sum_over_batch_size", name="mask_loss"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        classes, flat = _split_packed(y_true)
        shape = ops.shape(y_pred)
        return mask_loss(classes, ops.reshape(flat, (shape[0], shape[1], shape[2], shape[3])),
                         y_pred)
