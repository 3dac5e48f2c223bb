"""Text utilities over fixed vocabularies.

- ``ngram``: ``NGramModel`` (maximum likelihood, add-k, Katz back-off, interpolated Kneser-Ney);
- ``pairs``: skip-gram and CBOW examples and negative samples as ``tf.data`` pipelines;
- ``sequences``: ``<context, target>`` windows (NNLM) and shifted sequences (RNN LM);
- ``decoding``: greedy and beam search over any decoder step function.
"""

from kerasnn.text.decoding import beam_search, greedy_search
from kerasnn.text.ngram import SMOOTHINGS, NGramModel, katz_discounts
from kerasnn.text.pairs import (
    cbow_examples,
    negative_samples,
    sentences_dataset,
    skipgram_pairs,
    unigram_counts,
)
from kerasnn.text.sequences import context_windows, shifted_sequences

__all__ = [
    "SMOOTHINGS",
    "NGramModel",
    "beam_search",
    "cbow_examples",
    "context_windows",
    "greedy_search",
    "katz_discounts",
    "negative_samples",
    "sentences_dataset",
    "shifted_sequences",
    "skipgram_pairs",
    "unigram_counts",
]
