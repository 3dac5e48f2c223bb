"""Text utilities: decoding (greedy and beam search)."""

from kerasnn.text.decoding import beam_search, greedy_search
"""Text utilities over fixed vocabularies: n-gram language models and word2vec training pairs.

- ``ngram``: ``NGramModel`` (maximum likelihood, add-k, Katz back-off, interpolated Kneser-Ney);
- ``pairs``: skip-gram and CBOW examples and negative samples as ``tf.data`` pipelines;
- ``sequences``: ``<context, target>`` windows (NNLM) and shifted sequences (RNN LM).
"""

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
    "cbow_examples",
    "context_windows",
    "shifted_sequences",
    "katz_discounts",
    "negative_samples",
    "sentences_dataset",
    "skipgram_pairs",
    "unigram_counts",
]
