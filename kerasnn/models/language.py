"""Neural language models and word2vec, as builders of ``keras.Model``s over token ids.

Course notes, "Neural Net Language Model" ("Input Layer", "Projection Layer", "Hidden Layer",
"Output Layer"), "Word2Vec", "Skip-gram architecture" and "Embedding and Softmax". Every model
outputs scores (logits) or log-probabilities; the softmax lives in the loss.
"""

import keras
from keras import layers, ops

from kerasnn import arguments
from kerasnn.layers import HierarchicalSoftmax, LSTMCell

WORD2VEC_ARCHITECTURES = ("skipgram", "cbow")
WORD2VEC_OUTPUTS = ("softmax", "hierarchical", "negative")


def nnlm(vocabulary_size, context_size, embedding_dim=30, hidden_units=64, *,
         direct_connections=False, name="nnlm"):
    """Bengio's neural network language model (notes, "Output Layer")::

        y = b + U tanh(d + H x)   [+ W x with direct connections]
        P(w_t = i | w_{t-n+1} .. w_{t-1}) = softmax(y)_i

    ``x`` is the concatenation of the ``n - 1`` context embeddings ``C(w)`` (the lookup table of
    "Input Layer", shared by every position), ``H`` is ``h x (n-1) m``, ``d`` has ``h`` entries,
    ``U`` is ``|V| x h`` and ``b`` has ``|V|``. The paper's direct connections ``W`` (``|V| x
    (n-1) m``, from the embeddings straight to the output) are off by default. Parameters:
    ``|V| m + (n-1) m h + h + h |V| + |V|`` (``+ (n-1) m |V|`` with direct connections).

    Args:
        vocabulary_size: ``|V|``.
        context_size: ``n - 1``, the previous words read.
        embedding_dim: ``m``.
        hidden_units: ``h``.
        direct_connections: add ``W x``.

    Returns:
        A model from ``(batch, n - 1)`` int ids to ``(batch, |V|)`` scores ``y`` (logits).
    """
    arguments.positive_int("vocabulary_size", vocabulary_size)
    arguments.positive_int("context_size", context_size)
    arguments.positive_int("embedding_dim", embedding_dim)
    arguments.positive_int("hidden_units", hidden_units)
    context = keras.Input((context_size,), dtype="int32", name="context")
    embedded = layers.Embedding(vocabulary_size, embedding_dim, name="embedding")(context)  # C
    x = layers.Flatten(name="concatenation")(embedded)
    hidden = layers.Dense(hidden_units, activation="tanh", name="hidden")(x)  # tanh(d + Hx)
    scores = layers.Dense(vocabulary_size, name="output")(hidden)  # b + U .
    if direct_connections:
        direct = layers.Dense(vocabulary_size, use_bias=False, name="direct")(x)  # W x
        scores = layers.Add(name="scores")([scores, direct])
    return keras.Model(context, scores, name=name)


def rnn_language_model(vocabulary_size, embedding_dim=32, units=128, *, name="rnn_lm"):
    """The recurrent language model of the notes' "Projection Layer" and "Hidden Layer": word
    embeddings, an LSTM (our ``kerasnn.layers.LSTMCell``) whose state carries the whole history,
    and a projection of each hidden state to the vocabulary.

    Returns:
        A model from ``(batch, time)`` int ids (0 is padding, masked) to ``(batch, time, |V|)``
        scores of the next word at every step.
    """
    arguments.positive_int("vocabulary_size", vocabulary_size)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    embedded = layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True,
                                name="embedding")(tokens)
    hidden = layers.RNN(LSTMCell(units), return_sequences=True, name="lstm")(embedded)
    scores = layers.Dense(vocabulary_size, name="projection")(hidden)
    return keras.Model(tokens, scores, name=name)


def word2vec(vocabulary_size, embedding_dim=50, *, architecture="skipgram", output="softmax",
             window=2, word_counts=None, num_negatives=5, name=None):
    """word2vec (notes, "Word2Vec", "Skip-gram architecture"): no hidden layer, one shared
    projection (the ``embedding`` layer, whose rows are the word vectors), and an output over
    the vocabulary.

    Architectures: ``"skipgram"`` reads the centre word and predicts one context word;
    ``"cbow"`` reads the mean of the ``2 * window`` context embeddings (padding id 0 masked) and
    predicts the centre word. Outputs:

    - ``"softmax"``: the full softmax, scores ``u_w . v`` for every word (``|V|`` per example);
    - ``"hierarchical"``: ``kerasnn.layers.HierarchicalSoftmax`` over the Huffman tree of
      ``word_counts``; the model also takes the target and outputs ``log P(target)``, trained
      with ``kerasnn.losses.NegativeLogLikelihood`` (``log2 |V|`` dot products per example);
    - ``"negative"``: negative sampling (an extension beyond the notes): the model takes the
      true context and ``num_negatives`` sampled words and outputs ``u_c . v`` for each, trained
      as ``1 + K`` logistic regressions (binary cross-entropy on logits).

    Returns:
        A ``keras.Model``; inputs ``centre`` (skip-gram, ``(batch,)``) or ``context`` (CBOW,
        ``(batch, 2 * window)``), plus ``target`` (hierarchical) or ``candidates``
        (``(batch, 1 + K)``, negative sampling).
    """
    arguments.positive_int("vocabulary_size", vocabulary_size)
    arguments.positive_int("embedding_dim", embedding_dim)
    arguments.one_of("architecture", architecture, WORD2VEC_ARCHITECTURES)
    arguments.one_of("output", output, WORD2VEC_OUTPUTS)
    if output == "hierarchical" and word_counts is None:
        arguments.fail("word_counts", "one count per word for the hierarchical softmax",
                       word_counts)
    embedding = layers.Embedding(vocabulary_size, embedding_dim, name="embedding",
                                 mask_zero=architecture == "cbow")
    if architecture == "skipgram":
        source = keras.Input((), dtype="int32", name="centre")
        projected = embedding(source)
    else:
        window = arguments.positive_int("window", window)
        source = keras.Input((2 * window,), dtype="int32", name="context")
        projected = layers.GlobalAveragePooling1D(name="context_mean")(embedding(source))
    name = name or f"{architecture}_{output}"
    if output == "softmax":
        scores = layers.Dense(vocabulary_size, use_bias=False, name="output")(projected)
        return keras.Model(source, scores, name=name)
    if output == "hierarchical":
        target = keras.Input((), dtype="int32", name="target")
        log_probability = HierarchicalSoftmax(word_counts, use_bias=False,
                                              name="hierarchical_softmax")(projected,
                                                                           targets=target)
        return keras.Model([source, target], log_probability, name=name)
    arguments.positive_int("num_negatives", num_negatives)
    candidates = keras.Input((1 + num_negatives,), dtype="int32", name="candidates")
    output_vectors = layers.Embedding(vocabulary_size, embedding_dim, name="output")(candidates)
    scores = layers.Dot(axes=(2, 1), name="scores")([output_vectors, projected])
    return keras.Model([source, candidates], scores, name=name)


def word_vectors(model):
    """The learned word vectors: the ``embedding`` layer's table, ``(|V|, m)`` NumPy."""
    return ops.convert_to_numpy(model.get_layer("embedding").embeddings)
