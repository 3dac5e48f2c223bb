"""Metrics of language models and word embeddings, in NumPy over a whole evaluation set.

- ``perplexity``: ``exp(-sum log P(token) / number of tokens)``, the course's language-model
  figure ("N-Gram Language Model", "Neural Net Language Model"); padding masked;
- ``sequence_log_probabilities``: the log-probability of each target under a model's logits;
- ``neighbor_precision_at_k``: the fraction of a word's ``k`` nearest neighbours (cosine) that
  share its category ("Embedding": "closer points are closer in meaning, forming clusters");
- ``analogy_accuracy``: 3CosAdd, ``d = argmax_x cos(x, b - a + c)`` over the vocabulary without
  ``a, b, c`` (Mikolov et al. 2013; the "Male-Female" offset of "Embedding");
- ``spearman_correlation``: the rank correlation of two score lists (ties get their mean rank).
"""

import numpy as np


def perplexity(log_probabilities, mask=None):
    """``exp(-sum(mask * log p) / sum(mask))``.

    Args:
        log_probabilities: natural-log probabilities of the predicted tokens, any shape.
        mask: same shape, 1 for real tokens and 0 for padding (default: all real).

    Returns:
        A float (``inf`` when a real token has probability 0).

    Example:
        >>> perplexity(np.log(np.full(7, 1 / 50)))  # a uniform model over 50 words: 50
        50.0...
    """
    log_probabilities = np.asarray(log_probabilities, dtype=np.float64)
    mask = np.ones_like(log_probabilities) if mask is None else np.asarray(mask, np.float64)
    if mask.shape != log_probabilities.shape:
        raise ValueError(f"Argument `mask` must have the shape of `log_probabilities` "
                         f"{log_probabilities.shape}. Received: mask.shape={mask.shape}")
    count = mask.sum()
    if count <= 0:
        raise ValueError("Argument `mask` must select at least one token. Received: none.")
    masked = np.where(mask > 0, log_probabilities, 0.0)
    return float(np.exp(-np.sum(masked * mask) / count))


def sequence_log_probabilities(logits, targets):
    """``log softmax(logits)[target]`` for every position: ``(..., vocab)`` and ``(...)`` ->
    ``(...)`` (computed stably, in float64)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_normalizer = np.log(np.exp(shifted).sum(axis=-1))
    picked = np.take_along_axis(shifted, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return picked - log_normalizer


def _unit_rows(embeddings):
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f"Argument `embeddings` must be a (words, dim) matrix. "
                         f"Received: embeddings.shape={embeddings.shape}")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


def nearest_neighbors(embeddings, queries, k, candidates=None):
    """Ids of the ``k`` nearest (cosine) candidates of each query, itself excluded."""
    unit = _unit_rows(embeddings)
    candidates = np.arange(len(unit)) if candidates is None else np.asarray(candidates)
    similarity = unit[np.asarray(queries)] @ unit[candidates].T
    similarity[np.asarray(queries)[:, None] == candidates[None, :]] = -np.inf
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return candidates[order]


def neighbor_precision_at_k(embeddings, labels, k=10, words=None):
    """Mean fraction of each word's ``k`` nearest neighbours (cosine, among ``words``) that share
    its label.

    Args:
        embeddings: ``(vocabulary, dim)``.
        labels: one label per id (e.g. the category of each noun).
        k: neighbours per word.
        words: the ids scored and searched (default: all).
    """
    labels = np.asarray(labels)
    words = np.arange(len(labels)) if words is None else np.asarray(words)
    if not 0 < k < len(words):
        raise ValueError(f"Argument `k` must be in [1, {len(words) - 1}] (fewer than the words "
                         f"searched). Received: k={k}")
    neighbors = nearest_neighbors(embeddings, words, k, candidates=words)
    return float(np.mean(labels[neighbors] == labels[words][:, None]))


def analogy_accuracy(embeddings, questions):
    """3CosAdd accuracy: for ``a : b :: c : d``, whether ``argmax_x cos(x, b - a + c)`` over all
    ids but ``a, b, c`` is ``d`` (unit-normalized embeddings).

    Args:
        embeddings: ``(vocabulary, dim)``.
        questions: ``(num_questions, 4)`` ids ``a, b, c, d``.
    """
    questions = np.asarray(questions)
    if questions.ndim != 2 or questions.shape[1] != 4 or len(questions) == 0:
        raise ValueError(f"Argument `questions` must be a non-empty (num_questions, 4) array of "
                         f"ids a, b, c, d. Received: shape={questions.shape}")
    unit = _unit_rows(embeddings)
    a, b, c, d = questions.T
    scores = (unit[b] - unit[a] + unit[c]) @ unit.T
    rows = np.arange(len(questions))
    for excluded in (a, b, c):
        scores[rows, excluded] = -np.inf
    return float(np.mean(np.argmax(scores, axis=1) == d))


def _ranks(values):
    """Ranks 1..n, ties sharing their mean rank."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def spearman_correlation(x, y):
    """Spearman's rank correlation: the Pearson correlation of the ranks (mean ranks for ties)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"Arguments `x` and `y` must be 1-D of the same length >= 2. "
                         f"Received: x.shape={x.shape}, y.shape={y.shape}")
    rx, ry = _ranks(x) - (len(x) + 1) / 2.0, _ranks(y) - (len(y) + 1) / 2.0
    return float(np.sum(rx * ry) / np.sqrt(np.sum(rx**2) * np.sum(ry**2)))


def cosine_similarities(embeddings, pairs):
    """``cos(e_i, e_j)`` for each pair of ids ``(i, j)``."""
    unit = _unit_rows(embeddings)
    pairs = np.asarray(pairs)
    return np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)
