"""Classification metrics computed once over an evaluation set, in NumPy.

Course section "Confusion Matrix": entry ``(i, j)`` counts the examples of class ``i`` that the
model classified as class ``j``; a perfect classifier has everything on the diagonal.
"""

import numpy as np
import scipy.stats


def confusion_matrix(labels, predictions, num_classes=None):
    """The exact confusion matrix: ``matrix[i, j]`` = number of examples of class ``i``
    predicted as class ``j``.

    Args:
        labels: ``(N,)`` true class ids.
        predictions: ``(N,)`` predicted class ids, or ``(N, num_classes)`` scores / posteriors
            (their argmax is the prediction).
        num_classes: matrix size (default: one more than the largest id seen).

    Returns:
        ``(num_classes, num_classes)`` int64 array.
    """
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=-1)
    predictions = predictions.reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"`labels` and `predictions` must hold the same number of examples; received "
            f"{labels.shape[0]} and {predictions.shape[0]}."
        )
    if labels.size and min(labels.min(), predictions.min()) < 0:
        raise ValueError("Class ids must be non-negative.")
    largest = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = largest
    elif largest > num_classes:
        raise ValueError(f"Class id {largest - 1} is out of range for num_classes={num_classes}.")
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def roc_auc(labels, scores):
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 = positive, e.g. anomalous).

    The probability that a random positive scores above a random negative, ties counting one
    half (the Mann-Whitney statistic): 1 is a perfect ranking, 0.5 a random one.

    Example:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype="float64").reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(
            "Arguments `labels` and `scores` must hold the same number of examples. Received: "
            f"{labels.size} and {scores.size}")
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError(
            "Argument `labels` must hold both classes. Received: "
            f"{positives} positives, {negatives} negatives")
    ranks = scipy.stats.rankdata(scores)  # tied scores share their mean rank
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))
