"""Tests of kerasnn.layers.detection: RPNHead and ProposalLayer."""

import keras
import numpy as np
import pytest
from layer_harness import run_layer_test

from kerasnn.layers.detection import ProposalLayer, RPNHead, propose
from kerasnn.ops import boxes


def _np(value):
    """NumPy array of a tensor (PyTorch outputs that require grad included) or an array."""
    return keras.ops.convert_to_numpy(value)


def test_rpn_head_passes_the_harness_and_equals_keras_convolutions():
    features = np.random.default_rng(0).normal(size=(2, 4, 5, 6)).astype("float32")
    logits, deltas = run_layer_test(
        RPNHead,
        {"num_anchors": 3, "filters": 8, "kernel_initializer": "glorot_uniform"},
        features,
        expected_output_shape=((None, 60), (None, 60, 4)),
    )
    head = RPNHead(3, filters=8, kernel_initializer="glorot_uniform")
    head(features)
    conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu")
    cls, reg = keras.layers.Conv2D(3, 1), keras.layers.Conv2D(12, 1)
    hidden = conv(features)
    cls(hidden), reg(hidden)
    conv.set_weights(head.conv.get_weights())
    cls.set_weights(head.objectness.get_weights())
    reg.set_weights(head.box_deltas.get_weights())
    logits, deltas = (_np(x) for x in head(features))
    hidden = conv(features)
    expected_cls = _np(cls(hidden))  # (2, 4, 5, 3): anchor a of cell (i, j)
    expected_reg = _np(reg(hidden)).reshape(2, 4, 5, 3, 4)
    np.testing.assert_allclose(logits.reshape(2, 4, 5, 3), expected_cls, atol=1e-6)
    np.testing.assert_allclose(deltas.reshape(2, 4, 5, 3, 4), expected_reg, atol=1e-6)
    with pytest.raises(ValueError, match=r"Argument `num_anchors` must be a positive integer"):
        RPNHead(0)


# ------------------------------------------------------------------------------------------------
# Proposal layer against a per-image NumPy reference
# ------------------------------------------------------------------------------------------------


def _iou(a, b):
    inter_h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter = inter_h * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_propose(logits, deltas, anchors, image_shape, pre, post, iou_threshold, min_size):
    height, width = image_shape
    out_boxes = np.zeros((len(logits), post, 4), "float32")
    out_scores = np.zeros((len(logits), post), "float32")
    counts = []
    for b in range(len(logits)):
        ah, aw = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        ay, ax = anchors[:, 0] + ah / 2, anchors[:, 1] + aw / 2
        dy, dx, dh, dw = deltas[b].T
        clip = np.log(1000 / 16)
        cy, cx = ay + dy * ah, ax + dx * aw
        h, w = ah * np.exp(np.minimum(dh, clip)), aw * np.exp(np.minimum(dw, clip))
        decoded = np.stack([cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2], -1)
        decoded = np.clip(decoded, 0, [height, width, height, width])
        scores = 1 / (1 + np.exp(-logits[b]))
        sides = decoded[:, 2:] - decoded[:, :2]
        tiny = (sides < min_size).any(1)
        scores = np.where(tiny, -np.inf, scores)
        order = np.argsort(-scores, kind="stable")[:pre]
        kept = []
        for i in order:
            if np.isinf(scores[i]) or len(kept) == post:
                break
            if all(_iou(decoded[i], decoded[k]) <= iou_threshold for k in kept):
                kept.append(i)
        out_boxes[b, : len(kept)] = decoded[kept]
        out_scores[b, : len(kept)] = scores[kept]
        counts.append(len(kept))
    return out_boxes, out_scores, np.array(counts)


def _proposal_data(batch=2):
    rng = np.random.default_rng(1)
    anchors = np.asarray(boxes.generate_anchors((4, 4), 8, [8, 16], [0.5, 1.0, 2.0]))
    logits = rng.normal(size=(batch, 96)).astype("float32")
    deltas = (0.3 * rng.normal(size=(batch, 96, 4))).astype("float32")
    deltas[0, :10, 2] = -20.0  # tiny boxes: dropped whatever their score
    logits[0, :10] = 10.0
    return logits, deltas, anchors


@pytest.mark.parametrize("pre, post", [(50, 12), (20, 96)])
def test_propose_matches_the_numpy_reference(pre, post):
    logits, deltas, anchors = _proposal_data()
    out = [np.asarray(x) for x in propose(logits, deltas, anchors, (32, 32), pre, post, 0.7, 1e-3)]
    expected = reference_propose(logits, deltas, anchors, (32, 32), pre, post, 0.7, 1e-3)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-4)
    np.testing.assert_allclose(out[1], expected[1], atol=1e-6)
    np.testing.assert_array_equal(out[2], expected[2])
    assert (out[0] >= 0).all() and (out[0] <= 32).all()
    if post > pre:
        assert (expected[2] < post).all()  # padded with zero boxes


def test_proposal_layer_passes_the_harness():
    logits, deltas, anchors = _proposal_data()
    batched = np.broadcast_to(anchors, (2,) + anchors.shape).copy()
    init = {"image_shape": (32, 32), "pre_nms_top_k": 40, "post_nms_top_k": 8}
    out = run_layer_test(
        ProposalLayer,
        init,
        [logits, deltas, batched],
        input_call_style="args",
        run_training=False,  # no weights; the outputs carry no gradient by design
        check_input_gradients=False,
        expected_mixed_precision_dtype="float32",  # boxes stay float32 under mixed precision
        expected_output_shape=((None, 8, 4), (None, 8), (None,)),
    )
    expected = reference_propose(logits, deltas, anchors, (32, 32), 40, 8, 0.7, 1e-3)
    np.testing.assert_allclose(out[0], expected[0], atol=1e-4)
    np.testing.assert_array_equal(out[2], expected[2])


def test_proposal_layer_bad_inputs():
    logits, deltas, anchors = _proposal_data()
    layer = ProposalLayer((32, 32))
    with pytest.raises(ValueError, match=r"Argument `box_deltas` must have shape \(batch, 96, 4\)"):
        layer(logits, deltas[:, :90], anchors)
    with pytest.raises(ValueError, match=r"Argument `anchors` must have shape \(96, 4\)"):
        layer(logits, deltas, anchors[:5])
    with pytest.raises(ValueError, match=r"Argument `image_shape` must be"):
        ProposalLayer((0, 32))
