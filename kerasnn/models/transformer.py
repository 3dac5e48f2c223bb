"""The transformer trained end to end: encoder-decoder translation and a decoder-only LM.

Course sections "Transformers", "Scaled Dot-Product Attention", "Multi-Head Attention",
"Position-wise FFN", "Embedding and Softmax", "Positional Encoding". The notes give the parts
(token embedding, sinusoidal positional encoding added to it, encoder self-attention, masked
decoder self-attention, attention to the encoder, a softmax over the vocabulary). What they do not
give comes from the paper (Vaswani et al., 2017, "Attention Is All You Need"), not the notes:

- residual connections and layer normalization around every sublayer, post-norm
  ``LayerNorm(x + Dropout(Sublayer(x)))`` (in ``kerasnn.layers.TransformerEncoderBlock`` /
  ``TransformerDecoderBlock``);
- embeddings multiplied by ``sqrt(d_model)`` before the positional encoding is added, and
  dropout on their sum;
- the sizes' relations (``d_k = d_model / h``, ``d_ff`` a few times ``d_model``; the paper's base
  model is ``d_model=512, h=8, d_ff=2048, N=6``; the defaults here are far smaller for a
  character task on two CPU cores);
- the learning rate with warm-up, ``d_model^-0.5 min(step^-0.5, step warmup^-1.5)``
  (``WarmupSchedule``), with Adam(beta_1=0.9, beta_2=0.98, epsilon=1e-9).

Left out of the paper's recipe: label smoothing and the weight tying of the embeddings and the
pre-softmax projection. The positional encoding uses the notes' concatenated layout (all sines,
then all cosines), not the paper's interleaved one.

``Transformer.decode`` generates with a key/value cache (one decoder position per step, see
``TransformerDecoderBlock.step``) or, for comparison, by re-running the decoder on the whole
prefix at every step; greedy or beam search through ``kerasnn.text.decoding``.
"""

import math
import warnings

import keras
import numpy as np
from keras import ops

from kerasnn import arguments
from kerasnn.layers.transformer import (
    SinusoidalPositionalEncoding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    sinusoidal_encoding,
)
from kerasnn.text import decoding


@keras.saving.register_keras_serializable(package="kerasnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The paper's learning rate: a linear warm-up, then a decay with the inverse square root of
    the step::

        lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

    (step counted from 1). ``scale=1`` is the paper's formula; its peak, at ``warmup_steps``, is
    ``scale * (d_model * warmup_steps)^-0.5``.
    """

    def __init__(self, model_dim, warmup_steps=4000, scale=1.0):
        self.model_dim = arguments.positive_int("model_dim", model_dim)
        self.warmup_steps = arguments.positive_int("warmup_steps", warmup_steps)
        self.scale = float(scale)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        decay = ops.minimum(ops.rsqrt(step), step * self.warmup_steps**-1.5)
        return self.scale * self.model_dim**-0.5 * decay

    def get_config(self):
        return {"model_dim": self.model_dim, "warmup_steps": self.warmup_steps,
                "scale": self.scale}


def paper_optimizer(model_dim, warmup_steps=4000, scale=1.0):
    """Adam with the paper's betas, epsilon and warm-up schedule."""
    return keras.optimizers.Adam(WarmupSchedule(model_dim, warmup_steps, scale), beta_1=0.9,
                                 beta_2=0.98, epsilon=1e-9)


class _TokenEmbedding:
    """``Dropout(sqrt(d_model) E[token] + PE[position])``; without positional encoding the
    model sees its inputs as a bag of tokens (self-attention is permutation-equivariant)."""

    def __init__(self, vocabulary_size, model_dim, max_length, positional_encoding, dropout):
        self.model_dim = model_dim
        self.embedding = keras.layers.Embedding(vocabulary_size, model_dim, name="embedding")
        self.positions = (SinusoidalPositionalEncoding(max_length, name="positional_encoding")
                          if positional_encoding else None)
        self.table = sinusoidal_encoding(max_length, model_dim) if positional_encoding else None
        self.dropout = keras.layers.Dropout(dropout, name="embedding_dropout")

    def __call__(self, tokens, training=None):
        x = self.embedding(tokens) * math.sqrt(self.model_dim)
        if self.positions is not None:
            x = self.positions(x)
        return self.dropout(x, training=training)

    def at(self, tokens, position):
        """The embedding of ``(batch,)`` tokens at one ``position`` (inference, for a step)."""
        x = ops.take(self.embedding.embeddings, ops.convert_to_tensor(tokens, "int32"), axis=0)
        x = x * math.sqrt(self.model_dim)
        if self.table is not None:
            x = x + ops.take(self.table, position, axis=0)
        return ops.expand_dims(x, 1)


def _compile(step):
    """``step`` as one graph per shape family, so each decoding step costs its arithmetic rather
    than the Python dispatch of every op (which would hide the cache's saving). keras.ops has no
    function compiler outside ``Model``: with TensorFlow it is ``tf.function``; the cache and
    prefix grow by one position per step, so ``reduce_retracing`` traces once with that length
    unknown. Other backends run the step eagerly."""
    if keras.backend.backend() != "tensorflow":
        return step
    import tensorflow as tf

    return tf.function(step, reduce_retracing=True)


def _block_kwargs(num_heads, intermediate_dim, dropout):
    arguments.positive_int("num_heads", num_heads)
    arguments.positive_int("intermediate_dim", intermediate_dim)
    return dict(num_heads=num_heads, intermediate_dim=intermediate_dim,
                dropout=arguments.rate("dropout", dropout))


def _check_sizes(vocabulary_size, max_length, model_dim, num_layers):
    arguments.positive_int("vocabulary_size", vocabulary_size)
    arguments.positive_int("max_length", max_length)
    arguments.positive_int("model_dim", model_dim)
    arguments.positive_int("num_layers", num_layers)


class Transformer:
    """The encoder-decoder transformer: the Keras training model plus the pieces decoding reuses.

    Args:
        vocabulary_size: tokens of the (shared) source and target vocabulary; id 0 is padding.
        max_length: longest source or target sequence.
        model_dim: ``d_model``, the size of embeddings and of every block's output.
        num_heads: attention heads ``h`` (``d_k = d_model / h``).
        intermediate_dim: ``d_ff``, hidden size of the position-wise FFN.
        num_layers: ``N``, encoder blocks and decoder blocks (``N`` of each).
        dropout: ``P_drop`` on embeddings, attention weights, FFN hidden layer, sublayer outputs.
        positional_encoding: add the sinusoidal encoding (``False``: the ablation).

    Attributes:
        model: ``keras.Model`` ``[source, decoder_inputs] -> (batch, T, vocabulary)`` softmax
            posteriors; train it with teacher forcing on ``([source, shift_right(target)],
            target)`` and a loss that ignores padding (``ignore_class=0``).

    The source padding mask (``source != 0``) goes to the encoder's self-attention and to every
    decoder block's cross-attention; the decoder's self-attention is causal.
    """

    def __init__(self, vocabulary_size, *, max_length, model_dim=64, num_heads=4,
                 intermediate_dim=128, num_layers=2, dropout=0.1, positional_encoding=True,
                 name="transformer"):
        _check_sizes(vocabulary_size, max_length, model_dim, num_layers)
        block = _block_kwargs(num_heads, intermediate_dim, dropout)
        self.max_length = max_length
        self.embed = _TokenEmbedding(vocabulary_size, model_dim, max_length,
                                     positional_encoding, dropout)
        self.encoder_blocks = [TransformerEncoderBlock(**block, name=f"encoder_{i}")
                               for i in range(num_layers)]
        self.decoder_blocks = [TransformerDecoderBlock(**block, name=f"decoder_{i}")
                               for i in range(num_layers)]
        self.scores = keras.layers.Dense(vocabulary_size, name="scores")

        source = keras.Input((None,), dtype="int32", name="source")
        decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
        source_mask = ops.not_equal(source, 0)
        logits = self._decode(decoder_inputs, self._encode(source, source_mask), source_mask)
        posteriors = keras.layers.Activation("softmax", name="posteriors")(logits)
        self.model = keras.Model([source, decoder_inputs], posteriors, name=name)
        self._compiled_steps = {True: _compile(self._cached_step),
                                False: _compile(self._uncached_step)}

    def _encode(self, source, source_mask, training=None):
        x = self.embed(source, training=training)
        for block in self.encoder_blocks:
            x = block(x, mask=source_mask, training=training)
        return x

    def _decode(self, decoder_inputs, encoded, source_mask, training=None):
        """Logits at every decoder position (the whole decoder, re-run on the full prefix)."""
        x = self.embed(decoder_inputs, training=training)
        target_mask = ops.not_equal(decoder_inputs, 0)
        for block in self.decoder_blocks:
            x = block(x, encoded, decoder_sequence_mask=target_mask,
                      encoder_sequence_mask=source_mask, training=training)
        return self.scores(x)

    def logits(self, source, decoder_inputs):
        """Inference-mode logits ``(batch, T, vocabulary)`` of a teacher-forced pass."""
        source = ops.convert_to_tensor(np.asarray(source), "int32")
        source_mask = ops.not_equal(source, 0)
        return self._decode(ops.convert_to_tensor(np.asarray(decoder_inputs), "int32"),
                            self._encode(source, source_mask, False), source_mask, False)

    # ## Incremental decoding

    def _cached_step(self, tokens, state):
        """One new position through every decoder block, the key/value caches extended."""
        caches, encoder_caches, source_mask = state
        x = self.embed.at(tokens, ops.shape(caches[0][0])[2])
        new_caches = []
        for block, cache, encoder_cache in zip(self.decoder_blocks, caches, encoder_caches):
            x, cache, weights = block.step(x, cache, encoder_cache, source_mask,
                                           return_attention_scores=True)
            new_caches.append(cache)
        log_probs = ops.log_softmax(self.scores(x)[:, 0], axis=-1)
        return log_probs, (tuple(new_caches), encoder_caches, source_mask), weights[:, :, 0]

    def _uncached_step(self, tokens, state):
        """The decoder re-run on the whole prefix for the last position's scores (step t costs
        t positions: what the key/value cache avoids)."""
        prefix, encoded, source_mask = state
        prefix = ops.concatenate(
            [prefix, ops.expand_dims(ops.convert_to_tensor(tokens, "int32"), 1)], axis=1)
        logits = self._decode(prefix, encoded, source_mask, False)[:, -1]
        return ops.log_softmax(logits, axis=-1), (prefix, encoded, source_mask), None

    def start_state(self, source, cache=True):
        """The decoding state of ``source``: encoder output, source mask and (with ``cache``)
        every decoder block's empty key/value cache and precomputed cross-attention keys."""
        source = ops.convert_to_tensor(np.asarray(source), "int32")
        source_mask = ops.not_equal(source, 0)
        encoded = self._encode(source, source_mask, False)
        batch = source.shape[0]
        if not cache:
            return (ops.zeros((batch, 0), "int32"), encoded, source_mask)
        return (tuple(block.empty_cache(batch) for block in self.decoder_blocks),
                tuple(block.encoder_cache(encoded) for block in self.decoder_blocks),
                source_mask)

    def decode(self, source, *, start_id, end_id, max_length, beam_width=1, cache=True):
        """Translate ``source`` ``(N, S)`` by feeding back predictions.

        Returns:
            ``(tokens, attention)``: ``(N, max_length)`` tokens ending with ``end_id`` then
            padding, and (with ``cache``) the last decoder block's cross-attention weights
            ``(N, max_length, num_heads, S)``, ``None`` without the cache.
        """
        if max_length > self.max_length:
            raise ValueError(f"Argument `max_length` must be at most the model's max_length="
                             f"{self.max_length}. Received: max_length={max_length}")
        source = np.asarray(source, "int32")
        if source.shape[1] > self.max_length:
            raise ValueError(f"The source must be at most max_length={self.max_length} tokens "
                             f"long. Received: source.shape={source.shape}")
        step = self._compiled_steps[bool(cache)]
        search = decoding.greedy_search if beam_width == 1 else decoding.beam_search
        options = {} if beam_width == 1 else {"beam_width": beam_width}
        with warnings.catch_warnings():
            # The first step attends to one key: Keras warns about a softmax over a size-1 axis.
            warnings.filterwarnings("ignore", "You are using a softmax over axis")
            tokens, _, attention = search(step, self.start_state(source, cache), len(source),
                                          start_id=start_id, end_id=end_id,
                                          max_length=max_length, **options)
        return tokens, attention


def transformer_language_model(vocabulary_size, *, max_length, model_dim=64, num_heads=4,
                               intermediate_dim=128, num_layers=2, dropout=0.1,
                               positional_encoding=True, name="transformer_lm"):
    """A decoder-only transformer language model: ``tokens (batch, T) -> logits (batch, T, V)``.

    The decoder of a language model has no encoder to attend to, so each block is the encoder
    block with the causal mask (masked self-attention, FFN; no cross-attention): the logits at
    position t depend on tokens ``<= t`` only. Padding (id 0) is masked as keys. Train on
    ``text.shifted_sequences`` with a from-logits loss that ignores padding.
    """
    _check_sizes(vocabulary_size, max_length, model_dim, num_layers)
    block = _block_kwargs(num_heads, intermediate_dim, dropout)
    embed = _TokenEmbedding(vocabulary_size, model_dim, max_length, positional_encoding, dropout)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    mask = ops.not_equal(tokens, 0)
    x = embed(tokens)
    for i in range(num_layers):
        x = TransformerEncoderBlock(**block, name=f"block_{i}")(x, mask=mask,
                                                                use_causal_mask=True)
    return keras.Model(tokens, keras.layers.Dense(vocabulary_size, name="logits")(x), name=name)
