"""Argument validation shared by layers, losses, models, tuning and data.

One message style, as Keras' own layers write it::

    Argument `name` must be <what is expected>. Received: name=<value>

Every check raises ``ValueError`` and returns the (normalized) value, so a constructor reads
``self.units = arguments.positive_int("units", units)``.
"""

import numbers


def fail(name, expected, value, *, received=None):
    """Raise the ``ValueError`` of this module: "Argument `name` must be expected. Received: ...".

    ``received`` replaces the default ``name=value!r`` after "Received:" where the value alone
    does not explain the failure (two related arguments, a shape).
    """
    received = f"{name}={value!r}" if received is None else received
    raise ValueError(f"Argument `{name}` must be {expected}. Received: {received}")


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
    """``values`` must be a sequence of ints > 0 (non-empty unless ``allow_empty``); a tuple."""
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


def positive_number(name, value, *, finite=False):
    """``value`` must be a number > 0 (and < inf when ``finite``); returns it as ``float``."""
    if not _is_number(value) or not value > 0 or (finite and value == float("inf")):
        fail(name, "a positive finite number" if finite else "a positive number", value)
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


def integer(name, value, *, minimum=None, maximum=None):
    """``value`` must be an int, within ``[minimum, maximum]`` where given; returns an ``int``."""
    too_small = minimum is not None and _is_int(value) and value < minimum
    too_large = maximum is not None and _is_int(value) and value > maximum
    if not _is_int(value) or too_small or too_large:
        if minimum is not None and maximum is not None:
            expected = f"an integer in [{minimum}, {maximum}]"
        elif minimum is not None:
            expected = f"an integer >= {minimum}"
        elif maximum is not None:
            expected = f"an integer <= {maximum}"
        else:
            expected = "an integer"
        fail(name, expected, value)
    return int(value)


def number_in(name, value, low, high, *, low_inclusive=True, high_inclusive=True):
    """``value`` must be a number in the interval from ``low`` to ``high``; returns a ``float``."""
    ok = _is_number(value) and (value >= low if low_inclusive else value > low)
    ok = ok and (value <= high if high_inclusive else value < high)
    if not ok:
        interval = f"{'[' if low_inclusive else '('}{low}, {high}{']' if high_inclusive else ')'}"
        fail(name, f"a number in {interval}", value)
    return float(value)


def int_or_tuple(name, value, size=2, *, allow_none=False):
    """``value`` must be a positive int or ``size`` positive ints; returns a ``size``-tuple."""
    if value is None and allow_none:
        return None
    values = (value,) * size if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = ()
    if len(values) != size or not all(_is_int(v) and v > 0 for v in values):
        fail(name, f"a positive integer or a tuple of {size} positive integers", value)
    return tuple(int(v) for v in values)


def positive_numbers(name, values, size=None):
    """``values`` must be a non-empty sequence (of ``size`` entries when given) of numbers > 0."""
    try:
        numbers_ = tuple(values)
    except TypeError:
        numbers_ = ()
    if (
        not numbers_
        or (size is not None and len(numbers_) != size)
        or not all(_is_number(v) and v > 0 for v in numbers_)
    ):
        what = f"{size} positive numbers" if size else "a non-empty sequence of positive numbers"
        fail(name, what, values)
    return tuple(float(v) for v in numbers_)


def shape_error(name, expected, shape):
    """Raise "Argument `name` must have shape expected. Received: name.shape=shape"."""
    raise ValueError(
        f"Argument `{name}` must have shape {expected}. Received: {name}.shape={tuple(shape)}"
    )
