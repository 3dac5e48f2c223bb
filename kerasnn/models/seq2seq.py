"""Encoder-decoder (seq2seq) with teacher forcing and optional attention at every decoder step.

Course sections "Seq2Seq Learning", "Sequential Data Problems", "Attention Mechanism in Seq2Seq
Models". An LSTM encoder (our ``LSTMCell`` in ``keras.layers.RNN``) reads the source; an LSTM
decoder starts from its final state. Trained with **teacher forcing**: the decoder's input at step
t is the *reference* token t-1 (the target shifted right by the start token), so all steps train
in parallel. With attention, at every decoder step::

    e_ti = score(h_t, h̄_i)      Luong: h_t^T W h̄_i      Bahdanau: v^T tanh(W_1 h_t + W_2 h̄_i)
    a_ti = softmax_i(e_ti)       c_t = sum_i a_ti h̄_i      o_t = MLP([h_t; c_t])

(without attention ``o_t = MLP(h_t)``: the final encoder state is the only view of the source,
the fixed-length bottleneck the notes mention). The attention is computed on the decoder's
output ``h_t`` and not fed back into the next step, as the notes' formulas have it (Luong et al.'s
"input feeding" is left out).

``Seq2Seq.decode`` runs inference by feeding back the model's own predictions: greedy (the notes)
or beam search (an extension), both returning the attention weights.
"""

import keras
import numpy as np
from keras import ops

from kerasnn import arguments
from kerasnn.layers import BahdanauAttention, LSTMCell, LuongAttention
from kerasnn.text import decoding

ATTENTIONS = (None, "bahdanau", "luong")


def shift_right(targets, start_id):
    """Teacher forcing's decoder inputs: ``<start>`` then the reference tokens but the last.

    Example:
        >>> shift_right(np.array([[5, 6, 2]]), start_id=1).tolist()
        [[1, 5, 6]]
    """
    targets = np.asarray(targets)
    start = np.full((len(targets), 1), start_id, targets.dtype)
    return np.concatenate([start, targets[:, :-1]], axis=1)


class Seq2Seq:
    """A seq2seq model: the Keras training model plus the pieces inference reuses.

    Args:
        vocabulary_size: tokens of the (shared) source and target vocabulary; id 0 is padding.
        embedding_dim: size of the token embeddings.
        units: LSTM units of the encoder and decoder.
        attention: ``None``, ``"bahdanau"`` or ``"luong"``.
        attention_units: hidden size of Bahdanau's score MLP (default: ``units``).

    Attributes:
        model: ``keras.Model`` ``[source, decoder_inputs] -> (batch, T, vocabulary)`` softmax
            posteriors; compile and fit it on ``([source, shift_right(target)], target)``.
        attention_model: the same inputs to the ``(batch, T, S)`` attention weights (attention
            only).
    """

    def __init__(self, vocabulary_size, *, embedding_dim=32, units=64, attention="luong",
                 attention_units=None, name="seq2seq"):
        self.vocabulary_size = arguments.positive_int("vocabulary_size", vocabulary_size)
        arguments.positive_int("embedding_dim", embedding_dim)
        self.units = arguments.positive_int("units", units)
        self.attention = arguments.one_of("attention", attention, ATTENTIONS)
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True,
                                                name="embedding")
        self.encoder = keras.layers.RNN(LSTMCell(units), return_sequences=True, return_state=True,
                                        name="encoder")
        self.decoder = keras.layers.RNN(LSTMCell(units), return_sequences=True, return_state=True,
                                        name="decoder")
        self.attention_layer = {
            None: None,
            "bahdanau": lambda: BahdanauAttention(attention_units or units, name="attention"),
            "luong": lambda: LuongAttention(name="attention"),
        }[attention]
        self.attention_layer = self.attention_layer() if self.attention_layer else None
        self.hidden = keras.layers.Dense(units, activation="tanh", name="output_hidden")
        self.scores = keras.layers.Dense(vocabulary_size, name="output_scores")

        source = keras.Input((None,), dtype="int32", name="source")
        decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
        encoded, *state = self.encoder(self.embedding(source))
        decoded, _, _ = self.decoder(self.embedding(decoder_inputs), initial_state=state)
        logits, weights = self._output(decoded, encoded, ops.not_equal(source, 0))
        # The decoder's mask (padded targets) rides on the output: losses and metrics skip them.
        posteriors = keras.layers.Activation("softmax", name="posteriors")(logits)
        self.model = keras.Model([source, decoder_inputs], posteriors, name=name)
        self.attention_model = (keras.Model([source, decoder_inputs], weights)
                                if weights is not None else None)

    def _output(self, decoded, encoded, source_mask):
        """``o_t = MLP([h_t; c_t])`` (or ``MLP(h_t)``) logits, and the attention weights."""
        if self.attention_layer is None:
            return self.scores(self.hidden(decoded)), None
        context, weights = self.attention_layer(decoded, encoded, value_mask=source_mask,
                                                return_attention_weights=True)
        hidden = self.hidden(ops.concatenate([decoded, context], axis=-1))
        return self.scores(hidden), weights

    def _step(self, tokens, state):
        """One decoder step for ``kerasnn.text.decoding``: the notes' feedback of the last
        prediction."""
        h, c, encoded, source_mask = state
        x = ops.take(self.embedding.embeddings, ops.convert_to_tensor(tokens, "int32"), axis=0)
        output, (h, c) = self.decoder.cell(x, [h, c])
        logits, weights = self._output(output[:, None, :], encoded, source_mask)
        log_probs = ops.log_softmax(logits[:, 0, :], axis=-1)
        return log_probs, (h, c, encoded, source_mask), (
            None if weights is None else weights[:, 0, :])

    def decode(self, source, *, start_id, end_id, max_length, beam_width=1):
        """Translate ``source`` ``(N, S)`` by feeding back predictions.

        Returns:
            ``(tokens, attention)``: ``(N, max_length)`` tokens ending with ``end_id`` then
            padding, and ``(N, steps, S)`` attention weights (``None`` without attention).
        """
        source = np.asarray(source, "int32")
        encoded, h, c = self.encoder(self.embedding(source))
        state = (h, c, encoded, ops.not_equal(source, 0))
        search = decoding.greedy_search if beam_width == 1 else decoding.beam_search
        options = {} if beam_width == 1 else {"beam_width": beam_width}
        tokens, _, attention = search(self._step, state, len(source), start_id=start_id,
                                      end_id=end_id, max_length=max_length, **options)
        return tokens, attention
