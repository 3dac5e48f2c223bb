"""Chatbot encoders: the dual encoder learns to pair questions with answers (in-batch
negatives), the hierarchical encoder's shapes and its mask over turns."""

import keras
import numpy as np
import pytest

from kerasnn.models import chatbot
from kerasnn.text import retrieval


def test_dual_encoder_learns_to_rank_each_answer_first():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    questions = rng.integers(1, 30, (16, 5))
    answers = questions[:, ::-1] + 30  # a different vocabulary: only training can pair them
    model, ask, reply = chatbot.dual_encoder(60, embedding_dim=16, units=16)

    def ranks():  # each question against all 16 answers, its own first
        q, a = ask.predict(questions, verbose=0), reply.predict(answers, verbose=0)
        candidates = np.stack([a[np.r_[i, np.delete(np.arange(16), i)]] for i in range(16)])
        return retrieval.rank_candidates(q, candidates)

    before = retrieval.recall_at_k(ranks(), 1)
    history = model.fit([questions, answers], np.zeros(16), batch_size=16, epochs=60, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert retrieval.recall_at_k(ranks(), 1) > max(before, 0.9)


def test_hierarchical_encoder_shapes_and_mask_over_turns():
    keras.utils.set_random_seed(0)
    encoder = chatbot.hierarchical_encoder(20, max_turns=3, max_words=4, embedding_dim=8,
                                           units=6)
    first, second = [3, 4, 5, 0], [6, 7, 0, 0]
    empty = [0, 0, 0, 0]
    dialogues = np.array([[first, second, empty], [first, empty, second],
                          [empty, first, second], [second, first, empty]])
    context = encoder.predict(dialogues, verbose=0)
    assert context.shape == (4, 6)
    # an empty turn is skipped wherever it sits; the order of the real turns matters
    np.testing.assert_allclose(context[1], context[0], atol=1e-6)
    np.testing.assert_allclose(context[2], context[0], atol=1e-6)
    assert np.abs(context[3] - context[0]).max() > 1e-4
    with pytest.raises(ValueError, match="`max_turns` must be a positive integer"):
        chatbot.hierarchical_encoder(20, max_turns=0, max_words=4)


def test_in_batch_accuracy_against_numpy():
    rng = np.random.default_rng(1)
    questions, answers = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    answers[:3] = 2.5 * questions[:3]  # same direction: the first three pick their own answer
    q = questions / np.linalg.norm(questions, axis=1, keepdims=True)
    a = answers / np.linalg.norm(answers, axis=1, keepdims=True)
    expected = np.mean(np.argmax(q @ a.T, axis=1) == np.arange(6))
    value = chatbot.in_batch_accuracy(np.zeros(6), np.concatenate([questions, answers], 1))
    assert float(value) == pytest.approx(expected) and expected >= 0.5


def test_dual_encoder_with_a_hierarchical_question_side():
    keras.utils.set_random_seed(0)
    encoder = chatbot.hierarchical_encoder(20, max_turns=3, max_words=4, embedding_dim=8,
                                           units=6)
    model, ask, reply = chatbot.dual_encoder(20, embedding_dim=8, units=6,
                                             question_encoder=encoder)
    assert ask is encoder and tuple(model.inputs[0].shape) == (None, 3, 4)
    dialogues = np.array([[[3, 4, 0, 0], [5, 0, 0, 0], [0, 0, 0, 0]]] * 2)
    answers = np.array([[6, 7, 0, 0], [8, 0, 0, 0]])
    pair = keras.ops.convert_to_numpy(model([dialogues, answers]))
    np.testing.assert_allclose(pair[:, :6], encoder(dialogues), atol=1e-6)
    np.testing.assert_allclose(pair[:, 6:], reply(answers), atol=1e-6)
