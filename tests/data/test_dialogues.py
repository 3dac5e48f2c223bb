"""The dialogue corpus: deterministic, answers that hold their slots, follow-ups that need the
history, slot values held out of training, 10 distinct candidates with the answer first."""

from kerasnn.data.builders import dialogues


def test_examples_are_deterministic_and_consistent():
    examples = [dialogues.example("test", index) for index in range(400)]
    assert examples[:50] == [dialogues.example("test", index) for index in range(50)]
    for example in examples:
        assert all(value in example["answer"] for value in example["slots"])
        candidates = example["candidates"]
        assert candidates[0] == example["answer"]
        assert len(set(candidates)) == dialogues.NUM_CANDIDATES
        assert len(example["history"]) == (2 if example["followup"] else 0)
    followups = [e for e in examples if e["followup"] and e["intent"] in (0, 1)]
    # the follow-up's answer repeats a slot only the history states, not its own question
    assert followups and all(
        any(v in e["history"][0] and v not in e["question"] for v in e["slots"])
        for e in followups)
    assert {e["intent"] for e in examples} == set(range(len(dialogues.INTENTS)))


def test_held_out_slot_values_appear_in_the_test_split_only():
    held_out = {value for values in dialogues.HELD_OUT.values() for value in values}

    def words(example):
        text = " ".join([*example["history"], example["question"], example["answer"]])
        return set(text.replace(".", " ").replace(",", " ").replace("?", " ").split())

    train = [dialogues.example("train", index) for index in range(1500)]
    assert not any(words(e) & held_out or e["held_out"] for e in train)
    test = [dialogues.example("test", index) for index in range(400)]
    flagged = [e for e in test if e["held_out"]]
    assert flagged and all(words(e) & held_out for e in flagged)
