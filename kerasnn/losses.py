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
