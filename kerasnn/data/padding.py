"""Datasets of variable-length sequences as padded NumPy arrays."""

import numpy as np
import tensorflow_datasets as tfds


def pad_sequences(sequences, length=None, value=0, dtype="int32"):
    """``(N, length)`` array of the sequences, each padded at the end with ``value`` (to the
    longest when ``length`` is ``None``; a longer sequence raises ``ValueError``).

    Example:
        >>> pad_sequences([[5, 6, 7], [8]]).tolist()
        [[5, 6, 7], [8, 0, 0]]
    """
    longest = max((len(sequence) for sequence in sequences), default=0)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(
            f"Argument `length` must be at least the longest sequence. Received: length={length},"
            f" longest sequence {longest}")
    padded = np.full((len(sequences), length), value, dtype=dtype)
    for row, sequence in enumerate(sequences):
        padded[row, : len(sequence)] = sequence
    return padded


def padded_arrays(name, split, *, data_dir=None, limit=None):
    """Every feature of a tfds split as one NumPy array: sequences padded with 0 to the longest,
    strings as ``str`` arrays; ``limit`` keeps the first examples."""
    from kerasnn import data  # the builders (and their registration) live there

    builder = data.get_builder(name, data_dir)
    examples = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
    examples = examples[:limit] if limit is not None else examples
    arrays = {}
    for key in (examples[0] if examples else {}):
        values = [example[key] for example in examples]
        if isinstance(values[0], bytes):
            arrays[key] = np.array([value.decode("utf-8") for value in values])
        elif np.ndim(values[0]) == 1 and len({len(value) for value in values}) > 1:
            arrays[key] = pad_sequences(values, dtype=values[0].dtype)
        else:
            arrays[key] = np.stack(values)
    return arrays
