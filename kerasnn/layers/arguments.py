"""Argument checks shared by the layers and model builders.

One message format, as Keras' own layers write it: ``Argument `name` must be ... Received:
name=value``.
"""


def check_positive_int(name, value, allow_none=False):
    """``value`` must be an int > 0 (``None`` too when ``allow_none``); else ``ValueError``."""
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. Received: {name}={value!r}"
        )


def check_rate(name, value):
    """``value`` must be a number in [0, 1) (a dropout rate); returns it as a float."""
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1). Received: {name}={value!r}"
        )
    return float(value)
