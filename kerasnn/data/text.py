"""Text corpora as lists of token-id sentences, for n-gram models, language models and word2vec.

``load_corpora(name)`` returns the ``train``/``validation``/``test`` ``Corpus`` of:

- ``kerasnn_grammar/<config>`` (embedded): the ids and the vocabulary fixed by the dataset, with
  each sentence's exact log-probability (the oracle) and each word's category, number and lemma;
- ``tiny_shakespeare`` and ``lm1b`` (tfds catalogue, online only): lower-cased words split on
  white space (lines of Shakespeare, sentences of lm1b), the vocabulary the most frequent words of
  the training part plus ``<unk>``; no oracle.

Every sentence ends with ``</s>`` (id 2) and carries no ``<s>`` (id 1); id 0 is padding.
"""

import collections
import dataclasses

import numpy as np

from kerasnn.data import get_builder
from kerasnn.data.builders import grammar

PAD_ID, BOS_ID, EOS_ID, UNK_ID = grammar.PAD_ID, grammar.BOS_ID, grammar.EOS_ID, 3
SPECIAL = (grammar.PAD, grammar.BOS, grammar.EOS)

# Parts of the online corpora (lm1b has 30 million sentences: a slice is enough here).
PARTS = {"train": "train", "validation": "validation", "test": "test"}
ONLINE_SPLITS = {
    "tiny_shakespeare": PARTS,
    "lm1b": {"train": "train[:200000]", "validation": "test[:10000]", "test": "test[10000:20000]"},
}
ONLINE = ("tiny_shakespeare", "lm1b")


@dataclasses.dataclass
class Corpus:
    """Sentences of token ids (each ending with ``</s>``) and their vocabulary.

    Attributes:
        sentences: list of int32 arrays.
        vocabulary: tuple of words; ``vocabulary[id]``.
        log_probabilities: the exact natural-log probability of each sentence (``None`` for
            real text).
        word_info: ``{"pos", "category", "number", "lemma"}`` -> one entry per id (embedded
            grammar only, else empty).
    """

    sentences: list
    vocabulary: tuple
    log_probabilities: np.ndarray = None
    word_info: dict = dataclasses.field(default_factory=dict)

    @property
    def num_tokens(self):
        """The number of predicted tokens (words and ``</s>``)."""
        return int(sum(len(sentence) for sentence in self.sentences))

    def oracle_perplexity(self):
        """``exp(-sum log P(s) / number of predicted tokens)``: the grammar's own perplexity."""
        if self.log_probabilities is None:
            return None
        return float(np.exp(-np.sum(self.log_probabilities, dtype=np.float64) / self.num_tokens))

    def subset(self, count):
        """The first ``count`` sentences."""
        logs = None if self.log_probabilities is None else self.log_probabilities[:count]
        return Corpus(self.sentences[:count], self.vocabulary, logs, self.word_info)

    def text(self, sentence):
        """The words of a sentence of ids (without ``</s>`` and padding)."""
        return " ".join(self.vocabulary[i] for i in sentence if i > EOS_ID)


def load_corpora(name, *, data_dir=None, limit=None, max_vocabulary=10000):
    """``{"train", "validation", "test"}`` -> ``Corpus`` of ``name`` (see the module docstring).

    ``limit`` keeps the first sentences of each part (``--smoke`` runs). Raises
    ``data.UnknownDatasetError`` for other names and ``data.DatasetUnavailableError`` offline
    for the catalogue corpora.
    """
    base = name.split("/")[0]
    if base == "kerasnn_grammar":
        return {part: _grammar_corpus(name, split, data_dir, limit)
                for part, split in PARTS.items()}
    if base not in ONLINE:
        from kerasnn.data import UnknownDatasetError

        raise UnknownDatasetError(
            f"Unknown text corpus {name!r}; expected kerasnn_grammar/small, "
            f"kerasnn_grammar/large, {', '.join(ONLINE)}.")
    builder = get_builder(name, data_dir)  # offline: DatasetUnavailableError, within seconds
    lines = {part: _text_lines(builder, split, limit)
             for part, split in ONLINE_SPLITS[base].items()}
    counts = collections.Counter(word for line in lines["train"] for word in line)
    vocabulary = SPECIAL + ("<unk>",) + tuple(
        word for word, _ in counts.most_common(max_vocabulary - len(SPECIAL) - 1))
    ids = {word: index for index, word in enumerate(vocabulary)}
    return {part: Corpus([np.array([ids.get(word, UNK_ID) for word in line] + [EOS_ID],
                                   dtype=np.int32) for line in part_lines], vocabulary)
            for part, part_lines in lines.items()}


def _grammar_corpus(name, split, data_dir, limit):
    builder = get_builder(name, data_dir)
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if limit is not None:
        dataset = dataset.take(limit)
    sentences, logs = [], []
    for example in dataset.as_numpy_iterator():
        sentences.append(example["tokens"].astype(np.int32))
        logs.append(example["log_probability"])
    metadata = builder.info.metadata
    info = {key: tuple(metadata[key]) for key in ("pos", "category", "number", "lemma")}
    return Corpus(sentences, tuple(metadata["vocabulary"]), np.array(logs, np.float64), info)


def _text_lines(builder, split, limit):
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    lines = []
    for example in dataset.as_numpy_iterator():
        text = example["text"].decode("utf-8").lower()
        lines.extend(line.split() for line in text.split("\n") if line.strip())
        if limit is not None and len(lines) >= limit:
            return lines[:limit]
    return lines


def load_dialogues(name="kerasnn_dialogues", split="train", *, data_dir=None, limit=None):
    """The examples of a dialogue split (``kerasnn_dialogues``) as a list of dicts of Python
    values (texts as ``str``, lists of texts as lists), in order; ``limit`` keeps the first."""
    dataset = get_builder(name, data_dir).as_dataset(split=split, shuffle_files=False)
    if limit is not None:
        dataset = dataset.take(limit)
    return [{key: _python(value) for key, value in example.items()}
            for example in dataset.as_numpy_iterator()]


def _python(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return [_python(item) for item in value.tolist()]
    return value.item() if isinstance(value, np.generic) else value
