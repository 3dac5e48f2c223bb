"""`kerasnn_dates`: human-written dates in a dozen formats, to translate into ISO ``YYYY-MM-DD``.

A character-level translation task small enough for a CPU and hard enough to need attention:
``"tuesday, march 3, 1998"``, ``"3 mar 98"``, ``"03.03.1998"`` ... -> ``"1998-03-03"``. Every
example also stores, for each target character, the span of the source characters that
determine it (the year, month or day field; ``[-1, -1]`` for the dashes), so an attention map can
be **scored**: the fraction of target characters whose attention maximum falls inside their
field (``kerasnn.metrics.alignment_accuracy``).

Dates are drawn uniformly from 1950-01-01 .. 2049-12-31 (two-digit years are unambiguous: 50-99
are 19xx, 00-49 are 20xx), formats uniformly, each example a pure function of (split, index).

Features:
- ``source`` / ``target``: token ids over the shared character vocabulary ``VOCABULARY``
  (0 is padding, 1 the start token, 2 the end token); the target is ``<start> YYYY-MM-DD <end>``;
- ``source_text`` / ``target_text``: the strings;
- ``spans``: ``(12, 2)`` int32, the ``[start, end)`` source span of each target token (start and
  end tokens included, ``[-1, -1]`` where no field applies);
- ``format``: the index of the format in ``FORMATS``.
"""

import datetime

import numpy as np
import tensorflow_datasets as tfds

PAD, START, END = 0, 1, 2
CHARACTERS = " ,./-0123456789abcdefghijklmnopqrstuvwxyz"
VOCABULARY = ["<pad>", "<start>", "<end>", *CHARACTERS]
TOKEN = {character: index for index, character in enumerate(VOCABULARY)}
MAX_SOURCE_LENGTH = 40
TARGET_LENGTH = 12  # <start> + 10 characters + <end>

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _ordinal(day):
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Each format: a list of pieces; a piece is literal text or a field name. The field's text and
# which ISO field it feeds are given by FIELDS.
FIELDS = {
    "weekday": (lambda d: WEEKDAYS[d.weekday()], None),
    "wkd": (lambda d: WEEKDAYS[d.weekday()][:3], None),
    "month_name": (lambda d: MONTHS[d.month - 1], "month"),
    "mon": (lambda d: MONTHS[d.month - 1][:3], "month"),
    "mm": (lambda d: f"{d.month:02d}", "month"),
    "m": (lambda d: str(d.month), "month"),
    "dd": (lambda d: f"{d.day:02d}", "day"),
    "d": (lambda d: str(d.day), "day"),
    "dth": (lambda d: _ordinal(d.day), "day"),
    "yyyy": (lambda d: str(d.year), "year"),
    "yy": (lambda d: f"{d.year % 100:02d}", "year"),
}
FORMATS = [
    ["weekday", ", ", "month_name", " ", "d", ", ", "yyyy"],  # tuesday, march 3, 1998
    ["d", " ", "mon", " ", "yy"],  # 3 mar 98
    ["dd", ".", "mm", ".", "yyyy"],  # 03.03.1998
    ["month_name", " ", "d", ", ", "yyyy"],  # march 3, 1998
    ["d", " ", "month_name", " ", "yyyy"],  # 3 march 1998
    ["yyyy", "/", "mm", "/", "dd"],  # 1998/03/03
    ["mm", "/", "dd", "/", "yyyy"],  # 03/03/1998 (month first)
    ["mon", " ", "d", " ", "yyyy"],  # mar 3 1998
    ["d", "-", "mon", "-", "yyyy"],  # 3-mar-1998
    ["wkd", " ", "d", " ", "mon", " ", "yy"],  # tue 3 mar 98
    ["the ", "dth", " of ", "month_name", ", ", "yyyy"],  # the 3rd of march, 1998
    ["yyyy", ".", "m", ".", "d"],  # 1998.3.3
    ["month_name", " ", "dd", " ", "yy"],  # march 03 98
]
FIRST_DAY, NUM_DAYS = datetime.date(1950, 1, 1), 36524  # through 2049-12-31
# The ISO target's characters by field: YYYY-MM-DD.
ISO_FIELDS = ["year"] * 4 + [None] + ["month"] * 2 + [None] + ["day"] * 2
SPLIT_SIZES = {"train": 10000, "validation": 1000, "test": 2000}
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}


def encode(text):
    """Token ids of ``text`` (characters of ``CHARACTERS`` only)."""
    return [TOKEN[character] for character in text]


def decode(ids):
    """The text of token ids, stopping at the end token and skipping padding and start."""
    characters = []
    for index in ids:
        if index == END:
            break
        if index > END:
            characters.append(VOCABULARY[index])
    return "".join(characters)


def render(date, format_index):
    """``(source_text, field_spans)``: the date in a format, and ``{field: (start, end)}``."""
    text, spans = "", {}
    for piece in FORMATS[format_index]:
        if piece in FIELDS:
            write, field = FIELDS[piece]
            value = write(date)
            if field is not None:
                spans[field] = (len(text), len(text) + len(value))
            text += value
        else:
            text += piece
    return text, spans


def example(split, index):
    """The example ``index`` of ``split``: a pure function of both."""
    rng = np.random.default_rng([SPLIT_IDS[split], index, 7])
    date = FIRST_DAY + datetime.timedelta(days=int(rng.integers(NUM_DAYS)))
    format_index = int(rng.integers(len(FORMATS)))
    source_text, field_spans = render(date, format_index)
    target_text = date.isoformat()
    spans = [(-1, -1)] + [field_spans[f] if f else (-1, -1) for f in ISO_FIELDS] + [(-1, -1)]
    return {
        "source": np.array(encode(source_text), np.int32),
        "target": np.array([START, *encode(target_text), END], np.int32),
        "source_text": source_text,
        "target_text": target_text,
        "spans": np.array(spans, np.int32),
        "format": format_index,
    }


class KerasnnDates(tfds.core.GeneratorBasedBuilder):
    """Human-written dates to ISO 8601, with the source span of every target character."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    def _info(self):
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "source": tfds.features.Sequence(np.int32),
                "target": tfds.features.Tensor(shape=(TARGET_LENGTH,), dtype=np.int32),
                "source_text": tfds.features.Text(),
                "target_text": tfds.features.Text(),
                "spans": tfds.features.Tensor(shape=(TARGET_LENGTH, 2), dtype=np.int32),
                "format": np.int32,
            }),
            supervised_keys=("source", "target"),
            metadata=tfds.core.MetadataDict(vocabulary=VOCABULARY),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated here
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split):
        for index in range(SPLIT_SIZES[split]):
            yield index, example(split, index)
