"""Greedy and beam search on hand-built next-token distributions."""

import numpy as np
import pytest

from kerasnn.text import decoding

START, END, PAD = 1, 2, 0


def table_step(table):
    """A decoder whose next-token distribution depends on the prefix only: ``table[prefix]``.

    Its state is the history of fed tokens, ``(batch, 8)`` with -1 where nothing was fed yet.
    """

    def step(tokens, history):
        history = np.array(history)
        position = (history >= 0).sum(axis=1)
        history[np.arange(len(tokens)), position] = tokens
        prefixes = [tuple(int(t) for t in row if t >= 0) for row in history]
        log_probs = np.log(np.array([table.get(p, table["default"]) for p in prefixes]) + 1e-12)
        return log_probs, history, log_probs

    return step


# Vocabulary: 0 pad, 1 start, 2 end, 3 "a", 4 "b", 5 "c".
TABLE = {
    (START,): [0, 0, 0, 0.6, 0.4, 0],  # greedy takes "a" ...
    (START, 3): [0, 0, 0.3, 0.35, 0.35, 0],  # ... after which nothing is likely,
    (START, 4): [0, 0, 0.05, 0, 0, 0.95],  # while "b" is followed by "c" almost surely
    (START, 4, 5): [0, 0, 1.0, 0, 0, 0],
    "default": [0, 0, 1.0, 0, 0, 0],
}


def _run(search, **kwargs):
    history = np.full((1, 8), -1)
    return search(table_step(TABLE), history, 1, start_id=START, end_id=END, max_length=4,
                  **kwargs)


def test_beam_search_finds_a_more_probable_sequence_than_greedy():
    greedy, greedy_score, _ = _run(decoding.greedy_search)
    beam, beam_score, extras = _run(decoding.beam_search, beam_width=2)
    assert greedy[0].tolist()[:3] in ([3, 3, 2], [3, 4, 2])  # "a" then a 0.35 token
    assert beam[0].tolist() == [4, 5, 2, 0]  # b c <end>: 0.4 * 0.95 * 1.0
    assert beam_score[0] == pytest.approx(np.log(0.4 * 0.95), abs=1e-6)
    assert beam_score[0] > greedy_score[0]
    assert extras.shape == (1, 4, 6)  # the per-step log-probs of the chosen hypothesis
    assert not extras[0, 3].any()  # ... zeros after its last step


def test_beam_width_one_is_greedy():
    rng = np.random.default_rng(0)
    transition = rng.dirichlet(np.ones(6) * 0.5, size=6)

    def step(tokens, state):
        return np.log(transition[tokens]), state * 1.0, None

    state = np.zeros((3, 2))
    greedy = decoding.greedy_search(step, state, 3, start_id=START, end_id=END, max_length=6)
    beam = decoding.beam_search(step, state, 3, start_id=START, end_id=END, max_length=6,
                                beam_width=1)
    np.testing.assert_array_equal(greedy[0], beam[0])
    np.testing.assert_allclose(greedy[1], beam[1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="`beam_width` must be a positive integer"):
        decoding.beam_search(lambda t, s: (None, s, None), np.zeros((1, 1)), 1, start_id=1,
                             end_id=2, max_length=3, beam_width=0)


def test_greedy_decoding_of_a_copying_decoder_reproduces_its_input():
    source = np.array([[5, 3, 4, END], [4, 4, END, PAD]])

    def copy_step(tokens, state):
        position, = state  # (batch,) how many tokens were produced
        log_probs = np.full((len(tokens), 6), -20.0)
        log_probs[np.arange(len(tokens)), source[np.arange(len(tokens)), position]] = 0.0
        return log_probs, (position + 1,), None

    tokens, scores, extras = decoding.greedy_search(copy_step, (np.zeros(2, int),), 2,
                                                    start_id=START, end_id=END, max_length=4)
    np.testing.assert_array_equal(tokens, source)
    assert extras is None and np.allclose(scores, 0.0)
