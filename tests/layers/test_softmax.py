"""kerasnn.layers.HierarchicalSoftmax: exactly normalized, the full softmax for two words."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers import HierarchicalSoftmax
from kerasnn.layers.softmax import huffman_codes

COUNTS = [40, 20, 10, 10, 5, 3, 1, 1]


def test_huffman_codes_by_hand():
    nodes, signs = huffman_codes([5, 1, 1, 2])
    # merges: (1: word 1, word 2) -> node 0 (count 2); (2: word 3, node 0) -> node 1 (count 4);
    # (4: node 1, word 0 count 5) -> root node 2. Word 0 is one right turn from the root.
    assert signs[0].tolist() == [-1, 0, 0] and nodes[0, 0] == 2
    assert nodes[1].tolist() == [2, 1, 0] and signs[1].tolist() == [1, -1, 1]
    assert nodes[2].tolist() == [2, 1, 0] and signs[2].tolist() == [1, -1, -1]
    assert nodes[3].tolist() == [2, 1, 0] and signs[3].tolist() == [1, 1, 0]


def test_probabilities_sum_to_one_and_match_a_numpy_walk():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(5, 6)).astype("float32")
    outputs = run_layer_test(
        HierarchicalSoftmax,
        init_kwargs={"word_counts": COUNTS},
        input_data=inputs,
        expected_output_shape=(None, len(COUNTS)),
    )
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, atol=1e-6)
    layer = HierarchicalSoftmax(COUNTS)
    probabilities = keras.ops.convert_to_numpy(layer(inputs))
    kernel, bias = layer.get_weights()
    bias = rng.normal(size=bias.shape).astype("float32")
    layer.set_weights([kernel, bias])
    probabilities = keras.ops.convert_to_numpy(layer(inputs))
    nodes, signs = huffman_codes(COUNTS)
    expected = np.ones((5, len(COUNTS)))
    for word in range(len(COUNTS)):
        for node, sign in zip(nodes[word], signs[word], strict=True):
            if sign:
                logit = inputs @ kernel[:, node] + bias[node]
                expected[:, word] *= 1 / (1 + np.exp(-sign * logit))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    # Frequent words have short paths: the Huffman property.
    depths = (signs != 0).sum(axis=1)
    assert depths[0] <= depths[-1]


def test_target_log_probabilities_equal_the_full_output():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(4, 3)).astype("float32")
    targets = np.array([0, 7, 3, 3])
    layer = HierarchicalSoftmax(COUNTS)
    full = keras.ops.convert_to_numpy(layer(inputs))
    picked = keras.ops.convert_to_numpy(layer(inputs, targets=targets))
    np.testing.assert_allclose(picked, np.log(full[np.arange(4), targets]), rtol=1e-5)
    assert layer.compute_output_shape((None, 3), (None,)) == (None,)


def test_two_words_equal_the_full_softmax():
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(6, 4)).astype("float32")
    output_vectors = rng.normal(size=(4, 2)).astype("float32")  # full softmax: u_0, u_1
    output_bias = rng.normal(size=2).astype("float32")
    full = keras.layers.Dense(2, activation="softmax")
    full.build((None, 4))
    full.set_weights([output_vectors, output_bias])
    layer = HierarchicalSoftmax([3, 7])
    layer.build((None, 4))
    _, signs = huffman_codes([3, 7])
    first = 0 if signs[0, 0] > 0 else 1  # the word reached by the left turn
    second = 1 - first
    layer.set_weights([output_vectors[:, [first]] - output_vectors[:, [second]],
                       output_bias[[first]] - output_bias[[second]]])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(inputs)), keras.ops.convert_to_numpy(full(inputs)),
        rtol=1e-5, atol=1e-6,
    )


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"Argument `word_counts` must be at least two "
                                         r"non-negative counts\. Received: word_counts=\[3\]"):
        HierarchicalSoftmax([3])
    with pytest.raises(ValueError, match="Argument `word_counts`"):
        HierarchicalSoftmax([3, -1])
    with pytest.raises(ValueError, match="expects inputs of shape"):
        HierarchicalSoftmax([1, 2])(np.zeros((2, 3, 4)))
