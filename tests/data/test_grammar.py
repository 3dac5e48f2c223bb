"""kerasnn_grammar: a language whose sentence probabilities are known exactly."""

import time

import numpy as np
import pytest

from kerasnn import data
from kerasnn.data import text as text_data
from kerasnn.data.builders import grammar as grammar_builder


def reachable_states(language):
    seen, stack = set(), [language.start_state()]
    while stack:
        state = stack.pop()
        if state is None or state in seen:
            continue
        seen.add(state)
        stack.extend(next_state for _, _, next_state in language.transitions(state))
    return seen


def test_every_state_is_a_distribution_and_unifilar():
    language = grammar_builder.grammar("small")  # "large" has the same rules, more nouns
    for state in reachable_states(language):
        options = language.transitions(state)
        assert sum(p for _, p, _ in options) == pytest.approx(1.0, abs=1e-12), state
        words = [word for word, _, _ in options]
        assert len(set(words)) == len(words), state  # one next state per word
        assert all(word in language.ids for word in words)


def test_a_sentence_probability_by_hand():
    language = grammar_builder.grammar("small")
    harmonic = lambda n, s=1: sum(1.0 / r**s for r in range(1, n + 1))  # noqa: E731
    p_the = 1.0 / harmonic(6)  # first of 6 Zipf-weighted determiners
    # no adjective (1 - 0.35), animal among {animal, person}, plural after "the", top noun of 10
    # (noun weights 1 / rank^2, no rotation in the subject position)
    p_cats = (1 - 0.35) * 0.5 * 0.4 / harmonic(10, 2)
    # not "that" nor a preposition (1 - 0.2 - 0.1); "sleep" is the 4th of the 10 animal verbs,
    # whose weights 1 / rank^2 are rotated by the subject's rank ("cat" is first: no rotation)
    p_sleep = (1 - 0.2 - 0.1) * (1 / 4**2) / harmonic(10, 2)
    p_end = 1 - 0.25
    expected = np.log(p_the) + np.log(p_cats) + np.log(p_sleep) + np.log(p_end)
    words = ["the", "cats", "sleep", "</s>"]
    assert language.log_probability(words) == pytest.approx(expected, rel=1e-12)
    # Agreement and selection: these sentences are impossible.
    assert language.log_probability(["the", "cats", "sleeps", "</s>"]) == -np.inf
    assert language.log_probability(["the", "cats", "eat", "the", "cars", "</s>"]) == -np.inf
    assert language.log_probability(["the", "cats", "drive", "the", "cars", "</s>"]) == -np.inf


def test_stored_log_probabilities_equal_a_recomputation_from_the_tables(tfds_data_dir):
    corpora = text_data.load_corpora("kerasnn_grammar/small", data_dir=tfds_data_dir)
    language = grammar_builder.grammar("small")
    test = corpora["test"]
    assert test.vocabulary == tuple(language.vocabulary)
    for sentence, stored in zip(test.sentences, test.log_probabilities, strict=True):
        state, total = language.start_state(), 0.0
        for token in sentence:  # walk the unique state path, multiplying table entries
            probabilities = {word: (p, after) for word, p, after in language.transitions(state)}
            p, state = probabilities[test.vocabulary[token]]
            total += np.log(p)
        assert state is None and sentence[-1] == grammar_builder.EOS_ID
        assert stored == pytest.approx(total, rel=1e-6)  # stored as float32
    # Deterministic: the same (config, split, index) gives the same sentence (tfds stores the
    # examples in an order of its own).
    stored_texts = {test.text(sentence) for sentence in test.sentences}
    assert {language.example("test", index)["text"] for index in range(20)} <= stored_texts
    assert 1.0 < test.oracle_perplexity() < 20.0
    assert test.word_info["category"][language.ids["cats"]] == "animal"
    assert test.word_info["number"][language.ids["cats"]] == "plural"
    assert test.word_info["lemma"][language.ids["mice"]] == "mouse"


def test_unknown_config_and_offline_corpora(tfds_data_dir, monkeypatch):
    with pytest.raises(data.UnknownDatasetError, match="kerasnn_grammar/small"):
        text_data.load_corpora("kerasnn_grammar/huge", data_dir=tfds_data_dir)
    with pytest.raises(data.UnknownDatasetError, match="tiny_shakespeare"):
        text_data.load_corpora("mnist", data_dir=tfds_data_dir)
    monkeypatch.setenv("KERASNN_OFFLINE", "1")
    for name in text_data.ONLINE:
        started = time.time()
        with pytest.raises(data.DatasetUnavailableError, match="kerasnn_grammar"):
            text_data.load_corpora(name, data_dir=tfds_data_dir)
        assert time.time() - started < 10
