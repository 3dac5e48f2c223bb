"""Embedded tfds datasets, generated locally; importing this package registers them with tfds."""

from kerasnn.data.builders.dates import KerasnnDates
from kerasnn.data.builders.dialogues import KerasnnDialogues
from kerasnn.data.builders.digits import KerasnnDigits
from kerasnn.data.builders.grammar import KerasnnGrammar
from kerasnn.data.builders.sequences import KerasnnSequences
from kerasnn.data.builders.shapes import KerasnnShapes
from kerasnn.data.builders.tabular import (
    KerasnnBlobs,
    KerasnnMoons,
    KerasnnRegression1d,
    KerasnnXor,
)

EMBEDDED = {
    "kerasnn_digits": KerasnnDigits,
    "kerasnn_shapes": KerasnnShapes,
    "kerasnn_blobs": KerasnnBlobs,
    "kerasnn_xor": KerasnnXor,
    "kerasnn_moons": KerasnnMoons,
    "kerasnn_regression1d": KerasnnRegression1d,
    "kerasnn_sequences": KerasnnSequences,
    "kerasnn_dates": KerasnnDates,
    "kerasnn_grammar": KerasnnGrammar,
    "kerasnn_dialogues": KerasnnDialogues,
}
