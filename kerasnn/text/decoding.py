"""Autoregressive decoding: greedy feedback (the notes) and beam search (an extension).

Both drive a ``step`` function, so any decoder works (an LSTM with attention, a transformer with
a key/value cache)::

    log_probs, state, extra = step(tokens, state)

``tokens`` is ``(batch,)``, the last token of each sequence; ``state`` any nest of arrays with the
batch first (recurrent states, encoder outputs, caches), returned updated; ``log_probs`` is
``(batch, vocabulary)``; ``extra`` a per-step array to collect (attention weights) or ``None``.
Decoding starts from ``start_id``, stops a sequence at ``end_id`` (kept in the output) and pads
after it with ``pad_id``. The loop over time steps is inherent to autoregressive decoding: each
token depends on the one before.
"""

import keras
import numpy as np

from kerasnn import arguments


def _numpy(value):
    return None if value is None else keras.ops.convert_to_numpy(value)


def greedy_search(step, state, batch_size, *, start_id, end_id, max_length, pad_id=0):
    """Feed back the most probable token at every step (the notes' inference).

    Returns:
        ``(tokens, scores, extras)``: ``(batch, max_length)`` tokens (without the start token),
        ``(batch,)`` summed log-probabilities, and the stacked per-step extras
        ``(batch, max_length, ...)`` (zeros after the last step) or ``None``.
    """
    max_length = arguments.positive_int("max_length", max_length)
    tokens = np.full((batch_size, max_length), pad_id, np.int64)
    scores = np.zeros(batch_size)
    finished = np.zeros(batch_size, bool)
    last = np.full(batch_size, start_id, np.int64)
    extras = []
    for t in range(max_length):
        log_probs, state, extra = step(last, state)
        log_probs = _numpy(log_probs)
        last = np.where(finished, pad_id, log_probs.argmax(axis=-1))
        scores += np.where(finished, 0.0, log_probs[np.arange(batch_size), last])
        tokens[:, t] = last
        extras.append(_numpy(extra))
        finished |= last == end_id
        if finished.all():
            break
    return tokens, scores, _stack(extras, max_length)


def beam_search(step, state, batch_size, *, start_id, end_id, max_length, beam_width=4,
                pad_id=0):
    """Keep the ``beam_width`` most probable partial sequences at every step; return the most
    probable finished one per example (sum of log-probabilities, no length normalization).

    With ``beam_width=1`` it is ``greedy_search``. Every example's ``beam_width`` hypotheses run
    as one batch of ``batch * beam_width`` rows through ``step``.

    Returns:
        ``(tokens, scores, extras)`` of the best hypothesis, as ``greedy_search``.
    """
    max_length = arguments.positive_int("max_length", max_length)
    width = arguments.positive_int("beam_width", beam_width)
    rows = batch_size * width
    state = keras.tree.map_structure(lambda leaf: keras.ops.repeat(leaf, width, axis=0), state)
    scores = np.full((batch_size, width), -np.inf)
    scores[:, 0] = 0.0  # all hypotheses start equal: expand only the first
    tokens = np.full((batch_size, width, max_length), pad_id, np.int64)
    finished = np.zeros((batch_size, width), bool)
    last = np.full(rows, start_id, np.int64)
    extras = []
    for t in range(max_length):
        log_probs, state, extra = step(last, state)
        log_probs = _numpy(log_probs).reshape(batch_size, width, -1)
        vocabulary = log_probs.shape[-1]
        # A finished hypothesis continues only with padding, at no cost.
        log_probs = np.where(finished[..., None], -np.inf, log_probs)
        log_probs[..., pad_id] = np.where(finished, 0.0, log_probs[..., pad_id])
        candidates = (scores[..., None] + log_probs).reshape(batch_size, -1)
        best = np.argsort(-candidates, axis=-1, kind="stable")[:, :width]
        beam, token = best // vocabulary, best % vocabulary
        scores = np.take_along_axis(candidates, best, axis=-1)
        tokens = np.take_along_axis(tokens, beam[..., None], axis=1)
        tokens[:, :, t] = token
        finished = np.take_along_axis(finished, beam, axis=1) | (token == end_id)
        origin = (np.arange(batch_size)[:, None] * width + beam).reshape(-1)
        state = keras.tree.map_structure(
            lambda leaf, rows=origin: keras.ops.take(leaf, rows, axis=0), state)
        if extra is not None:  # the chosen hypotheses' histories, then this step
            extras = [e[origin] for e in extras] + [_numpy(extra)[origin]]
        last = token.reshape(-1)
        if finished.all():
            break
    choice = scores.argmax(axis=-1)
    chosen_rows = np.arange(batch_size) * width + choice
    stacked = _stack(extras, max_length)
    return (tokens[np.arange(batch_size), choice], scores[np.arange(batch_size), choice],
            None if stacked is None else stacked[chosen_rows])


def _stack(extras, max_length):
    """The per-step extras as ``(batch, max_length, ...)``, zeros after the last step taken."""
    if not extras or extras[0] is None:
        return None
    stacked = np.stack(extras, axis=1)
    padding = [(0, 0), (0, max_length - stacked.shape[1])] + [(0, 0)] * (stacked.ndim - 2)
    return np.pad(stacked, padding)
