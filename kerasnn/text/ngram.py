"""N-gram language models in NumPy: counts for any n, and four ways to turn them into probabilities.

Course notes, "N-Gram Language Model": the chain rule ``P(s) = prod_i P(w_i | w_1..w_{i-1})``
truncated to the ``n - 1`` previous words, ``P(w_i | w_{i-n+1}..w_{i-1})``, estimated from counts
``#(w_{i-n+1}..w_i) / #(w_{i-n+1}..w_{i-1})`` (maximum likelihood), then smoothed "to avoid zero
probabilities" (Katz 1987). "Curse of Dimensionality" is why: most n-grams of a test set were
never counted.

Smoothings (``smoothing=``):

- ``"ml"``: maximum likelihood. An n-gram never seen in a seen context gets probability 0, so the
  perplexity of a test set holding one is infinite. (An unseen *context* uses the longest seen
  suffix of it, so every conditional distribution is still a distribution.)
- ``"add_k"``: ``(c(h, w) + k) / (c(h) + k |V|)`` (Laplace for ``k = 1``).
- ``"katz"``: Katz back-off, the smoothing the notes name. Seen n-grams keep a discounted count,
  ``P(w | h) = d_c c(h, w) / c(h)``; the mass taken away goes to unseen words in proportion to
  the shorter context's probabilities: ``P(w | h) = alpha(h) P(w | h')`` with ``alpha(h) =
  (1 - sum_seen d_c c(h, w) / c(h)) / (1 - sum_seen P(w | h'))``. The discounts ``d_r`` are
  Good-Turing's for counts ``r <= 5`` (``r* = (r + 1) n_{r+1} / n_r``, renormalized so the
  counts above 5 keep theirs), or absolute (``d_r = (r - D) / r``) with ``discount=D``; a
  context whose counts all exceed 5 would reserve nothing, and is discounted absolutely with
  ``D = n1 / (n1 + 2 n2)``. The recursion ends in the uniform distribution.
- ``"kneser_ney"``: interpolated Kneser-Ney (Chen & Goodman 1998), beyond the notes and the
  strongest of the four: ``P(w | h) = max(a(h, w) - D, 0) / a(h) + D N1+(h .) / a(h) P(w | h')``,
  where ``a`` is the count at the highest order and the *continuation count* (the number of
  distinct words seen before) at the lower ones; ``D = n1 / (n1 + 2 n2)`` per order unless
  ``discount`` is given; the recursion ends in the uniform distribution.

Sentences are sequences of ids ending with an end-of-sentence id; each is padded on the left with
``n - 1`` begin-of-sentence ids, and every token (words and end of sentence) is predicted. The
outcomes are all ids but ``excluded_ids`` (padding and begin-of-sentence).
"""

import collections

import numpy as np

from kerasnn import arguments
from kerasnn.metrics import text as text_metrics

SMOOTHINGS = ("ml", "add_k", "katz", "kneser_ney")

# Good-Turing discounts apply to counts up to this (Katz 1987); larger counts are reliable.
KATZ_MAX_COUNT = 5


class NGramModel:
    """An n-gram language model over integer token ids.

    Args:
        order: n (1 for unigrams).
        vocabulary_size: ids are in ``[0, vocabulary_size)``.
        smoothing: ``"ml"``, ``"add_k"``, ``"katz"`` or ``"kneser_ney"`` (module docstring).
        k: the pseudo-count of ``"add_k"``.
        discount: the absolute discount ``D`` of ``"katz"`` (default: Good-Turing) or
            ``"kneser_ney"`` (default: ``n1 / (n1 + 2 n2)`` per order), in ``(0, 1)``.
        bos_id: the begin-of-sentence id used for padding the context.
        excluded_ids: ids never predicted (padding and begin-of-sentence).

    Example:

    >>> model = NGramModel(2, 5, "kneser_ney").fit([[3, 4, 2], [4, 3, 2]])
    >>> float(model.distribution([3]).sum())
    1.0
    """

    def __init__(self, order, vocabulary_size, smoothing="kneser_ney", *, k=1.0, discount=None,
                 bos_id=1, excluded_ids=(0, 1)):
        self.order = arguments.positive_int("order", order)
        self.vocabulary_size = arguments.positive_int("vocabulary_size", vocabulary_size)
        self.smoothing = arguments.one_of("smoothing", smoothing, SMOOTHINGS)
        self.k = arguments.positive_number("k", k)
        if discount is not None and not (isinstance(discount, (int, float))
                                         and 0.0 < discount < 1.0):
            arguments.fail("discount", "a number in (0, 1) or None", discount)
        self.discount = discount
        self.bos_id = bos_id
        self.outcomes = np.ones(vocabulary_size, dtype=bool)
        self.outcomes[list(excluded_ids)] = False
        self._fitted = False

    # -- counting -----------------------------------------------------------------------------

    def fit(self, sentences):
        """Count the n-grams of ``sentences`` (sequences of ids) and prepare the smoothing."""
        sentences = [np.asarray(sentence, dtype=np.int64) for sentence in sentences]
        if not sentences or not any(len(sentence) for sentence in sentences):
            raise ValueError("Argument `sentences` must hold at least one token. "
                             f"Received: {len(sentences)} sentences, none with a token.")
        tokens = np.concatenate(sentences)
        if tokens.min() < 0 or tokens.max() >= self.vocabulary_size or not np.all(
                self.outcomes[tokens]):
            bad = tokens[(tokens < 0) | (tokens >= self.vocabulary_size)
                         | ~self.outcomes[np.clip(tokens, 0, self.vocabulary_size - 1)]]
            raise ValueError(f"Argument `sentences` holds unknown or excluded token ids; expected "
                             f"ids of outcomes in [0, {self.vocabulary_size}). Received: "
                             f"{sorted(set(bad.tolist()))[:5]}")
        n = self.order
        counts = [collections.Counter() for _ in range(n + 1)]  # counts[m]: m-grams
        for sentence in sentences:
            padded = [self.bos_id] * (n - 1) + sentence.tolist()
            for position in range(n - 1, len(padded)):
                for m in range(1, n + 1):
                    counts[m][tuple(padded[position - m + 1: position + 1])] += 1
        self.counts = counts
        # The table each order's estimate reads: raw counts, or for Kneser-Ney's lower orders the
        # continuation counts N1+(. g), the number of distinct words seen before g.
        tables = list(counts)
        if self.smoothing == "kneser_ney":
            for m in range(1, n):
                continuation = collections.Counter(gram[1:] for gram in counts[m + 1])
                tables[m] = continuation
        self.followers = [self._followers(tables[m]) if m else None for m in range(n + 1)]
        self.discounts = [None] + [self._order_discount(tables[m]) for m in range(1, n + 1)]
        self.absolute_discounts = [None] + [_absolute_discount(tables[m]) for m in range(1, n + 1)]
        self._cache = {}
        self._fitted = True
        return self

    @staticmethod
    def _followers(table):
        """context -> (ids of the words seen after it, their counts)."""
        grouped = collections.defaultdict(list)
        for gram, count in table.items():
            grouped[gram[:-1]].append((gram[-1], count))
        return {context: (np.array([w for w, _ in pairs]), np.array([c for _, c in pairs], float))
                for context, pairs in grouped.items()}

    def _order_discount(self, table):
        if self.smoothing == "kneser_ney":
            if self.discount is not None:
                return self.discount
            return _absolute_discount(table)
        if self.smoothing == "katz":
            return katz_discounts(table, self.discount)
        return None

    # -- probabilities ------------------------------------------------------------------------

    def distribution(self, context, order=None):
        """``P(. | context)`` over all ids, a vector summing to 1 (0 at excluded ids).

        ``context`` holds the previous ids (only the last ``n - 1`` are read; shorter contexts
        are padded with begin-of-sentence ids). ``order`` (default ``n``) reads the model's
        estimate of that lower order, e.g. ``order=1`` for Kneser-Ney's continuation unigram.
        """
        if not self._fitted:
            raise ValueError("The model is not fitted: call `fit(sentences)` first.")
        order = self.order if order is None else order
        context = tuple(int(i) for i in context)[-(order - 1):] if order > 1 else ()
        context = (self.bos_id,) * (order - 1 - len(context)) + context
        if (order, context) not in self._cache:
            self._cache[order, context] = self._distribution(context, order)
        return self._cache[order, context]

    def _distribution(self, context, order):
        uniform = self.outcomes / self.outcomes.sum()
        if self.smoothing == "add_k":
            words, counts = self.followers[order].get(context, ((), np.zeros(0)))
            result = self.k * uniform * self.outcomes.sum()
            result[list(words)] += counts
            return result / (counts.sum() + self.k * self.outcomes.sum())
        if self.smoothing == "ml":
            for m in range(order, 0, -1):  # the longest seen suffix of the context
                seen = self.followers[m].get(context[len(context) - m + 1:])
                if seen is not None:
                    result = np.zeros(self.vocabulary_size)
                    result[seen[0]] = seen[1] / seen[1].sum()
                    return result
            return uniform
        lower = uniform
        for m in range(1, order + 1):
            seen = self.followers[m].get(context[len(context) - m + 1:])
            if seen is None:
                continue  # an unseen context: its estimate is the shorter context's
            words, counts = seen
            total = counts.sum()
            if self.smoothing == "kneser_ney":
                discount = self.discounts[m]
                current = discount * len(words) / total * lower
                current[words] += np.maximum(counts - discount, 0.0) / total
            else:  # katz
                kept = _apply_discounts(counts, self.discounts[m]) / total
                if kept.sum() > 1.0 - 1e-9:  # every count above KATZ_MAX_COUNT: nothing reserved
                    kept = _apply_discounts(counts, self.absolute_discounts[m]) / total
                backoff_mass = 1.0 - lower[words].sum()
                current = lower * ((1.0 - kept.sum()) / backoff_mass if backoff_mass > 1e-12
                                   else 0.0)
                current[words] = kept if backoff_mass > 1e-12 else kept / kept.sum()
            lower = current
        return lower

    def probability(self, word, context, order=None):
        """``P(word | context)`` (of the estimate of ``order``, default ``n``)."""
        return float(self.distribution(context, order)[word])

    def token_log_probabilities(self, sentences):
        """Natural-log probability of every predicted token of ``sentences``, concatenated
        (``-inf`` where the model gives probability 0)."""
        logs = []
        for sentence in sentences:
            padded = [self.bos_id] * (self.order - 1) + [int(i) for i in sentence]
            for position in range(self.order - 1, len(padded)):
                context = padded[position - self.order + 1: position]
                with np.errstate(divide="ignore"):
                    logs.append(np.log(self.distribution(context)[padded[position]]))
        return np.array(logs)

    def perplexity(self, sentences):
        """``exp(-mean log P(token))`` over the predicted tokens (infinite if one has P = 0)."""
        return text_metrics.perplexity(self.token_log_probabilities(sentences))

    def sample(self, rng, eos_id=2, max_length=50):
        """A sentence drawn word by word from the model (ending with ``eos_id`` unless cut)."""
        sentence = []
        while len(sentence) < max_length:
            word = int(rng.choice(self.vocabulary_size,
                                  p=self.distribution([self.bos_id] * self.order + sentence)))
            sentence.append(word)
            if word == eos_id:
                break
        return sentence

    def num_parameters(self):
        """The number of stored n-gram counts (all orders)."""
        return int(sum(len(table) for table in self.counts[1:]))


def _count_of_counts(table, up_to):
    """``[n_0, n_1, ..., n_up_to]``: how many entries of ``table`` have each count."""
    histogram = collections.Counter(table.values())
    return [histogram.get(r, 0) for r in range(up_to + 1)]


def katz_discounts(table, discount=None, max_count=KATZ_MAX_COUNT):
    """Katz's discount ratios ``d_r`` (index ``r``) for the counts of one order.

    Good-Turing (``discount=None``): ``d_r = (r*/r - A) / (1 - A)`` with ``r* = (r + 1) n_{r+1} /
    n_r`` and ``A = (k + 1) n_{k+1} / n_1`` for ``r <= k`` (``k`` = ``max_count``, lowered until
    every ``d_r`` is in ``(0, 1]``), 1 above. Where no such ``k`` exists (tiny corpora), or with
    ``discount=D``: absolute discounting ``d_r = (r - D) / r`` for every ``r``, ``D`` defaulting
    to ``n1 / (n1 + 2 n2)``. Returns a function of the count array.
    """
    n = _count_of_counts(table, max_count + 1)
    if discount is None:
        for k in range(max_count, 0, -1):
            if n[1] == 0 or n[k + 1] == 0 or any(n[r] == 0 or n[r + 1] == 0
                                                   for r in range(1, k + 1)):
                continue
            a = (k + 1) * n[k + 1] / n[1]
            ratios = [((r + 1) * n[r + 1] / (r * n[r]) - a) / (1 - a) for r in range(1, k + 1)]
            if a < 1 and all(0 < ratio <= 1 for ratio in ratios):
                return np.array([1.0] + ratios)  # index r; counts above k keep ratio 1
        discount = _absolute_discount(table)
    return float(discount)


def _absolute_discount(table):
    """Ney's estimate ``D = n1 / (n1 + 2 n2)`` (0.5 without singletons)."""
    n1, n2 = _count_of_counts(table, 2)[1:]
    return n1 / (n1 + 2 * n2) if n1 > 0 else 0.5


def _apply_discounts(counts, discounts):
    """``d_c * c`` for every count ``c``: a table of ratios (Good-Turing) or an absolute ``D``."""
    if isinstance(discounts, float):
        return counts - discounts
    ratios = np.ones_like(counts)
    small = counts < len(discounts)
    ratios[small] = discounts[counts[small].astype(int)]
    return counts * ratios
