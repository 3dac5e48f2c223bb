"""Retrieval chatbot pieces: TF-IDF by hand, the knowledge base's exact match, 1-of-n recall,
the notes' multi-turn concatenation and the dual encoder's in-batch loss against NumPy."""

import math

import keras
import numpy as np
import pytest

from kerasnn import losses
from kerasnn.text import retrieval

BASE_QUESTIONS = ["what is the weather in rome today", "book a table for two in paris",
                  "what is my account balance", "my laptop does not start"]
BASE_ANSWERS = ["sunny in rome", "table booked in paris", "your balance is 120 euros",
                "hold the power button for ten seconds"]


def test_tfidf_matches_the_formula_by_hand():
    encoder = retrieval.TfidfEncoder().fit(["a b", "a c", "a"])
    vector = encoder(["a b b z"])[0]  # z is unknown: ignored
    idf_a, idf_b = math.log(4 / 4) + 1, math.log(4 / 2) + 1
    expected = np.array([1 * idf_a, 2 * idf_b, 0.0])
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected))
    np.testing.assert_array_equal(encoder(["zzz"]), 0.0)  # no known word: the zero vector


def test_retrieval_returns_the_exact_match_for_a_question_from_the_base():
    encoder = retrieval.TfidfEncoder().fit(BASE_QUESTIONS)
    bot = retrieval.RetrievalChatbot(BASE_QUESTIONS, BASE_ANSWERS, encoder)
    indices, similarities = bot.top_k(BASE_QUESTIONS, k=2)
    np.testing.assert_array_equal(indices[:, 0], np.arange(4))
    np.testing.assert_allclose(similarities[:, 0], 1.0)
    assert (similarities[:, 1] < 1.0).all()
    assert bot.reply("what's the weather like in rome?") == "sunny in rome"


def test_bad_questions_give_a_clear_message():
    bot = retrieval.RetrievalChatbot(BASE_QUESTIONS, BASE_ANSWERS,
                                     retrieval.TfidfEncoder().fit(BASE_QUESTIONS))
    with pytest.raises(ValueError, match=r"at least one word. Received: '  \?'"):
        bot.reply("  ?")
    with pytest.raises(ValueError, match="as many answers as questions"):
        retrieval.RetrievalChatbot(BASE_QUESTIONS, BASE_ANSWERS[:2], bot.encode)
    # only unknown words: similarity 0 to everything, the first answer, no crash
    assert bot.top_k(["qwerty uiop"])[1][0, 0] == 0.0


def test_recall_at_k_of_one_of_n_candidates():
    contexts = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    candidates = np.array([[[1, 0], [0, 1], [1, 1]],     # right answer best: rank 0
                           [[1, 1], [1, 0], [0, 1]],     # one candidate better: rank 1
                           [[0, 1], [0, 1], [1, 0]]], float)  # a tie counts against: rank 1
    ranks = retrieval.rank_candidates(contexts, candidates)
    np.testing.assert_array_equal(ranks, [0, 1, 1])
    assert retrieval.recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert retrieval.recall_at_k(ranks, 2) == 1.0


def test_multi_turn_context_is_the_notes_concatenation():
    history = [("q1", "a1"), ("q2", "a2"), ("q3", "a3")]
    assert retrieval.multi_turn_context(history, "q4") == "q2 | a2 | q3 | a3 | q4"
    assert retrieval.multi_turn_context(history, "q4", turns=0) == "q4"
    with pytest.raises(ValueError, match="`turns` must be a non-negative integer"):
        retrieval.multi_turn_context(history, "q4", turns=-1)


def test_in_batch_negatives_loss_against_numpy():
    rng = np.random.default_rng(0)
    queries, answers = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    a = answers / np.linalg.norm(answers, axis=1, keepdims=True)
    scores = q @ a.T / 0.1
    expected = -(np.diag(scores) - np.log(np.exp(scores).sum(axis=1)))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(losses.in_batch_negatives_loss(queries, answers, 0.1)),
        expected, rtol=1e-5)
    loss = losses.InBatchNegatives(temperature=0.1)
    value = loss(np.zeros(5), np.concatenate([queries, answers], axis=1).astype("float32"))
    np.testing.assert_allclose(float(value), expected.mean(), rtol=1e-5)
    restored = losses.InBatchNegatives.from_config(loss.get_config())
    assert restored.temperature == 0.1


def test_a_base_searched_with_its_own_key_encoder():
    # a dual encoder searches answers with its answer tower: here a key encoder that reads
    # the answers' last word, against questions read by their first word
    vectors = {"rome": [1.0, 0.0], "paris": [0.0, 1.0]}
    answers = ["sunny in rome", "table booked in paris"]
    bot = retrieval.RetrievalChatbot(
        answers, answers, lambda texts: np.array([vectors[t.split()[0]] for t in texts]),
        lambda texts: np.array([vectors[t.split()[-1]] for t in texts]))
    assert bot.reply("paris please") == "table booked in paris"
    assert bot.reply("rome today") == "sunny in rome"
