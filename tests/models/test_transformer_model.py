"""The transformer: causality, the source padding mask on cross-attention, the key/value cache
against full recomputation, beam 1 against greedy, the decoder-only LM and the warm-up."""

import keras
import numpy as np
import pytest

from kerasnn.layers import TransformerDecoderBlock
from kerasnn.models import transformer
from kerasnn.text import decoding

START, END, VOCABULARY = 1, 2, 13


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return transformer.Transformer(VOCABULARY, max_length=12, model_dim=16, num_heads=2,
                                   intermediate_dim=24, num_layers=2, dropout=0.1)


SOURCE = np.array([[4, 5, 6, 7, 8, 0, 0], [9, 3, 10, 0, 0, 0, 0]], "int32")  # padded


def test_changing_future_decoder_inputs_leaves_earlier_logits_identical(model):
    decoder_inputs = np.array([[START, 4, 5, 6, 7, 8], [START, 9, 3, 11, 12, 4]], "int32")
    logits = keras.ops.convert_to_numpy(model.logits(SOURCE, decoder_inputs))
    changed = decoder_inputs.copy()
    changed[:, 3:] = [[12, 11, 10], [5, 6, 7]]
    changed_logits = keras.ops.convert_to_numpy(model.logits(SOURCE, changed))
    np.testing.assert_array_equal(changed_logits[:, :3], logits[:, :3])
    assert np.abs(changed_logits[:, 3:] - logits[:, 3:]).max() > 1e-3  # the test can fail


def test_source_padding_never_reaches_cross_attention(model):
    decoder_inputs = np.array([[START, 4, 5], [START, 9, 3]], "int32")
    logits = keras.ops.convert_to_numpy(model.logits(SOURCE, decoder_inputs))
    longer = np.pad(SOURCE, [(0, 0), (0, 4)])  # four more padded positions
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.logits(longer, decoder_inputs)), logits, atol=1e-5)


def test_decoder_block_ignores_padded_encoder_positions_only_with_the_mask():
    keras.utils.set_random_seed(0)
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=8)
    rng = np.random.default_rng(0)
    target, encoded = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 5, 8))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], bool)
    changed = encoded.copy()
    changed[~mask] = rng.normal(size=((~mask).sum(), 8)) * 10
    outputs = [keras.ops.convert_to_numpy(block(target, e, encoder_sequence_mask=mask))
               for e in (encoded, changed)]
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)
    unmasked = [keras.ops.convert_to_numpy(block(target, e)) for e in (encoded, changed)]
    assert np.abs(unmasked[0] - unmasked[1]).max() > 1e-2


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
def test_cached_steps_equal_full_recomputation_token_for_token(model):
    cached_state, full_state = model.start_state(SOURCE), model.start_state(SOURCE, cache=False)
    tokens = np.full(len(SOURCE), START)
    for _ in range(8):
        cached, cached_state, weights = model._cached_step(tokens, cached_state)
        full, full_state, _ = model._uncached_step(tokens, full_state)
        cached, full = keras.ops.convert_to_numpy(cached), keras.ops.convert_to_numpy(full)
        np.testing.assert_allclose(cached, full, atol=1e-5)
        # cross-attention never looks at source padding
        padded = np.broadcast_to(SOURCE[:, None] == 0, weights.shape)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weights)[padded], 0.0)
        tokens = cached.argmax(-1)
    assert cached_state[0][0][0].shape[2] == 8  # the cache grew one position per step
    # and the teacher-forced pass on the generated prefix gives the same scores
    decoded, _ = model.decode(SOURCE, start_id=START, end_id=-1, max_length=8)
    inputs = np.concatenate([np.full((2, 1), START), decoded[:, :-1]], axis=1)
    teacher = keras.ops.convert_to_numpy(model.logits(SOURCE, inputs))
    np.testing.assert_array_equal(teacher.argmax(-1), decoded)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
def test_decode_with_and_without_cache_and_beam_one_agree(model):
    options = dict(start_id=START, end_id=END, max_length=10)
    greedy, attention = model.decode(SOURCE, **options)
    uncached, none = model.decode(SOURCE, cache=False, **options)
    np.testing.assert_array_equal(greedy, uncached)
    assert none is None and attention.shape == (2, 10, 2, SOURCE.shape[1])
    beam_one, _, _ = decoding.beam_search(model._cached_step, model.start_state(SOURCE), 2,
                                          beam_width=1, **options)
    np.testing.assert_array_equal(beam_one, greedy)
    beams = [model.decode(SOURCE, beam_width=3, cache=cache, **options)[0]
             for cache in (True, False)]
    np.testing.assert_array_equal(beams[0], beams[1])


def test_decode_refuses_lengths_beyond_the_model():
    model = transformer.Transformer(VOCABULARY, max_length=6, model_dim=8, num_heads=2,
                                    intermediate_dim=8, num_layers=1)
    with pytest.raises(ValueError, match=r"max_length=6. Received: max_length=7"):
        model.decode(SOURCE[:, :6], start_id=START, end_id=END, max_length=7)
    with pytest.raises(ValueError, match=r"source must be at most max_length=6"):
        model.decode(SOURCE, start_id=START, end_id=END, max_length=4)


def test_language_model_is_causal_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    lm = transformer.transformer_language_model(VOCABULARY, max_length=10, model_dim=16,
                                                num_heads=2, intermediate_dim=16, num_layers=2)
    tokens = np.array([[1, 4, 5, 6, 7, 8, 2]], "int32")
    changed = tokens.copy()
    changed[0, 4:] = [9, 10, 11]
    logits, changed_logits = lm.predict(tokens, verbose=0), lm.predict(changed, verbose=0)
    np.testing.assert_array_equal(changed_logits[:, :4], logits[:, :4])
    assert np.abs(changed_logits[:, 4:] - logits[:, 4:]).max() > 1e-3
    lm.save(tmp_path / "lm.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "lm.keras").predict(
        tokens, verbose=0), logits, atol=1e-6)


def test_without_positional_encoding_the_encoder_sees_a_bag_of_tokens():
    keras.utils.set_random_seed(0)
    bag = transformer.Transformer(VOCABULARY, max_length=8, model_dim=8, num_heads=2,
                                  intermediate_dim=8, num_layers=1, positional_encoding=False)
    decoder_inputs = np.array([[START, 4]], "int32")
    source = np.array([[4, 5, 6, 7]], "int32")
    permuted = source[:, ::-1]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bag.logits(source, decoder_inputs)),
                               keras.ops.convert_to_numpy(bag.logits(permuted, decoder_inputs)),
                               atol=1e-5)


def test_warmup_schedule_is_the_papers_formula():
    schedule = transformer.WarmupSchedule(model_dim=64, warmup_steps=100)
    for step in (0, 49, 99, 100, 1000):
        n = step + 1
        expected = 64**-0.5 * min(n**-0.5, n * 100**-1.5)
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5)
    assert transformer.WarmupSchedule.from_config(schedule.get_config()).warmup_steps == 100
    with pytest.raises(ValueError, match="`warmup_steps` must be a positive integer"):
        transformer.WarmupSchedule(64, warmup_steps=0)
