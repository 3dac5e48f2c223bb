"""Metrics of predicted token sequences against references, in NumPy.

Sequences are ``(N, T)`` integer arrays padded with ``pad_id`` (0 by default); a position whose
reference is padding counts for nothing.
"""

import numpy as np


def _check_pair(predictions, references):
    predictions, references = np.asarray(predictions), np.asarray(references)
    if predictions.shape != references.shape:
        raise ValueError(
            "Arguments `predictions` and `references` must have the same shape. Received: "
            f"{predictions.shape} and {references.shape}")
    return predictions, references


def exact_match(predictions, references, pad_id=0):
    """The fraction of sequences predicted exactly (every non-padding reference token right).

    Example:
        >>> exact_match([[3, 4, 0], [3, 5, 0]], [[3, 4, 0], [3, 4, 0]])
        0.5
    """
    predictions, references = _check_pair(predictions, references)
    right = (predictions == references) | (references == pad_id)
    return float(np.mean(np.all(right, axis=-1)))


def token_accuracy(predictions, references, pad_id=0):
    """The fraction of non-padding reference tokens predicted right.

    Example:
        >>> token_accuracy([[3, 4, 9], [3, 5, 0]], [[3, 4, 0], [3, 4, 0]])
        0.75
    """
    predictions, references = _check_pair(predictions, references)
    counted = references != pad_id
    return float(np.sum((predictions == references) & counted) / max(np.sum(counted), 1))


def edit_distance(prediction, reference):
    """Levenshtein distance between two sequences: the fewest insertions, deletions and
    substitutions that turn one into the other (one row of the dynamic programme at a time).

    Example:
        >>> edit_distance("kitten", "sitting")
        3
    """
    previous = list(range(len(reference) + 1))
    for i, token in enumerate(prediction, start=1):
        current = [i]
        for j, other in enumerate(reference, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (token != other)))
        previous = current
    return int(previous[-1])


def alignment_accuracy(attention, spans):
    """The fraction of target tokens whose attention maximum falls inside their source span.

    Args:
        attention: ``(N, T_target, T_source)`` attention weights of each target token.
        spans: ``(N, T_target, 2)`` ``[start, end)`` source span that determines each target
            token; ``start < 0`` marks a token with no span (it is not counted).

    Example:
        >>> attention = [[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]]
        >>> alignment_accuracy(attention, [[[0, 1], [0, 2]]])  # first right, second wrong
        0.5
    """
    attention, spans = np.asarray(attention), np.asarray(spans)
    if attention.shape[:2] != spans.shape[:2] or spans.shape[-1] != 2:
        raise ValueError(
            "Arguments `attention` (N, T_target, T_source) and `spans` (N, T_target, 2) must "
            f"agree. Received: {attention.shape} and {spans.shape}")
    peak = attention.argmax(axis=-1)
    counted = spans[..., 0] >= 0
    inside = (peak >= spans[..., 0]) & (peak < spans[..., 1])
    return float(np.sum(inside & counted) / max(np.sum(counted), 1))
