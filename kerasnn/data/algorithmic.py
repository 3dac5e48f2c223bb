"""The NTM paper's algorithmic tasks, generated in NumPy: copy and associative recall.

Each generator returns ``(inputs, targets, weights)`` arrays of one common length ``T``:
``inputs`` ``(N, T, bits + 2)`` (the two extra channels are delimiters), ``targets``
``(N, T, bits)``, and ``weights`` ``(N, T)`` that are 1 exactly on the steps where an answer is
expected (the loss and the bit errors count those only). Shorter sequences are padded with zero
steps. A generator is a pure function of its arguments and ``seed``.
"""

import numpy as np

from kerasnn import arguments


def copy_task(num_sequences, lengths, bits=6, seed=0):
    """Copy: ``L`` random bit vectors, a delimiter step, then ``L`` blank steps in which the
    target is the sequence again. ``lengths`` is ``(low, high)``; each ``L`` is drawn in it."""
    low, high = (arguments.positive_int("lengths", value) for value in lengths)
    rng = np.random.default_rng(seed)
    total = 2 * high + 1
    inputs = np.zeros((num_sequences, total, bits + 2), "float32")
    targets = np.zeros((num_sequences, total, bits), "float32")
    weights = np.zeros((num_sequences, total), "float32")
    for index, length in enumerate(rng.integers(low, high + 1, num_sequences)):
        sequence = rng.integers(0, 2, (length, bits))
        inputs[index, :length, :bits] = sequence
        inputs[index, length, bits] = 1.0  # "end of input"
        targets[index, length + 1: 2 * length + 1] = sequence
        weights[index, length + 1: 2 * length + 1] = 1.0
    return inputs, targets, weights


def associative_recall(num_sequences, items, item_length=3, bits=6, seed=0):
    """Associative recall: ``items`` (a ``(low, high)`` range) items of ``item_length`` bit
    vectors, each opened by a delimiter on channel ``bits``; then a query item (opened by a
    delimiter on channel ``bits + 1``); the target is the item that followed the query."""
    low, high = (arguments.positive_int("items", value) for value in items)
    if low < 2:
        arguments.fail("items", "at least 2 items (a query and its successor)", items)
    rng = np.random.default_rng(seed)
    step = item_length + 1
    total = (high + 1) * step + item_length
    inputs = np.zeros((num_sequences, total, bits + 2), "float32")
    targets = np.zeros((num_sequences, total, bits), "float32")
    weights = np.zeros((num_sequences, total), "float32")
    for index, count in enumerate(rng.integers(low, high + 1, num_sequences)):
        contents = rng.integers(0, 2, (count, item_length, bits))
        for item in range(count):
            inputs[index, item * step, bits] = 1.0
            inputs[index, item * step + 1: (item + 1) * step, :bits] = contents[item]
        query = rng.integers(0, count - 1)
        start = count * step
        inputs[index, start, bits + 1] = 1.0
        inputs[index, start + 1: start + step, :bits] = contents[query]
        answer = slice(start + step, start + step + item_length)
        targets[index, answer] = contents[query + 1]
        weights[index, answer] = 1.0
    return inputs, targets, weights


def bit_errors(predictions, targets, weights):
    """Wrong bits per sequence (predictions thresholded at 1/2) on the weighted steps: ``(N,)``."""
    wrong = (np.asarray(predictions) > 0.5) != (np.asarray(targets) > 0.5)
    return (wrong.sum(axis=-1) * np.asarray(weights)).sum(axis=-1)
