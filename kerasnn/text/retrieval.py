"""Retrieval chatbots: a knowledge base of (question, answer) pairs searched by cosine similarity.

Course notes, "Chatbots": a retrieval chatbot "relies on a knowledge base of question-answer pairs.
When a new question comes in, inference encodes it in a context vector and by using a similarity
measure retrieves the top-k neighbor knowledge base items". The encoder is any function from
texts to vectors: the TF-IDF baseline here, or a learned dual encoder (trained with
``kerasnn.losses.in_batch_negatives_loss``). Multi-turn context is the notes' concatenation
``[q_{i-2}; a_{i-2}; q_{i-1}; a_{i-1}; q_i]`` (``multi_turn_context``).
"""

import math
import re
from collections import Counter

import numpy as np

from kerasnn import arguments

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def tokenize(text):
    """Lower-case words and numbers (``"3.50"`` and ``"don't"`` stay whole)."""
    return _WORD.findall(str(text).lower())


def _check_question(text):
    if not tokenize(text):
        raise ValueError(f"A question must hold at least one word. Received: {text!r}")


class TfidfEncoder:
    """Bag-of-words vectors weighted by inverse document frequency, L2-normalized.

    For a text with word counts ``tf(w)`` over a fitted collection of ``N`` texts, ``df(w)`` of
    which contain ``w``::

        idf(w) = log((1 + N) / (1 + df(w))) + 1          (smoothed: never zero, never infinite)
        v(w) = tf(w) idf(w),   v <- v / ||v||

    so the dot product of two vectors is their cosine similarity. Words not seen by ``fit`` are
    ignored; a text with no known word is the zero vector (similarity 0 to everything).
    """

    def fit(self, texts):
        documents = [set(tokenize(text)) for text in texts]
        if not documents:
            raise ValueError("Argument `texts` must hold at least one text. Received: none.")
        frequencies = Counter(word for words in documents for word in words)
        self.vocabulary = {word: index for index, word in enumerate(sorted(frequencies))}
        total = len(documents)
        self.idf = np.array([math.log((1 + total) / (1 + frequencies[word])) + 1
                             for word in sorted(frequencies)])
        return self

    def __call__(self, texts):
        """``(len(texts), vocabulary)`` float vectors, unit norm (or zero)."""
        vectors = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            for word, count in Counter(tokenize(text)).items():
                if word in self.vocabulary:
                    vectors[row, self.vocabulary[word]] = count
        vectors *= self.idf
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


class RetrievalChatbot:
    """Answers with the knowledge base's answers whose questions are nearest to the question.

    Args:
        questions, answers: the knowledge base, aligned lists of texts.
        encode: ``texts -> (n, d)`` vectors (a fitted ``TfidfEncoder``, a dual encoder's
            question tower, ...); similarity is the cosine of the encoded vectors.
        encode_keys: the encoder of the base's ``questions`` when it is not ``encode``: a dual
            encoder searches its answers directly (``questions=answers``, ``encode_keys`` the
            answer tower).
    """

    def __init__(self, questions, answers, encode, encode_keys=None):
        if len(questions) != len(answers) or not questions:
            raise ValueError("The knowledge base needs as many answers as questions, at least "
                             f"one. Received: {len(questions)} questions, {len(answers)} answers")
        self.questions, self.answers, self.encode = list(questions), list(answers), encode
        self.keys = _unit((encode_keys or encode)(self.questions))

    def top_k(self, questions, k=1):
        """``(indices, similarities)``, each ``(len(questions), k)``, best first."""
        k = arguments.positive_int("k", k)
        for question in questions:
            _check_question(question)
        similarities = _unit(self.encode(list(questions))) @ self.keys.T
        order = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(similarities, order, axis=1)

    def reply(self, question):
        """The answer of the nearest knowledge-base question."""
        (index,), _ = self.top_k([question])
        return self.answers[index[0]]


def _unit(vectors):
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def rank_candidates(context_vectors, candidate_vectors):
    """Recall@k scoring of 1-of-n candidate answers: the rank (0 best) of candidate 0 (the right
    answer) among each context's candidates, by cosine similarity; ties count against it.

    Args:
        context_vectors: ``(n, d)``.
        candidate_vectors: ``(n, candidates, d)``, the right answer first.
    """
    similarities = np.einsum("nd,ncd->nc", _unit(context_vectors), _unit(candidate_vectors))
    return (similarities[:, 1:] >= similarities[:, :1]).sum(axis=1)


def recall_at_k(ranks, k=1):
    """The fraction of contexts whose right answer ranks in the top ``k``."""
    return float(np.mean(np.asarray(ranks) < arguments.positive_int("k", k)))


def multi_turn_context(history, question, turns=2, separator=" | "):
    """The notes' multi-turn input ``[q_{i-2}; a_{i-2}; q_{i-1}; a_{i-1}; q_i]``: the last
    ``turns`` (question, answer) pairs of ``history`` and the new question, joined by
    ``separator``. ``turns=0`` is the single-turn input (the question alone).

    Example:
        >>> multi_turn_context([("weather in rome?", "sunny in rome")], "and tomorrow?")
        'weather in rome? | sunny in rome | and tomorrow?'
    """
    if not isinstance(turns, int) or turns < 0:
        arguments.fail("turns", "a non-negative integer", turns)
    _check_question(question)
    recent = list(history)[-turns:] if turns else []
    return separator.join([text for pair in recent for text in pair] + [question])
