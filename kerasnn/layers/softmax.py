"""The hierarchical softmax: a distribution over a vocabulary as a walk down a binary tree.

Course notes, "Embedding and Softmax" (large models replace the softmax with "a binary tree-like
structure that reduce[s] the computational cost of computing the normalization constant") and
"Word2Vec" (the ``log |V|`` term of word2vec's complexity ``n x m + m x log |V|``).
"""

import heapq

import keras
import numpy as np
from keras import ops

from kerasnn import arguments


def huffman_codes(word_counts):
    """The Huffman tree of ``word_counts``: each word's path of internal nodes and turns.

    Frequent words get short paths (Mikolov et al. 2013 use this tree for word2vec). Ties are
    broken by word id, so the tree is a function of the counts.

    Args:
        word_counts: one non-negative count per word (at least two words).

    Returns:
        ``(path_nodes, path_signs)``, both ``(vocabulary, depth)``: the internal nodes
        (``0 .. vocabulary - 2``, the root is the last) from the root down to each word, and
        ``+1`` for a left turn, ``-1`` for a right turn, ``0`` past the end of a shorter path.
    """
    counts = [float(count) for count in word_counts]
    size = len(counts)
    heap = [(count, index, index) for index, count in enumerate(counts)]  # (count, order, node)
    heapq.heapify(heap)
    parent, turn, next_node = {}, {}, size
    while len(heap) > 1:
        left_count, _, left = heapq.heappop(heap)
        right_count, _, right = heapq.heappop(heap)
        parent[left], turn[left] = next_node, 1.0
        parent[right], turn[right] = next_node, -1.0
        heapq.heappush(heap, (left_count + right_count, next_node, next_node))
        next_node += 1
    paths = []
    for word in range(size):
        nodes, signs, node = [], [], word
        while node in parent:
            nodes.append(parent[node] - size)
            signs.append(turn[node])
            node = parent[node]
        paths.append((nodes[::-1], signs[::-1]))
    depth = max(len(nodes) for nodes, _ in paths)
    path_nodes = np.zeros((size, depth), dtype="int32")
    path_signs = np.zeros((size, depth), dtype="float32")
    for word, (nodes, signs) in enumerate(paths):
        path_nodes[word, : len(nodes)] = nodes
        path_signs[word, : len(signs)] = signs
    return path_nodes, path_signs


@keras.saving.register_keras_serializable(package="kerasnn")
class HierarchicalSoftmax(keras.layers.Layer):
    """A softmax over a vocabulary computed down a binary (Huffman) tree.

    Course notes, "Embedding and Softmax" and "Word2Vec". Every internal node ``n`` of the tree
    has a vector ``v_n`` (a column of ``kernel``) and a bias ``b_n``; from a hidden vector ``h``
    the walk turns left with ``sigmoid(h . v_n + b_n)`` and right with ``sigmoid(-(h . v_n +
    b_n))``, so the probability of a word is the product along its path::

        P(w | h) = prod_{n on path(w)} sigmoid(sign_n(w) * (h . v_n + b_n))

    The two turns at each node sum to 1, hence the leaves' probabilities sum to exactly 1 (no
    normalization constant), and scoring one word costs ``depth ~ log2 |V|`` dot products instead
    of ``|V|``. With two words the tree has one node and ``P = softmax`` of the two scores
    ``+-(h . v + b) / 2``: the full softmax. The tree is Huffman's over ``word_counts``.

    Args:
        word_counts: one non-negative count per word of the vocabulary (at least two).
        use_bias: whether the nodes have biases.
        kernel_initializer, bias_initializer: initializers.

    Call arguments:
        inputs: ``(batch, dim)`` hidden vectors ``h``.
        targets: optional ``(batch,)`` word ids. Given, the layer returns ``log P(target | h)``
            only (``depth`` dot products per example: what training needs).

    Returns:
        ``(batch, vocabulary)`` probabilities summing to 1, or ``(batch,)`` log-probabilities of
        the targets.

    Example:

    >>> layer = HierarchicalSoftmax(word_counts=[5, 3, 1, 1])
    >>> probabilities = layer(np.random.rand(2, 8).astype("float32"))
    >>> np.allclose(ops.sum(probabilities, axis=-1), 1.0)
    True
    """

    def __init__(self, word_counts, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        try:
            counts = [float(count) for count in word_counts]
        except (TypeError, ValueError):
            arguments.fail("word_counts", "a sequence of non-negative counts", word_counts)
        if len(counts) < 2 or min(counts) < 0:
            arguments.fail("word_counts", "at least two non-negative counts", word_counts)
        self.word_counts = counts
        self.vocabulary_size = len(counts)
        self.use_bias = arguments.boolean("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.path_nodes, self.path_signs = huffman_codes(counts)

    def build(self, inputs_shape, targets_shape=None):
        if len(inputs_shape) != 2 or inputs_shape[-1] is None:
            raise ValueError(f"HierarchicalSoftmax expects inputs of shape (batch, dim) with a "
                             f"known dim. Received: inputs_shape={tuple(inputs_shape)}")
        self.kernel = self.add_weight(shape=(inputs_shape[-1], self.vocabulary_size - 1),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight(shape=(self.vocabulary_size - 1,), name="bias",
                                     initializer=self.bias_initializer)
                     if self.use_bias else None)

    def _node_log_sigmoids(self, logits, signs):
        # log sigmoid(sign * logit), 0 past the end of the path (sign 0)
        signs = ops.cast(signs, logits.dtype)
        return ops.sum(ops.log_sigmoid(signs * logits) * ops.abs(signs), axis=-1)

    def call(self, inputs, targets=None):
        if targets is None:
            logits = ops.matmul(inputs, self.kernel)  # every node: (batch, |V| - 1)
            if self.use_bias:
                logits = logits + self.bias
            on_paths = ops.take(logits, self.path_nodes, axis=1)  # (batch, |V|, depth)
            return ops.exp(self._node_log_sigmoids(on_paths, self.path_signs[None]))
        targets = ops.cast(ops.reshape(targets, (-1,)), "int32")
        nodes = ops.take(ops.convert_to_tensor(self.path_nodes), targets, axis=0)  # (b, depth)
        signs = ops.take(ops.convert_to_tensor(self.path_signs), targets, axis=0)
        vectors = ops.take(ops.transpose(self.kernel), nodes, axis=0)  # (b, depth, dim)
        logits = ops.einsum("bd,bkd->bk", inputs, ops.cast(vectors, inputs.dtype))
        if self.use_bias:
            logits = logits + ops.cast(ops.take(self.bias, nodes, axis=0), inputs.dtype)
        return self._node_log_sigmoids(logits, signs)

    def compute_output_shape(self, inputs_shape, targets_shape=None):
        if targets_shape is not None:
            return (inputs_shape[0],)
        return (inputs_shape[0], self.vocabulary_size)

    def get_config(self):
        config = super().get_config()
        config.update({
            "word_counts": self.word_counts,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config
