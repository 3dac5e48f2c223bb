"""The NTM's addressing stages against NumPy, the whole cell against a NumPy step, the harness."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import memory
from kerasnn.layers.memory import NTMCell

# Tensors of any backend to NumPy (np.asarray fails on torch tensors that require grad).
_to_numpy = keras.ops.convert_to_numpy

RNG = np.random.default_rng(0)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _softplus(x):
    return np.log1p(np.exp(x))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_address(memory_, previous, key, beta, g, s, gamma):
    cos = memory_ @ key / (np.linalg.norm(memory_, axis=-1) * np.linalg.norm(key) + 1e-8)
    w = g * _softmax(beta * cos) + (1 - g) * previous
    n = len(w)
    radius = len(s) // 2
    # Offset o in -S..S moves weight from row j to row (j + o) mod N.
    direct = np.zeros(n)
    for j in range(n):
        for k, offset in enumerate(range(-radius, radius + 1)):
            direct[(j + offset) % n] += w[j] * s[k]
    powered = (direct + 1e-8) ** gamma
    return powered / powered.sum()


def test_each_addressing_stage_against_numpy():
    batch, n, m = 3, 7, 4
    mem = RNG.normal(size=(batch, n, m)).astype("float32")
    key = RNG.normal(size=(batch, m)).astype("float32")
    beta = np.array([[0.5], [2.0], [10.0]], "float32")
    previous = _softmax(RNG.normal(size=(batch, n))).astype("float32")
    g = np.array([[0.0], [0.3], [1.0]], "float32")
    s = _softmax(RNG.normal(size=(batch, 3))).astype("float32")
    gamma = np.array([[1.0], [2.5], [4.0]], "float32")
    got = keras.ops.convert_to_numpy(memory.address(mem, previous, key, beta, g, s, gamma))
    for b in range(batch):
        expected = np_address(mem[b], previous[b], key[b], beta[b, 0], g[b, 0], s[b], gamma[b, 0])
        np.testing.assert_allclose(got[b], expected, rtol=1e-4, atol=1e-6)
    # A pure shift by +1 moves a one-hot weighting one row down, circularly.
    one_hot = np.eye(n, dtype="float32")[[n - 1]]
    moved = memory.circular_shift(one_hot, np.array([[0.0, 0.0, 1.0]], "float32"))
    np.testing.assert_allclose(_to_numpy(moved), np.eye(n)[[0]], atol=1e-7)


def test_read_and_write_against_numpy_and_the_notes_convex_write():
    mem = RNG.normal(size=(2, 5, 3)).astype("float32")
    w = _softmax(RNG.normal(size=(2, 5))).astype("float32")
    erase = _sigmoid(RNG.normal(size=(2, 3))).astype("float32")
    add = RNG.normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(_to_numpy(memory.read(mem, w)), np.einsum("bn,bnm->bm", w, mem),
                               rtol=1e-5)
    expected = mem * (1 - w[:, :, None] * erase[:, None, :]) + w[:, :, None] * add[:, None, :]
    np.testing.assert_allclose(_to_numpy(memory.write(mem, w, erase, add)), expected, rtol=1e-5,
                               atol=1e-6)
    # e = 1: each row becomes the convex combination (1 - w_i) M_i + w_i a of the notes.
    convex = (1 - w[:, :, None]) * mem + w[:, :, None] * add[:, None, :]
    np.testing.assert_allclose(_to_numpy(memory.write(mem, w, np.ones((2, 3), "float32"), add)),
                               convex, rtol=1e-5, atol=1e-6)


def test_cell_step_against_numpy():
    cell = NTMCell(3, memory_size=6, memory_width=4, controller_units=5)
    x = RNG.normal(size=(2, 2)).astype("float32")
    cell.build((None, 2))
    states = [keras.ops.convert_to_numpy(s) for s in cell.get_initial_state(2)]
    states[2] = RNG.normal(size=(2, 24)).astype("float32")  # a non-trivial memory
    states[3] = RNG.normal(size=(2, 4)).astype("float32")
    output, new_states = cell(x, states)
    h, c = cell.controller(np.concatenate([x, states[3]], -1), states[:2])[1]
    h = keras.ops.convert_to_numpy(h)
    mem = states[2].reshape(2, 6, 4)

    def head(name, previous):
        kernel, bias = cell.heads[name].get_weights()
        p = h @ kernel + bias
        k, beta, g, s, gamma = p[:, :4], p[:, 4:5], p[:, 5:6], p[:, 6:9], p[:, 9:10]
        weights = np.stack([np_address(mem_b, prev, k_b, _softplus(b_)[0], _sigmoid(g_)[0],
                                       _softmax(s_), 1 + _softplus(gm)[0])
                            for mem_b, prev, k_b, b_, g_, s_, gm in
                            zip(mem_current[0], previous, k, beta, g, s, gamma)])
        return weights, p

    mem_current = [mem]
    write_w, p = head("write", states[5])
    erase, add = _sigmoid(p[:, 10:14]), np.tanh(p[:, 14:18])
    mem = mem * (1 - write_w[:, :, None] * erase[:, None]) + write_w[:, :, None] * add[:, None]
    mem_current[0] = mem
    read_w, _ = head("read", states[4])
    r = np.einsum("bn,bnm->bm", read_w, mem)
    kernel, bias = cell.output_layer.get_weights()
    np.testing.assert_allclose(_to_numpy(output), np.concatenate([h, r], -1) @ kernel + bias,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_to_numpy(new_states[2]), mem.reshape(2, -1), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(_to_numpy(new_states[4]), read_w, rtol=1e-4, atol=1e-6)


@keras.saving.register_keras_serializable(package="kerasnn_tests")
class NTMSequence(keras.layers.RNN):
    """``keras.layers.RNN(NTMCell(...))`` configured by the cell's arguments, for the harness."""

    def __init__(self, units, memory_size=6, memory_width=4, return_sequences=True, **kwargs):
        super().__init__(NTMCell(units, memory_size=memory_size, memory_width=memory_width,
                                 controller_units=8), return_sequences=return_sequences, **kwargs)
        self.units, self.memory_size, self.memory_width = units, memory_size, memory_width

    def get_config(self):
        config = super().get_config()
        config.pop("cell")
        return {**config, "units": self.units, "memory_size": self.memory_size,
                "memory_width": self.memory_width}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_ntm_cell_passes_the_harness():
    run_layer_test(NTMSequence, init_kwargs={"units": 3},
                   input_data=RNG.normal(size=(2, 5, 4)).astype("float32"),
                   expected_output_shape=(None, 5, 3), run_mixed_precision=False)


@pytest.mark.parametrize("kwargs, message", [
    (dict(memory_size=0), "`memory_size` must be a positive integer. Received: memory_size=0"),
    (dict(memory_size=4, shift_range=2), "`shift_range` must be at most"),
    (dict(gamma=0.5), "`gamma` must be None \\(learned\\) or a number >= 1. Received: gamma=0.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NTMCell(2, **kwargs)
