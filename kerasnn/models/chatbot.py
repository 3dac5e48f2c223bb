"""Chatbot encoders: a dual encoder for retrieval and a hierarchical encoder of a dialogue.

Course notes, "Chatbots". A retrieval chatbot needs an encoder of questions whose vectors are
near those of their answers: ``dual_encoder`` learns one, a question tower and an answer tower
trained with in-batch negatives (``kerasnn.losses.InBatchNegatives``: each question must pick its
own answer among the batch's). A multi-turn chatbot needs a view of the history: the notes'
concatenation of the last turns is ``kerasnn.text.retrieval.multi_turn_context``;
``hierarchical_encoder`` is the hierarchical alternative, an utterance encoder applied to every
turn, then a context encoder over the utterance vectors. That is what the notes' "hierarchical
generative model" paragraph is after; their text goes on to describe a hierarchical VAE of
images instead, which is not what a dialogue model uses.
"""

import keras
from keras import ops

from kerasnn import arguments, losses
from kerasnn.layers.recurrent import LSTMCell


def _tower(vocabulary_size, embedding_dim, units, name):
    """Tokens ``(batch, words)`` -> ``(batch, units)``: the mean of the word embeddings (padding
    excluded), then a linear projection."""
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True)(tokens)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, keras.layers.Dense(units, name="projection")(x), name=name)


@keras.saving.register_keras_serializable(package="kerasnn")
def in_batch_accuracy(y_true, y_pred):
    """The fraction of a batch's questions whose own answer is the most similar (cosine) of the
    batch's answers: a dual encoder's in-batch recall@1, whatever the loss' temperature (what a
    search over temperatures compares). ``y_pred`` is ``[question, answer]`` vectors side by
    side, as for ``InBatchNegatives``; ``y_true`` is ignored. A tie goes to the first answer."""
    del y_true
    half = ops.shape(y_pred)[-1] // 2
    questions = ops.normalize(y_pred[:, :half], axis=-1)
    answers = ops.normalize(y_pred[:, half:], axis=-1)
    best = ops.argmax(ops.matmul(questions, ops.transpose(answers)), axis=-1)
    return ops.mean(ops.cast(ops.equal(best, ops.arange(ops.shape(best)[0])), "float32"))


def dual_encoder(vocabulary_size, *, embedding_dim=64, units=64, temperature=0.1,
                 learning_rate=3e-3, question_encoder=None):
    """A question tower and an answer tower trained so that a question is nearest its answer.

    Returns:
        ``(model, question_encoder, answer_encoder)``: ``model`` maps ``[questions, answers]``
        (token ids, 0 is padding) to the two towers' vectors side by side and is compiled with
        ``InBatchNegatives(temperature)`` and the metric ``in_batch_accuracy``; fit it on
        shuffled aligned pairs with any ``y`` of the batch size. The encoders map tokens to
        ``(batch, units)`` vectors; similarity is their cosine.

    ``question_encoder``: a model of the question side other than the default tower (e.g. a
    ``hierarchical_encoder`` of the dialogue's turns) with ``units`` outputs; ``model`` then
    takes its input shape for the questions.
    """
    arguments.positive_int("vocabulary_size", vocabulary_size)
    arguments.positive_int("embedding_dim", embedding_dim)
    arguments.positive_int("units", units)
    if question_encoder is None:
        question_encoder = _tower(vocabulary_size, embedding_dim, units, "question_encoder")
    answer_encoder = _tower(vocabulary_size, embedding_dim, units, "answer_encoder")
    questions = keras.Input(question_encoder.input_shape[1:], dtype="int32", name="questions")
    answers = keras.Input((None,), dtype="int32", name="answers")
    pair = keras.layers.Concatenate(name="towers")(
        [question_encoder(questions), answer_encoder(answers)])
    model = keras.Model([questions, answers], pair, name="dual_encoder")
    model.compile(keras.optimizers.Adam(learning_rate), losses.InBatchNegatives(temperature),
                  metrics=[in_batch_accuracy])
    return model, question_encoder, answer_encoder


def hierarchical_encoder(vocabulary_size, *, max_turns, max_words, embedding_dim=32, units=64,
                         name="hierarchical_encoder"):
    """Dialogue ``(batch, max_turns, max_words)`` token ids -> ``(batch, units)`` context vector.

    An LSTM utterance encoder reads every turn (the turns folded into the batch), an LSTM
    context encoder reads the ``max_turns`` utterance vectors in order. A turn of padding only
    is masked out of the context encoder: the history may hold fewer turns than ``max_turns``,
    wherever its empty slots are.
    """
    arguments.positive_int("vocabulary_size", vocabulary_size)
    max_turns = arguments.positive_int("max_turns", max_turns)
    max_words = arguments.positive_int("max_words", max_words)
    units = arguments.positive_int("units", units)
    dialogue = keras.Input((max_turns, max_words), dtype="int32", name="dialogue")
    words = keras.Input((max_words,), dtype="int32", name="utterance")
    embedded = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True)(words)
    utterance_encoder = keras.Model(
        words, keras.layers.RNN(LSTMCell(units), name="utterance_lstm")(embedded),
        name="utterance_encoder")
    utterances = ops.reshape(utterance_encoder(ops.reshape(dialogue, (-1, max_words))),
                             (-1, max_turns, units))
    turn_mask = ops.any(ops.not_equal(dialogue, 0), axis=-1)
    context = keras.layers.RNN(LSTMCell(units), name="context_lstm")(utterances, mask=turn_mask)
    return keras.Model(dialogue, context, name=name)
