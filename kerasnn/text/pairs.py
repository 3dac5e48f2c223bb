"""word2vec training examples in ``tf.data`` (Keras 3 dropped the old ``skipgrams`` utility).

Course notes, "Word2Vec" and "Skip-gram architecture": the context holds words from both the
history and the future. Two directions (Mikolov et al. 2013):

- **skip-gram** predicts each context word from the centre word: one ``(centre, context)`` pair
  per word within ``window`` positions;
- **CBOW** (continuous bag of words) predicts the centre word from its whole context: one
  ``(context ids, centre)`` example per position, the context padded with ``pad_id`` where the
  window crosses the sentence's edge. The notes' "Skip-gram architecture" text ("maximizing the
  probability of the target word given the context words") describes this direction.

``negative_samples`` adds the negative-sampling targets (an extension beyond the notes): ``K``
words drawn from the unigram distribution raised to 3/4.

(TensorFlow is used directly here: these are ``tf.data`` pipelines.)
"""

import numpy as np
import tensorflow as tf

from kerasnn import arguments


def sentences_dataset(sentences):
    """A ``tf.data.Dataset`` of 1-D int32 sentences from a list of id sequences."""
    if len(sentences) == 0:
        raise ValueError("Argument `sentences` must hold at least one sentence. Received: none.")
    ragged = tf.ragged.constant([list(map(int, s)) for s in sentences], dtype=tf.int32)
    return tf.data.Dataset.from_tensor_slices(ragged)


def _offsets(window):
    return tf.constant([o for o in range(-window, window + 1) if o != 0], dtype=tf.int32)


def _windows(tokens, offsets):
    """``(tokens, the id at each position + offset (clipped), whether that position exists)``."""
    tokens = tf.cast(tokens, tf.int32)
    length = tf.shape(tokens)[0]
    positions = tf.range(length)[:, None] + offsets[None, :]
    valid = (positions >= 0) & (positions < length)
    gathered = tf.gather(tokens, tf.clip_by_value(positions, 0, tf.maximum(length - 1, 0)))
    return tokens, gathered, valid


def skipgram_pairs(sentences, window):
    """``(centre, context)`` int32 pairs of every word with each word within ``window``.

    Args:
        sentences: a list of id sequences or a ``tf.data.Dataset`` of 1-D int32 sentences.
        window: the largest distance between the two words (> 0).

    Returns:
        A ``tf.data.Dataset`` of scalar pairs, in sentence order, then centre position, then
        offset ``-window..-1, 1..window``.
    """
    window = arguments.positive_int("window", window)
    dataset = sentences if isinstance(sentences, tf.data.Dataset) else sentences_dataset(sentences)
    offsets = _offsets(window)

    def pairs(tokens):
        tokens, contexts, valid = _windows(tokens, offsets)
        centres = tf.broadcast_to(tokens[:, None], tf.shape(contexts))
        return tf.data.Dataset.from_tensor_slices(
            (tf.boolean_mask(centres, valid), tf.boolean_mask(contexts, valid)))

    return dataset.flat_map(pairs)


def cbow_examples(sentences, window, pad_id=0):
    """``(context, centre)`` examples: ``context`` the ``2 * window`` ids around each position
    (order ``-window..-1, 1..window``), ``pad_id`` beyond the sentence's edges."""
    window = arguments.positive_int("window", window)
    dataset = sentences if isinstance(sentences, tf.data.Dataset) else sentences_dataset(sentences)
    offsets = _offsets(window)

    def examples(tokens):
        tokens, gathered, valid = _windows(tokens, offsets)
        contexts = tf.where(valid, gathered, tf.fill(tf.shape(gathered), pad_id))
        return tf.data.Dataset.from_tensor_slices((contexts, tokens))

    return dataset.flat_map(examples)


def unigram_counts(sentences, vocabulary_size):
    """How often each id occurs in ``sentences`` (a list of id sequences)."""
    return np.bincount(np.concatenate([np.asarray(s) for s in sentences]),
                       minlength=vocabulary_size)


def negative_samples(batched_pairs, counts, num_negatives, *, power=0.75, seed=0):
    """Turn batches of ``(source, target)`` (skip-gram: centre, context; CBOW: context, centre)
    into negative-sampling examples.

    Each batch becomes ``((source, candidates), labels)``: ``candidates`` is ``(batch, 1 + K)``
    with the true target first and ``K`` words drawn from ``counts ** power`` (normalized)
    after it, ``labels`` is ``[1, 0, ..., 0]`` per row (float32). A drawn word may happen to be the
    true context (word2vec does not exclude it either).
    """
    num_negatives = arguments.positive_int("num_negatives", num_negatives)
    weights = np.asarray(counts, dtype=np.float64) ** power
    if weights.sum() <= 0:
        raise ValueError("Argument `counts` must have a positive entry. Received: all zero.")
    logits = tf.constant(np.log(np.maximum(weights / weights.sum(), 1e-30))[None, :], tf.float32)

    def add_negatives(sources, targets):
        batch = tf.shape(targets)[0]
        drawn = tf.random.categorical(logits, batch * num_negatives, dtype=tf.int32, seed=seed)
        negatives = tf.reshape(drawn, (batch, num_negatives))
        candidates = tf.concat([targets[:, None], negatives], axis=1)
        labels = tf.concat([tf.ones((batch, 1)), tf.zeros((batch, num_negatives))], axis=1)
        return (sources, candidates), labels

    return batched_pairs.map(add_negatives, num_parallel_calls=tf.data.AUTOTUNE)
