"""Identification and verification by distances, and the ROC AUC, in NumPy.

Sections "Siamese Networks" and "When a new image has to be verified". With a feature extractor
``f`` (the identity for pixel-space comparison) and a few templates ``T_{u,j}`` of each identity
``u``, the notes identify a new image ``I`` as

    î = argmin_u  mean_j ||f(I) - f(T_{u,j})||_2            (``rule="mean"``)

and accept the identification only if that mean distance is below a threshold ``γ``; the
alternative rule takes each identity's nearest template (``rule="nearest"``,
``min_j ||f(I) - f(T_{u,j})||_2``). ``choose_threshold`` picks ``γ`` on validation claims.

Inputs are arrays of features: embeddings ``f(I)`` (``(N, dim)``) or images, flattened here.
"""

import numpy as np

from kerasnn import arguments

REJECTED = -1  # the identity ``identify`` returns for a query whose distance is not below γ


def _flat(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim < 2:
        arguments.fail(name, "an array of shape (N, ...) with one row per example", features.shape)
    return features.reshape(len(features), -1)


def distance_matrix(queries, references):
    """``(Q, R)`` Euclidean distances between the rows of ``queries`` and ``references``."""
    queries, references = _flat(queries, "queries"), _flat(references, "references")
    if queries.shape[1] != references.shape[1]:
        arguments.fail("references", f"features of size {queries.shape[1]} like `queries`",
                       references.shape)
    squared = (np.sum(queries**2, axis=1)[:, None] + np.sum(references**2, axis=1)[None, :]
               - 2.0 * queries @ references.T)
    return np.sqrt(np.maximum(squared, 0.0))


def identity_distances(queries, templates, template_labels, rule="mean"):
    """Distance of every query to every identity: the mean (or minimum, ``rule="nearest"``)
    distance to that identity's templates.

    Returns:
        ``(distances, identities)``: ``(Q, U)`` distances and the ``U`` sorted identities.
    """
    arguments.one_of("rule", rule, ("mean", "nearest"))
    template_labels = np.asarray(template_labels).reshape(-1)
    if len(template_labels) != len(templates):
        arguments.fail("template_labels", f"one label per template ({len(templates)} templates)",
                       len(template_labels))
    distances = distance_matrix(queries, templates)
    identities = np.unique(template_labels)
    reduce = np.mean if rule == "mean" else np.min
    per_identity = np.stack(
        [reduce(distances[:, template_labels == u], axis=1) for u in identities], axis=1)
    return per_identity, identities


def identify(queries, templates, template_labels, *, rule="mean", threshold=None):
    """The notes' identification: ``î = argmin_u`` of ``identity_distances``; with a
    ``threshold`` ``γ``, ``REJECTED`` (-1) where that distance is not below ``γ``.

    Returns:
        ``(identities, distances)``: ``(Q,)`` predicted identities and their ``(Q,)`` distances.
    """
    per_identity, identities = identity_distances(queries, templates, template_labels, rule)
    best = np.argmin(per_identity, axis=1)
    distances = per_identity[np.arange(len(best)), best]
    predicted = identities[best]
    if threshold is not None:
        predicted = np.where(distances < threshold, predicted, REJECTED)
    return predicted, distances


def verification_claims(queries, query_labels, templates, template_labels, rule="mean"):
    """Every (query, claimed identity) pair as a verification trial.

    Returns:
        ``(distances, genuine)``: ``(Q * U,)`` distances to the claimed identity and whether the
        claim is true (the query's identity is the claimed one).
    """
    per_identity, identities = identity_distances(queries, templates, template_labels, rule)
    genuine = np.asarray(query_labels).reshape(-1)[:, None] == identities[None, :]
    return per_identity.reshape(-1), genuine.reshape(-1)


def balanced_accuracy(distances, genuine, threshold):
    """Mean of the acceptance rate of genuine claims and the rejection rate of impostor claims
    when claims with a distance below ``threshold`` are accepted."""
    distances, genuine = np.asarray(distances), np.asarray(genuine, dtype=bool)
    accepted = distances < threshold
    return float((accepted[genuine].mean() + (~accepted[~genuine]).mean()) / 2)


def choose_threshold(distances, genuine):
    """The ``γ`` of highest ``balanced_accuracy`` on (validation) claims: candidates are the
    midpoints between consecutive sorted distances (and beyond both ends)."""
    values = np.unique(np.asarray(distances, dtype=np.float64))
    candidates = np.concatenate([[values[0] - 1.0], (values[1:] + values[:-1]) / 2,
                                 [values[-1] + 1.0]])
    scores = [balanced_accuracy(distances, genuine, gamma) for gamma in candidates]
    return float(candidates[int(np.argmax(scores))])
