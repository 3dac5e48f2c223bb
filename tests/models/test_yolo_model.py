"""Tests of kerasnn.models.yolo: a tiny YOLO overfits four images; save/load; the grid backbone."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_detection_models import _four_images  # the Faster R-CNN test's four images

from kerasnn import metrics
from kerasnn.models.yolo import YOLO, grid_backbone, yolo


def test_tiny_yolo_overfits_four_images_to_map_1_and_survives_saving(tmp_path):
    images, boxes, labels = _four_images()
    keras.utils.set_random_seed(0)
    # a 4 x 4 grid: every cell sees a whole object (a receptive field smaller than the object
    # could not tell its centre cell from the other cells inside it)
    model = yolo(grid_backbone((32, 32), 4, (8, 16, 16, 16)), 2, [[0.4, 0.4]],
                 max_detections=5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    batches = tf.data.Dataset.from_tensor_slices(
        {"image": images, "boxes": boxes, "labels": labels}).batch(4).repeat()
    history = model.fit(batches, steps_per_epoch=25, epochs=4, verbose=0).history["loss"]
    assert history[-1] < 0.05 * history[0], history  # the loss went down 20-fold
    out = model.predict_on_batch(images)
    assert out["boxes"].shape == (4, 5, 4) and out["classes"].dtype == np.int32
    predictions = [{key: np.asarray(out[key][i]) for key in out} for i in range(4)]
    truths = [{"boxes": boxes[i][labels[i] >= 0], "classes": labels[i][labels[i] >= 0]}
              for i in range(4)]
    assert metrics.mean_average_precision(predictions, truths) == 1.0
    path = str(tmp_path / "yolo.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, YOLO) and loaded.grid_shape == (4, 4)
    again = loaded.predict_on_batch(images)
    for key in out:
        np.testing.assert_allclose(again[key], out[key], rtol=1e-5, atol=1e-5)


def test_grid_backbone_sizes_and_errors():
    assert grid_backbone((64, 64), 8).output.shape[1:3] == (8, 8)
    assert grid_backbone((64, 64, 1), 16).output.shape[1:3] == (16, 16)
    with pytest.raises(ValueError, match="Argument `grid_size` must be a power-of-two divisor"):
        grid_backbone((64, 64), 6)
