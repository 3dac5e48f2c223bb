"""The dates dataset: every example's source renders its target, and its spans point there."""

import datetime

import numpy as np

from kerasnn.data import padding
from kerasnn.data.builders import dates


def test_examples_are_deterministic_and_consistent():
    for index in range(300):
        example = dates.example("train", index)
        again = dates.example("train", index)
        assert all(np.array_equal(example[key], again[key]) for key in example)
        source, target = example["source_text"], example["target_text"]
        assert dates.decode(example["source"]) == source
        assert dates.decode(example["target"][1:]) == target
        date = datetime.date.fromisoformat(target)
        assert dates.render(date, example["format"])[0] == source
        # Each field's characters point at source text that spells the same value.
        year_span, month_span, day_span = (example["spans"][i] for i in (1, 6, 9))
        assert int(source[slice(*year_span)]) % 100 == date.year % 100
        assert source[slice(*month_span)] in (
            str(date.month), f"{date.month:02d}", dates.MONTHS[date.month - 1],
            dates.MONTHS[date.month - 1][:3])
        assert source[slice(*day_span)].rstrip("stndrh") == str(date.day) or int(
            source[slice(*day_span)]) == date.day
        assert (example["spans"][[0, 5, 8, 11]] == -1).all()  # start, dashes, end
        assert len(source) <= dates.MAX_SOURCE_LENGTH


def test_every_format_occurs_and_splits_differ():
    formats = {dates.example("train", index)["format"] for index in range(500)}
    assert formats == set(range(len(dates.FORMATS)))
    assert dates.example("train", 0)["source_text"] != dates.example("test", 0)["source_text"]


def test_pad_sequences():
    assert padding.pad_sequences([[1, 2], [3]], length=3).tolist() == [[1, 2, 0], [3, 0, 0]]
