"""Language-model examples from sentences of ids, in NumPy.

- ``context_windows``: ``(n - 1 previous ids, next id)`` for every predicted token, the start
  padded with begin-of-sentence ids: the ``<context, target>`` couples of the notes' "Hidden
  Layer" that Bengio's model trains on;
- ``shifted_sequences``: ``(<s> w_1 .. w_k, w_1 .. w_k </s>)`` padded with 0: an RNN language
  model predicts every next word of a sentence at once.
"""

import numpy as np

from kerasnn import arguments


def context_windows(sentences, context_size, bos_id=1):
    """``(contexts, targets)``: ``(tokens, context_size)`` and ``(tokens,)`` int32 arrays, one row
    per predicted token of ``sentences`` (each sentence ends with its end-of-sentence id)."""
    context_size = arguments.positive_int("context_size", context_size)
    if len(sentences) == 0:
        raise ValueError("Argument `sentences` must hold at least one sentence. Received: none.")
    contexts, targets = [], []
    for sentence in sentences:
        padded = np.concatenate([np.full(context_size, bos_id), np.asarray(sentence)])
        windows = np.lib.stride_tricks.sliding_window_view(padded[:-1], context_size)
        contexts.append(windows)
        targets.append(padded[context_size:])
    return (np.concatenate(contexts).astype(np.int32), np.concatenate(targets).astype(np.int32))


def shifted_sequences(sentences, bos_id=1, pad_id=0):
    """``(inputs, targets)``, both ``(sentences, longest + 1)`` int32: inputs ``<s> w_1 .. w_k``,
    targets ``w_1 .. w_k </s>`` (each sentence ends with ``</s>``), ``pad_id`` after the end."""
    if len(sentences) == 0:
        raise ValueError("Argument `sentences` must hold at least one sentence. Received: none.")
    length = max(len(sentence) for sentence in sentences)
    inputs = np.full((len(sentences), length), pad_id, dtype=np.int32)
    targets = np.full((len(sentences), length), pad_id, dtype=np.int32)
    for row, sentence in enumerate(sentences):
        inputs[row, 0] = bos_id
        inputs[row, 1: len(sentence)] = sentence[:-1]
        targets[row, : len(sentence)] = sentence
    return inputs, targets
