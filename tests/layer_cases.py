"""One small model per public layer of ``kerasnn.layers``, with fixed inputs and weights.

The cross-backend test (``test_cross_backend.py``) builds each case in a TensorFlow process,
gives it the seeded weights of ``random_weights`` and saves them (``.weights.h5``) with its
outputs; the backend under test builds the same case with its own fresh initialization, loads the
TensorFlow-saved weights and must give the same outputs.

``build(name)`` returns ``(model, inputs)``: a ``keras.Model`` that holds the layer (so that
``save_weights``/``load_weights`` work on any layer, a cell inside ``keras.layers.RNN`` or a layer
called on a constant such as the proposal layer's anchors) and the list of NumPy inputs it is
called on. The model is built (called once).

Run as a script, ``python tests/layer_cases.py DIRECTORY`` writes every case's seeded weights
(``NAME.weights.h5``) and outputs (``NAME.npz``) on the backend it runs on.
"""

import os
import sys

import keras
import numpy as np

from kerasnn import layers
from kerasnn.ops import boxes as box_ops

BATCH = 2


class CaseModel(keras.Model):
    """``call(inputs) = call_layer(layer, *inputs)``: a layer and how a case calls it.

    (Not ``forward``: on PyTorch a Keras layer is a ``torch.nn.Module``, and an attribute of that
    name would hide the module's ``forward`` method.)
    """

    def __init__(self, layer, call_layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer
        self.call_layer = call_layer

    def call(self, inputs):
        return self.call_layer(self.layer, *inputs)


def _normal(rng, *shape):
    return rng.standard_normal((BATCH, *shape)).astype("float32")


def _boxes(rng, count, size):
    """Valid ``(y1, x1, y2, x2)`` pixel boxes inside a ``size`` x ``size`` image."""
    corners = np.sort(rng.uniform(0, size - 1, (BATCH, count, 2, 2)), axis=2)
    return corners.transpose(0, 1, 3, 2).reshape(BATCH, count, 4).astype("float32")


def _call(layer, *inputs):
    return layer(*inputs)


def _cases():
    """name -> (layer factory, call_layer(layer, *inputs), inputs factory(rng))."""
    anchors = box_ops.generate_anchors((4, 4), 8, [8, 16], [0.5, 1.0, 2.0])
    unpool = layers.MaxPoolingWithArgmax2D()
    return {
        "ScaledDotProductAttention": (
            layers.ScaledDotProductAttention, _call,
            lambda rng: [_normal(rng, 4, 6), _normal(rng, 5, 6), _normal(rng, 5, 3)]),
        "MultiHeadAttention": (
            lambda: layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4,
                                              output_shape=5),
            _call, lambda rng: [_normal(rng, 4, 6), _normal(rng, 5, 7), _normal(rng, 5, 3)]),
        "BahdanauAttention": (
            lambda: layers.BahdanauAttention(units=5),
            lambda layer, h, states: layer(h, states, return_attention_weights=True),
            lambda rng: [_normal(rng, 6), _normal(rng, 7, 8)]),
        "LuongAttention": (
            layers.LuongAttention,
            lambda layer, h, states: layer(h, states, return_attention_weights=True),
            lambda rng: [_normal(rng, 6), _normal(rng, 7, 8)]),
        "RPNHead": (
            lambda: layers.RPNHead(num_anchors=3, filters=8), _call,
            lambda rng: [_normal(rng, 5, 6, 4)]),
        "ProposalLayer": (
            lambda: layers.ProposalLayer((32, 32), pre_nms_top_k=40, post_nms_top_k=6),
            lambda layer, logits, deltas: layer(logits, deltas, anchors),
            lambda rng: [_normal(rng, len(anchors)), 0.2 * _normal(rng, len(anchors), 4)]),
        "YOLOHead": (
            lambda: layers.YOLOHead(num_anchors=2, num_classes=3, filters=8), _call,
            lambda rng: [_normal(rng, 4, 4, 5)]),
        "MaskHead": (
            lambda: layers.MaskHead(num_classes=3, filters=8, num_convs=1), _call,
            lambda rng: [_normal(rng, 3, 4, 4, 5)]),
        "NTMCell": (
            lambda: keras.layers.RNN(
                layers.NTMCell(4, memory_size=6, memory_width=3, controller_units=8),
                return_sequences=True),
            _call, lambda rng: [_normal(rng, 3, 5)]),
        "NearestNeighbors": (
            lambda: layers.NearestNeighbors(num_examples=6, num_classes=3, k=3), _call,
            lambda rng: [_normal(rng, 4)]),
        "BatchNormalization": (
            layers.BatchNormalization, _call, lambda rng: [_normal(rng, 3, 3, 4)]),
        "GhostBatchNormalization": (
            lambda: layers.GhostBatchNormalization(virtual_batch_size=1), _call,
            lambda rng: [_normal(rng, 5)]),
        "TimeStepBatchNormalization": (
            layers.TimeStepBatchNormalization, _call, lambda rng: [_normal(rng, 4, 3)]),
        "GlobalAveragePooling2D": (
            layers.GlobalAveragePooling2D, _call, lambda rng: [_normal(rng, 5, 5, 3)]),
        "ClassActivationMapping": (
            lambda: layers.ClassActivationMapping(3, return_maps=True, map_size=(8, 8)), _call,
            lambda rng: [_normal(rng, 4, 4, 5)]),
        "MaxPoolingWithArgmax2D": (
            layers.MaxPoolingWithArgmax2D, _call, lambda rng: [_normal(rng, 4, 6, 3)]),
        "MaxUnpooling2D": (
            layers.MaxUnpooling2D, lambda layer, x: layer(list(unpool(x))),
            lambda rng: [_normal(rng, 4, 6, 3)]),
        "BedOfNailsUpsampling2D": (
            layers.BedOfNailsUpsampling2D, _call, lambda rng: [_normal(rng, 3, 3, 2)]),
        "LSTM": (
            lambda: layers.LSTM(4, return_sequences=True), _call,
            lambda rng: [_normal(rng, 5, 3)]),
        "LSTMCell": (
            lambda: keras.layers.RNN(layers.LSTMCell(4), return_sequences=True), _call,
            lambda rng: [_normal(rng, 5, 3)]),
        "CourseRNNCell": (
            lambda: keras.layers.RNN(layers.CourseRNNCell(4, hidden_units=3),
                                     return_sequences=True),
            _call, lambda rng: [_normal(rng, 5, 3)]),
        "TruncatedBPTTCell": (
            lambda: keras.layers.RNN(
                layers.TruncatedBPTTCell(layers.CourseRNNCell(4), truncation=2),
                return_sequences=True),
            _call, lambda rng: [_normal(rng, 5, 3)]),
        "RoIPooling": (
            lambda: layers.RoIPooling(2, spatial_scale=0.5), _call,
            lambda rng: [_normal(rng, 8, 8, 3), _boxes(rng, 3, 16)]),
        "RoIAlign": (
            lambda: layers.RoIAlign(2, spatial_scale=0.5, aligned=True), _call,
            lambda rng: [_normal(rng, 8, 8, 3), _boxes(rng, 3, 16)]),
        "HierarchicalSoftmax": (
            lambda: layers.HierarchicalSoftmax(word_counts=[5, 3, 2, 1, 1]), _call,
            lambda rng: [_normal(rng, 6)]),
        "SinusoidalPositionalEncoding": (
            lambda: layers.SinusoidalPositionalEncoding(max_length=8), _call,
            lambda rng: [_normal(rng, 5, 6)]),
        "PositionwiseFeedForward": (
            lambda: layers.PositionwiseFeedForward(intermediate_dim=8), _call,
            lambda rng: [_normal(rng, 5, 6)]),
        "TransformerEncoderBlock": (
            lambda: layers.TransformerEncoderBlock(num_heads=2, intermediate_dim=8), _call,
            lambda rng: [_normal(rng, 5, 6)]),
        "TransformerDecoderBlock": (
            lambda: layers.TransformerDecoderBlock(num_heads=2, intermediate_dim=8), _call,
            lambda rng: [_normal(rng, 4, 6), _normal(rng, 5, 6)]),
    }


CASES = _cases()
NAMES = sorted(CASES)


def build(name):
    """``(model, inputs)`` of one case, the model built with a fresh initialization."""
    make_layer, call_layer, make_inputs = CASES[name]
    inputs = make_inputs(np.random.default_rng(NAMES.index(name)))
    model = CaseModel(make_layer(), call_layer, name=name)
    model(inputs)
    return model, inputs


def random_weights(model, seed=0):
    """Seeded weights unlike any initializer: variances positive, stored labels class ids."""
    rng = np.random.default_rng(seed)
    weights = []
    for variable in model.weights:
        shape = tuple(variable.shape)
        if "variance" in variable.path:
            weights.append(rng.uniform(0.5, 1.5, shape))
        elif "labels" in variable.path:
            weights.append(rng.integers(0, model.layer.num_classes, shape).astype("float32"))
        else:
            weights.append(rng.normal(scale=0.5, size=shape))
    return weights


def outputs_of(model, inputs):
    """The model's outputs as a flat list of NumPy arrays."""
    outputs = model(inputs)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(value) for value in outputs]


def save_reference(directory):
    """Every case with its seeded weights: ``NAME.weights.h5`` and its outputs ``NAME.npz``."""
    for name in NAMES:
        model, inputs = build(name)
        model.set_weights(random_weights(model))
        model.save_weights(os.path.join(directory, f"{name}.weights.h5"))
        np.savez(os.path.join(directory, f"{name}.npz"), *outputs_of(model, inputs))


if __name__ == "__main__":
    save_reference(sys.argv[1])
