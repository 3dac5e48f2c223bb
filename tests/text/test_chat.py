"""The generative chatbot's pieces: copy placeholders through encoding and decoding, teacher
forcing arrays, the context it reads, its refusals, the chat loop, and the answer scores."""

import numpy as np
import pytest

from kerasnn.text import chat

KNOWN = ["send", "euros", "to", "anna", "i", "transferred", "and", "|"]


def vocabulary():
    return chat.Vocabulary(KNOWN, num_copies=2)


def test_ids_layout_and_multi_turn_words():
    v = vocabulary()
    assert v.tokens[:6] == ("<pad>", "<start>", "<end>", "<unk>", "<copy_0>", "<copy_1>")
    assert len(v) == 6 + len(KNOWN)
    assert chat.words("Send 5 euros. | I did!") == ["send", "5", "euros", "|", "i", "did"]
    fitted = chat.Vocabulary.fit(["a b | a", "a c"], min_count=2)
    assert fitted.known("a") and fitted.known("|") and not fitted.known("b")


def test_unknown_words_become_placeholders_and_come_back():
    v = vocabulary()
    ids, copied = v.encode_context("send 77 euros to marco | and 77")
    # numbered from the end: 77 -> <copy_0> (twice), marco -> <copy_1>
    assert copied == ["77", "marco"]
    assert [v.tokens[i] for i in ids] == ["send", "<copy_0>", "euros", "to", "<copy_1>", "|",
                                          "and", "<copy_0>"]
    answer = v.encode_answer("i transferred 77 euros to marco.", copied)
    assert [v.tokens[i] for i in answer] == ["i", "transferred", "<copy_0>", "euros", "to",
                                             "<copy_1>", "<end>"]
    assert v.decode(answer + [v.ids["anna"]], copied) == "i transferred 77 euros to marco"
    # placeholders run out: the oldest unknown word is <unk>
    ids, copied = v.encode_context("bob sent 77")
    assert copied == ["77", "sent"] and v.tokens[ids[0]] == "<unk>"
    # padding and <start> are not words; a placeholder without a copied word is <unk>
    assert v.decode([1, v.ids["i"], 0, v.ids["<copy_1>"], 2], ["x"]) == "i <unk>"
    # a known word can be forced to be copied (how training teaches copying)
    ids, copied = v.encode_context("send anna", copy={"anna"})
    assert copied == ["anna"] and ids == [v.ids["send"], v.ids["<copy_0>"]]


def test_training_arrays_teacher_forcing_and_copy_rate():
    v = vocabulary()
    contexts, answers = ["send 9 euros to anna"] * 20, ["i transferred 9 euros to anna"] * 20
    source, inputs, targets = chat.training_arrays(contexts, answers, v, source_length=4,
                                                   target_length=8)
    assert source.shape == (20, 4) and inputs.shape == targets.shape == (20, 7)  # to the longest
    np.testing.assert_array_equal(inputs[:, 0], v.start_id)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert v.decode(targets[0], ["9"]) == answers[0]
    # without copy_rate only the unknown 9 is a placeholder
    np.testing.assert_array_equal(source, [[v.ids[w] for w in ("<copy_0>", "euros", "to",
                                                               "anna")]] * 20)  # the last 4
    _, _, copied_all = chat.training_arrays(contexts, answers, v, source_length=9,
                                            target_length=8, copy_rate=1.0)
    # shared words are copied while placeholders last (2 here: anna, to; from the end), then
    # known words stay words (euros) and unknown ones are <unk> (9)
    assert [v.tokens[i] for i in copied_all[0]] == ["i", "transferred", "<unk>", "euros",
                                                    "<copy_1>", "<copy_0>", "<end>"]
    _, _, some = chat.training_arrays(contexts, answers, v, source_length=9, target_length=8,
                                      copy_rate=0.5, seed=1)
    copies = np.isin(some, [v.ids["<copy_0>"], v.ids["<copy_1>"]]).sum(axis=1)
    assert len(set(copies.tolist())) > 1  # per example, at random


class EchoModel:
    """Answers with its source (up to 5 ids), then <end>: a stand-in that shows what it read."""

    def decode(self, source, *, start_id, end_id, max_length):
        tokens = np.zeros((len(source), max_length), np.int64)
        for row, ids in enumerate(np.asarray(source)):
            ids = [i for i in ids if i][-(max_length - 1):]
            tokens[row, : len(ids) + 1] = ids + [end_id]
        return tokens, None


def test_generative_chatbot_context_copies_and_refusals():
    bot = chat.GenerativeChatbot(EchoModel(), vocabulary(), max_context_length=11,
                                 max_answer_length=7, turns=2)
    assert bot.reply("send 77 euros") == "send 77 euros"  # 77 copied back
    history = [("send anna", "and"), ("to anna", "i")]
    assert bot.context("and", history) == "send anna | and | to anna | i | and"
    # too long with two turns (13 words): the oldest turn goes
    assert bot.context("to euros anna", history) == "to anna | i | to euros anna"
    with pytest.raises(ValueError, match=r"^A question must hold at least one word. "
                                         r"Received: ' '$"):
        bot.reply(" ")
    with pytest.raises(ValueError, match=r"^The question must hold at least one word the "
                                         r"chatbot knows \(unknown words are only copied\). "
                                         r"Received: 'qwerty uiop'$"):
        bot.reply("qwerty uiop")
    with pytest.raises(ValueError, match=r"^The question must be at most 11 words long. "
                                         r"Received: 12 words$"):
        bot.reply("send " * 12)


def test_chat_answers_each_line_in_context_until_the_end():
    bot = chat.GenerativeChatbot(EchoModel(), vocabulary(), max_context_length=12,
                                 max_answer_length=13, turns=1)
    written = []
    lines = iter(["send 5 euros\n", "\n", "zzz\n", "and anna\n"])
    history = chat.chat(bot, lines, written.append)
    assert written == [
        "bot: send 5 euros  (new words, copied: 5)",
        "error: A question must hold at least one word. Received: ''",
        "error: The question must hold at least one word the chatbot knows (unknown words "
        "are only copied). Received: 'zzz'",
        "bot: send 5 euros | send 5 euros | and anna",  # the first turn is in the context
    ]
    assert [question for question, _ in history] == ["send 5 euros", "and anna"]


def test_exact_match_and_slot_accuracy_by_hand():
    answers = ["today in rome it will be sunny", "i transferred 5 euros to tom.", "hello"]
    references = ["today in rome it will be sunny.", "i transferred 50 euros to tom.", "hello!"]
    assert chat.exact_match(answers, references) == pytest.approx(2 / 3)
    slots = [["today", "rome"], ["50 euros", "tom"], []]  # "5 euros" is not "50 euros"
    assert chat.slot_accuracy(answers, slots) == 0.5  # the slot-less answer is not counted
    assert np.isnan(chat.slot_accuracy(["hello"], [[]]))


def test_dialogue_scores_split_follow_ups_and_held_out_slots():
    examples = [
        {"answer": "today in rome it will be sunny.", "slots": ["today", "rome"],
         "followup": False, "held_out": False},
        {"answer": "tomorrow in athens it will be rainy.", "slots": ["tomorrow", "athens"],
         "followup": True, "held_out": True},
        {"answer": "you are welcome.", "slots": [], "followup": True, "held_out": False},
    ]
    answers = ["today in rome it will be sunny", "tomorrow in athens it will be windy",
               "goodbye"]
    scores = chat.dialogue_scores(answers, examples, ranks=np.array([0, 3, 0]))
    assert scores == {"recall_at_1": pytest.approx(2 / 3), "recall_at_1_followups": 0.5,
                      "exact_match": pytest.approx(1 / 3), "slot_accuracy": 1.0,
                      "followup_accuracy": 0.0, "held_out_slot_accuracy": 1.0}
    assert chat.dialogue_scores(answers, examples)["recall_at_1"] is None
