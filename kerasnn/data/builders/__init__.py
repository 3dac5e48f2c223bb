"""Embedded tfds datasets, generated locally; importing this package registers them with tfds."""

from kerasnn.data.builders.digits import KerasnnDigits
from kerasnn.data.builders.shapes import KerasnnShapes

EMBEDDED = {
    "kerasnn_digits": KerasnnDigits,
    "kerasnn_shapes": KerasnnShapes,
}
