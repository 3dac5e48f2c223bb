"""`kerasnn_dialogues`: template dialogues for retrieval, generative and multi-turn chatbots.

Five intents (weather, restaurants, banking, technical support, small talk), each question
paraphrased by several templates, answers that copy the question's slot values (cities, days,
amounts, names, devices, ...; the weather is a fixed fact of city and day). Half of the examples
are **follow-ups**: a first turn (question and its answer) then a question that only the history
completes ("and tomorrow?", "what about for 4 people?"): its answer repeats slot values that only
the first turn states. Some slot values
(``HELD_OUT``) appear in the test split only: a retrieval chatbot cannot return an answer its base
never held, a generator that copies can.

Every example is a pure function of (split, index). Features:

- ``history``: the earlier turns, ``[q, a]`` or ``[]`` (strings);
- ``question``, ``answer``: the current turn;
- ``intent``: index in ``INTENTS``; ``followup``: whether the question needs the history;
- ``held_out``: whether the answer holds a slot value unseen in training;
- ``slots``: the slot values the answer must contain (strings);
- ``candidates``: 10 candidate answers for 1-of-10 retrieval scoring, the right one first, the
  others answers of other examples of the split (9 distinct wrong answers).
"""

import numpy as np
import tensorflow_datasets as tfds

INTENTS = ("weather", "restaurant", "banking", "support", "small_talk")
CITIES = ("rome", "paris", "london", "berlin", "madrid", "vienna", "lisbon", "prague", "oslo",
          "dublin")
DAYS = ("today", "tomorrow", "monday", "friday", "sunday")
WEATHER = ("sunny", "rainy", "cloudy", "windy", "snowy")
CUISINES = ("italian", "thai", "indian", "mexican", "japanese", "greek")
NAMES = ("anna", "marco", "julia", "tom", "sara", "luca")
DEVICES = ("laptop", "phone", "printer", "router", "tablet")
PROBLEMS = ("does not start", "is very slow", "keeps crashing", "has no sound")
HELD_OUT = {"city": ("athens", "warsaw"), "cuisine": ("korean",), "device": ("smartwatch",)}
SPLIT_SIZES = {"train": 6000, "validation": 500, "test": 1000}
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}
NUM_CANDIDATES = 10
SMALL_TALK = (("hello", "hello, how can i help you?"), ("hi there", "hello, how can i help you?"),
              ("thank you", "you are welcome."), ("thanks a lot", "you are welcome."),
              ("who are you", "i am a small template chatbot."),
              ("goodbye", "goodbye, have a nice day."), ("bye", "goodbye, have a nice day."))


def _pick(rng, values):
    return values[int(rng.integers(len(values)))]


def _slot(rng, name, values, held_out):
    """A slot value; with ``held_out`` one of the values the training split never shows."""
    return _pick(rng, HELD_OUT[name]) if held_out else _pick(rng, values)


def _sky(city, day):
    """The weather is a fixed fact of (city, day): learnable for the cities seen in training."""
    return WEATHER[(sum(map(ord, city)) + DAYS.index(day)) % len(WEATHER)]


def _weather(rng, held_out):
    city, day = _slot(rng, "city", CITIES, held_out), _pick(rng, DAYS[:2])
    other_day = "tomorrow" if day == "today" else "today"
    question = _pick(rng, ("what is the weather in {c} {d}?", "will it rain in {c} {d}?",
                           "weather for {c} {d} please", "how is the weather {d} in {c}?"))
    first = (question.format(c=city, d=day), f"{day} in {city} it will be {_sky(city, day)}.")
    followup = (f"and {other_day}?", f"{other_day} in {city} it will be "
                f"{_sky(city, other_day)}.")
    return first, followup, (day, city), (other_day, city)


def _restaurant(rng, held_out):
    cuisine, city = _slot(rng, "cuisine", CUISINES, held_out), _pick(rng, CITIES)
    people, more = int(rng.integers(2, 7)), int(rng.integers(7, 10))
    question = _pick(rng, ("book a table for {n} at a {k} restaurant in {c}",
                           "i want {k} food in {c} for {n} people",
                           "find me a {k} restaurant in {c}, {n} people"))
    first = (question.format(n=people, k=cuisine, c=city),
             f"i booked a {cuisine} restaurant in {city} for {people} people.")
    followup = (f"what about for {more} people?",
                f"i booked a {cuisine} restaurant in {city} for {more} people.")
    return first, followup, (cuisine, city, str(people)), (cuisine, city, str(more))


def _banking(rng, held_out):
    del held_out  # amounts are never held out: any number is new
    name, other = rng.choice(NAMES, 2, replace=False)
    amount = f"{int(rng.integers(10, 500))} euros"
    question = _pick(rng, ("send {m} to {n}", "transfer {m} to {n} please",
                           "i want to pay {n} {m}"))
    first = (question.format(m=amount, n=name), f"i transferred {amount} to {name}.")
    followup = (f"and to {other}?", f"i transferred {amount} to {other}.")
    return first, followup, (amount, str(name)), (amount, str(other))


def _support(rng, held_out):
    device, problem = _slot(rng, "device", DEVICES, held_out), _pick(rng, PROBLEMS)
    question = _pick(rng, ("my {d} {p}", "help, my {d} {p}", "the {d} {p}, what can i do?"))
    first = (question.format(d=device, p=problem),
             f"restart your {device}; if it still {problem}, call support.")
    followup = ("it did not help", f"please bring your {device} to the service desk.")
    return first, followup, (device,), (device,)


def _small_talk(rng, held_out):
    del held_out
    first = _pick(rng, SMALL_TALK)
    followup = _pick(rng, SMALL_TALK)
    return first, followup, (), ()


def _held_out_slots(slots):
    return any(value in values for value in slots for values in HELD_OUT.values())


def dialogue(split, index):
    """``(history, question, answer, intent, followup, slots)`` of one example."""
    rng = np.random.default_rng([SPLIT_IDS[split], index, 11])
    intent = int(rng.integers(len(INTENTS)))
    held_out = split == "test" and intent in (0, 1, 3) and rng.random() < 0.2
    make = (_weather, _restaurant, _banking, _support, _small_talk)[intent]
    first, followup, first_slots, followup_slots = make(rng, held_out)
    if rng.random() < 0.5:
        return [], first[0], first[1], intent, False, first_slots
    return list(first), followup[0], followup[1], intent, True, followup_slots


def example(split, index):
    history, question, answer, intent, followup, slots = dialogue(split, index)
    rng = np.random.default_rng([SPLIT_IDS[split], index, 13])
    candidates, offset = [answer], 1
    while len(candidates) < NUM_CANDIDATES:
        other = dialogue(split, int((index + offset * int(rng.integers(1, 97))) %
                                    SPLIT_SIZES[split]))[2]
        offset += 1
        if other not in candidates:
            candidates.append(other)
    return {"history": history, "question": question, "answer": answer, "intent": intent,
            "followup": followup, "held_out": _held_out_slots(slots),
            "slots": list(slots), "candidates": candidates}


class KerasnnDialogues(tfds.core.GeneratorBasedBuilder):
    """Template dialogues over five intents, with follow-ups and held-out slot values."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}

    def _info(self):
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "history": tfds.features.Sequence(tfds.features.Text()),
                "question": tfds.features.Text(),
                "answer": tfds.features.Text(),
                "intent": tfds.features.ClassLabel(names=INTENTS),
                "followup": np.bool_,
                "held_out": np.bool_,
                "slots": tfds.features.Sequence(tfds.features.Text()),
                "candidates": tfds.features.Sequence(tfds.features.Text()),
            }),
            supervised_keys=("question", "answer"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated here
        return {split: self._generate_examples(split) for split in SPLIT_SIZES}

    def _generate_examples(self, split):
        for index in range(SPLIT_SIZES[split]):
            yield index, example(split, index)
