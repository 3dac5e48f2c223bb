"""kerasnn.text.ngram: counts, the four smoothings, hand-computed Katz and Kneser-Ney."""

import numpy as np
import pytest

from kerasnn.text import SMOOTHINGS, NGramModel, katz_discounts

# ids: 0 padding, 1 <s>, 2 </s>, 3 "a", 4 "b", 5 "c", 6 "d" (never seen)
TINY = [[3, 4, 2], [3, 5, 2], [4, 2]]
VOCABULARY_SIZE = 7


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_conditional_distribution_sums_to_one(smoothing, order):
    rng = np.random.default_rng(0)
    sentences = [list(rng.integers(3, 12, size=rng.integers(1, 6))) + [2] for _ in range(30)]
    model = NGramModel(order, 14, smoothing, k=0.5).fit(sentences)
    contexts = [[], [3], [3, 4], [13, 13], [1, 5], [7, 8, 9]]  # seen, unseen and unknown ids
    for context in contexts:
        distribution = model.distribution(context)
        assert distribution.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(distribution >= 0) and distribution[0] == distribution[1] == 0.0
        if smoothing != "ml":
            assert np.all(distribution[2:] > 0)  # smoothing leaves no outcome at zero


def test_maximum_likelihood_gives_infinite_perplexity_on_an_unseen_bigram():
    model = NGramModel(2, VOCABULARY_SIZE, "ml").fit(TINY)
    assert model.probability(4, [3]) == 0.5 and model.probability(2, [4]) == 1.0
    assert model.perplexity([[3, 4, 2]]) == pytest.approx((1 / (2 / 3 * 0.5 * 1)) ** (1 / 3))
    assert model.perplexity([[4, 3, 2]]) == np.inf  # "b a" never seen
    assert NGramModel(2, VOCABULARY_SIZE, "add_k").fit(TINY).perplexity([[4, 3, 2]]) < np.inf


def test_add_k_by_hand():
    model = NGramModel(2, VOCABULARY_SIZE, "add_k", k=0.5).fit(TINY)
    # context "a": seen twice (then "b", "c"); 5 outcomes (ids 2..6)
    assert model.probability(4, [3]) == pytest.approx((1 + 0.5) / (2 + 0.5 * 5))
    assert model.probability(6, [3]) == pytest.approx(0.5 / (2 + 0.5 * 5))


def test_katz_back_off_by_hand():
    model = NGramModel(2, VOCABULARY_SIZE, "katz", discount=0.5).fit(TINY)
    # Unigram counts of the predicted tokens: </s> 3, a 2, b 2, c 1 (8 tokens); "d" unseen.
    # Discounted: (c - 0.5) / 8; the 1/4 left goes to "d" through the uniform 1/5 (alpha = 5/4).
    unigram = {2: 2.5 / 8, 3: 1.5 / 8, 4: 1.5 / 8, 5: 0.5 / 8, 6: 0.25}
    for word, p in unigram.items():
        assert model.probability(word, [], order=1) == pytest.approx(p)
    # Context "a": "b" and "c" once each -> 0.5 / 2 kept each; alpha = 0.5 / (1 - P(b) - P(c)).
    alpha = 0.5 / (1 - 1.5 / 8 - 0.5 / 8)
    assert model.probability(4, [3]) == pytest.approx(0.25)
    assert model.probability(5, [3]) == pytest.approx(0.25)
    assert model.probability(2, [3]) == pytest.approx(alpha * 2.5 / 8)
    assert model.probability(6, [3]) == pytest.approx(alpha * 0.25)
    # An unseen context backs off to the unigram estimate.
    assert model.probability(2, [6]) == pytest.approx(2.5 / 8)
    unigram_model = NGramModel(1, VOCABULARY_SIZE, "katz", discount=0.5).fit(TINY)
    assert unigram_model.probability(6, []) == pytest.approx(0.25)


def test_kneser_ney_by_hand():
    model = NGramModel(2, VOCABULARY_SIZE, "kneser_ney", discount=0.5).fit(TINY)
    # Continuation counts N1+(. w): a after {<s>}, b after {a, <s>}, </s> after {b, c}, c after
    # {a}: 1, 2, 2, 1 (total 6, 4 distinct words); the uniform is over 5 outcomes.
    continuation = {2: 2, 3: 1, 4: 2, 5: 1, 6: 0}
    unigram = {w: max(c - 0.5, 0) / 6 + 0.5 * 4 / 6 / 5 for w, c in continuation.items()}
    assert unigram[3] == pytest.approx(0.15) and unigram[6] == pytest.approx(1 / 15)
    for word, p in unigram.items():
        assert model.probability(word, [], order=1) == pytest.approx(p)
    # Context "a" (count 2, followed by b and c once each): 0.25 + (0.5 * 2 / 2) P_1(w).
    assert model.probability(4, [3]) == pytest.approx(0.25 + 0.5 * unigram[4])
    assert model.probability(2, [3]) == pytest.approx(0.5 * unigram[2])
    assert model.probability(6, [3]) == pytest.approx(0.5 / 15)


def test_good_turing_discounts_of_katz():
    count_of_counts = {1: 20, 2: 8, 3: 4, 4: 3, 5: 2, 6: 1}
    table = {}
    for count, how_many in count_of_counts.items():
        for _ in range(how_many):
            table[(len(table),)] = count
    a = 6 * 1 / 20
    r_star = {1: 2 * 8 / 20, 2: 3 * 4 / 8, 3: 4 * 3 / 4, 4: 5 * 2 / 3, 5: 6 * 1 / 2}
    expected = [1.0] + [(r_star[r] / r - a) / (1 - a) for r in range(1, 6)]
    np.testing.assert_allclose(katz_discounts(table), expected)
    assert katz_discounts(table, discount=0.3) == 0.3


def test_higher_orders_and_sampling_on_a_deterministic_language():
    sentences = [[3, 4, 5, 2]] * 5 + [[4, 3, 5, 2]] * 5
    model = NGramModel(3, 6, "kneser_ney").fit(sentences)
    assert model.probability(5, [3, 4]) > 0.5
    rng = np.random.default_rng(0)
    samples = [model.sample(rng) for _ in range(20)]
    assert all(sample[-1] == 2 for sample in samples)
    assert sum(sample in ([3, 4, 5, 2], [4, 3, 5, 2]) for sample in samples) >= 10
    # 4 unigrams; 7 distinct bigrams ("5 </s>" twice); 8 trigrams (with "<s> <s>" padding)
    assert model.num_parameters() == 4 + 7 + 8


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match=r"Argument `order` must be a positive integer\. "
                                         r"Received: order=0"):
        NGramModel(0, 10)
    with pytest.raises(ValueError, match="Argument `smoothing` must be one of"):
        NGramModel(2, 10, "witten_bell")
    with pytest.raises(ValueError, match="Argument `discount` must be a number in"):
        NGramModel(2, 10, "kneser_ney", discount=1.5)
    with pytest.raises(ValueError, match="at least one token"):
        NGramModel(2, 10).fit([])
    with pytest.raises(ValueError, match=r"unknown or excluded token ids.*\[12\]"):
        NGramModel(2, 10).fit([[3, 12, 2]])
    with pytest.raises(ValueError, match="not fitted"):
        NGramModel(2, 10).distribution([3])
