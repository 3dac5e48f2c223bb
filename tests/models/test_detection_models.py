"""Tests of kerasnn.models.detection: a tiny Faster R-CNN overfits four images."""

import keras
import numpy as np
import tensorflow as tf

from kerasnn import metrics
from kerasnn.models.detection import LOSS_NAMES, faster_rcnn

# (y1, x1, y2, x2, class): class 0 drawn in the red channel, class 1 in the green one.
OBJECTS = [
    [(2, 3, 14, 15, 0)],
    [(16, 10, 28, 24, 1)],
    [(4, 4, 12, 14, 1), (18, 18, 30, 30, 0)],
    [(8, 16, 22, 30, 0)],
]


def _four_images():
    images = np.zeros((4, 32, 32, 3), "float32")
    boxes, labels = np.zeros((4, 2, 4), "float32"), -np.ones((4, 2), "int32")
    for i, objects in enumerate(OBJECTS):
        for j, (y1, x1, y2, x2, label) in enumerate(objects):
            images[i, y1:y2, x1:x2, label] = 1.0
            boxes[i, j], labels[i, j] = (y1, x1, y2, x2), label
    return images, boxes, labels


def _tiny_model():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    return faster_rcnn(
        keras.Model(inputs, x), 2, (32, 32), 4, anchor_scales=(8, 16), aspect_ratios=(1.0,),
        rpn_filters=32, roi_size=4, head_units=64, rois_per_image=16, rpn_samples=64,
        pre_nms_top_k=64, train_proposals=32, test_proposals=16, max_detections=5,
    )


def test_tiny_faster_rcnn_overfits_four_images_to_map_1():
    images, boxes, labels = _four_images()
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": images, "boxes": boxes, "labels": labels}).batch(4).repeat()
    history = model.fit(batches, steps_per_epoch=25, epochs=5, verbose=0).history
    for name in LOSS_NAMES:  # each of the four losses is reported, finite, and went down
        assert np.isfinite(history[name]).all(), name
    for name in ("rpn_objectness_loss", "detection_class_loss", "loss"):
        assert history[name][-1] < 0.5 * history[name][0], (name, history[name])
    out = model.predict(images, verbose=0)
    assert out["boxes"].shape == (4, 5, 4) and out["classes"].dtype == np.int32
    predictions = [{key: out[key][i] for key in out} for i in range(4)]
    truths = [{"boxes": boxes[i][labels[i] >= 0], "classes": labels[i][labels[i] >= 0]}
              for i in range(4)]
    assert metrics.mean_average_precision(predictions, truths) == 1.0
