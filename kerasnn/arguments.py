"""Argument validation shared by layers, losses, models, tuning and data.

One message style, as Keras' own layers write it::

    Argument `name` must be <what is expected>. Received: name=<value>

Every check raises ``ValueError`` and returns the (normalized) value, so a constructor reads
``self.units = arguments.positive_int("units", units)``.
"""

import numbers


def fail(name, expected, value):
    """Raise the one ``ValueError`` of this module: "Argument `name` must be expected. Received: ..."."""
    raise ValueError(f"Argument `{name}` must be {expected}. Received: {name}={value!r}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def positive_int(name, value, *, allow_none=False):
    """``value`` must be an int > 0 (or ``None`` when ``allow_none``); returns it as ``int``."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value <= 0:
        fail(name, "a positive integer", value)
    return int(value)


def non_negative_int(name, value):
    """``value`` must be an int >= 0; returns it as ``int``."""
    if not _is_int(value) or value < 0:
        fail(name, "a non-negative integer", value)
    return int(value)


def positive_ints(name, values, *, allow_empty=True):
    """``values`` must be a sequence of ints > 0 (non-empty unless ``allow_empty``); returns a tuple."""
    try:
        values = tuple(values)
    except TypeError:
        fail(name, "a sequence of positive integers", values)
    if (not values and not allow_empty) or not all(_is_int(v) and v > 0 for v in values):
        fail(
            name,
            "a " + ("" if allow_empty else "non-empty ") + "sequence of positive integers",
            values,
        )
    return tuple(int(v) for v in values)


def positive_number(name, value):
    """``value`` must be a number > 0; returns it as ``float``."""
    if not _is_number(value) or not value > 0:
        fail(name, "a positive number", value)
    return float(value)


def non_negative_number(name, value):
    """``value`` must be a number >= 0; returns it as ``float``."""
    if not _is_number(value) or not value >= 0:
        fail(name, "a non-negative number", value)
    return float(value)


def rate(name, value):
    """``value`` must be a number in [0, 1) (a dropout rate); returns it as ``float``."""
    if not _is_number(value) or not 0.0 <= value < 1.0:
        fail(name, "a float in [0, 1)", value)
    return float(value)


def probability(name, value):
    """``value`` must be a number in [0, 1]; returns it as ``float``."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        fail(name, "a float in [0, 1]", value)
    return float(value)


def one_of(name, value, choices):
    """``value`` must be one of ``choices``; returns it."""
    if value not in choices:
        fail(name, "one of " + ", ".join(repr(choice) for choice in choices), value)
    return value


def boolean(name, value):
    """``value`` must be a ``bool``; returns it."""
    if not isinstance(value, bool):
        fail(name, "a bool", value)
    return value


def image_shape(name, value, *, rank=3):
    """``value`` must be ``rank`` positive ints (``(height, width, channels)`` by default)."""
    try:
        shape = tuple(value)
    except TypeError:
        fail(name, f"{rank} positive integers", value)
    if len(shape) != rank or not all(_is_int(d) and d > 0 for d in shape):
        what = "(height, width, channels)" if rank == 3 else ""
        fail(name, f"{rank} positive integers {what}".rstrip(), value)
    return tuple(int(d) for d in shape)
