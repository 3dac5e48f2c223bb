"""R-CNN, Fast R-CNN, the sliding-window classifier and the detectors' .keras round trips
(kerasnn.models.detection)."""

import keras
import numpy as np
import pytest

from kerasnn import metrics
from kerasnn.data import detection as detection_data
from kerasnn.models import detection

IMAGE = (32, 32)


def _data():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(2,) + IMAGE + (3,)).astype("float32")
    boxes = np.array([[[2, 3, 14, 15], [0, 0, 0, 0]], [[16, 10, 28, 24], [4, 4, 12, 14]]],
                     "float32")
    labels = np.array([[0, -1], [1, 0]], "int32")
    windows = detection.sliding_windows(IMAGE, (8, 16), stride=8)
    proposals = np.tile(windows[None], (2, 1, 1))
    return {"image": images, "proposals": proposals, "boxes": boxes, "labels": labels}


def _repeated(data):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(data).repeat()


def _backbone():
    inputs = keras.Input(IMAGE + (3,))
    x = keras.layers.Conv2D(8, 3, strides=4, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, x)


def _crop_cnn(size=12):
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Flatten()(x))


def _detectors():
    common = dict(max_detections=4, score_threshold=0.0)
    return {
        "faster": detection.faster_rcnn(
            _backbone(), 2, IMAGE, 4, anchor_scales=(8,), aspect_ratios=(1.0,), rpn_filters=8,
            roi_size=3, head_units=8, rois_per_image=8, rpn_samples=16, pre_nms_top_k=32,
            train_proposals=16, test_proposals=8, **common),
        "fast": detection.fast_rcnn(_backbone(), 2, IMAGE, 4, roi_size=3, head_units=8,
                                    rois_per_image=8, **common),
        "rcnn": detection.rcnn(_crop_cnn(), 2, IMAGE, crop_size=12, rois_per_image=8,
                               **common),
    }


def test_sliding_windows_lie_inside_the_image_on_a_grid():
    windows = detection.sliding_windows((32, 32), (8, 16), stride=8)
    # 4 x 4 centres at 4, 12, 20, 28: every 8-px window fits (16), 16-px ones only at 12 and 20.
    assert windows.shape == (16 + 4, 4)
    assert windows.min() >= 0 and windows.max() <= 32
    np.testing.assert_allclose(windows[0], [0, 0, 8, 8])
    with pytest.raises(ValueError, match="Argument `sizes` must be windows that fit"):
        detection.sliding_windows((32, 32), (40,))


@pytest.mark.parametrize("kind", ["faster", "fast", "rcnn"])
def test_detectors_save_and_load_with_identical_detections(kind, tmp_path):
    data = _data()
    model = _detectors()[kind]
    inputs = data["image"] if kind == "faster" else {k: data[k] for k in ("image", "proposals")}
    model(inputs)
    before = model.predict_on_batch(inputs)
    assert before["boxes"].shape == (2, 4, 4) and int(before["num_detections"][0]) > 0
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model)
    for mine, theirs in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    after = loaded.predict_on_batch(inputs)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], atol=1e-6)


def test_rcnn_reports_its_three_stage_losses_and_they_go_down():
    data = _data()
    model = _detectors()["rcnn"]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(_repeated(data), steps_per_epoch=3, epochs=2, verbose=0).history
    assert set(detection.RCNN_LOSS_NAMES) <= set(history)
    assert history["svm_hinge_loss"][-1] < history["svm_hinge_loss"][0]
    assert history["finetune_class_loss"][-1] < history["finetune_class_loss"][0]


def test_the_svm_does_not_train_the_cnn():
    # The hinge loss sees stop-gradient features: only the SVM's own weights get its gradient.
    import tensorflow as tf

    data = _data()
    model = _detectors()["rcnn"]
    model({k: data[k] for k in ("image", "proposals")})
    with tf.GradientTape() as tape:
        hinge = model._detector_losses(data, training=True)["svm_hinge_loss"]
    gradients = tape.gradient(hinge, model.feature_extractor.trainable_variables
                              + model.svm.trainable_variables)
    cnn, svm = gradients[:len(model.feature_extractor.trainable_variables)], gradients[-2:]
    assert all(g is None for g in cnn) and all(g is not None for g in svm)


def test_fast_rcnn_overfits_two_images_on_given_proposals():
    keras.utils.set_random_seed(0)
    data = _data()
    images = np.zeros((2,) + IMAGE + (3,), "float32")
    for i in range(2):
        for (y1, x1, y2, x2), label in zip(data["boxes"][i].astype(int), data["labels"][i]):
            if label >= 0:
                images[i, y1:y2, x1:x2, label] = 1.0
    data["image"] = images
    model = detection.fast_rcnn(_backbone(), 2, IMAGE, 4, roi_size=3, head_units=32,
                                rois_per_image=8, max_detections=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = model.fit(_repeated(data), steps_per_epoch=20, epochs=3, verbose=0).history
    assert history["detection_class_loss"][-1] < 0.5 * history["detection_class_loss"][0]
    # Proposals that are the true boxes are classified right (boxes are inputs, not learned).
    out = model.predict_on_batch({"image": images, "proposals": data["boxes"]})
    for i in range(2):
        count = int(out["num_detections"][i])
        real = data["labels"][i] >= 0
        assert sorted(out["classes"][i][:count][out["scores"][i][:count] > 0.5]) == sorted(
            data["labels"][i][real])


def test_before_nms_holds_every_proposal_class_candidate():
    data = _data()
    model = _detectors()["fast"]
    inputs = {k: data[k] for k in ("image", "proposals")}
    raw = model.before_nms(inputs)
    count = data["proposals"].shape[1]
    assert raw["boxes"].shape == (2, count * 2, 4) and raw["classes"].shape == (2, count * 2)
    np.testing.assert_array_equal(np.asarray(raw["classes"])[0, :4], [0, 1, 0, 1])
    after = model.predict_on_batch(inputs)
    assert int(np.max(after["num_detections"])) <= 4


def test_window_classifier_conv_pass_equals_classifying_each_window():
    from kerasnn.models import segmentation

    classifier = detection.window_classifier(18, 3)
    fully_convolutional = segmentation.convolutionalize(classifier)
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 30, 26, 3)).astype("float32")
    full = np.asarray(fully_convolutional(image))[0]  # (rows, cols, 4) at a stride of 4 pixels
    assert full.shape == (4, 3, 4)
    for i in range(4):
        for j in range(3):
            crop = image[:, 4 * i:4 * i + 18, 4 * j:4 * j + 18]
            np.testing.assert_allclose(np.asarray(classifier(crop))[0], full[i, j], atol=1e-5)
    boxes, probabilities = detection.sliding_window_scores(fully_convolutional,
                                                           image[:, :26, :26], 18, (18, 26))
    # 18-px windows: 3 x 3 at stride 4; 26-px: the image resized to 18 x 18, one window.
    assert boxes.shape == (1, 9 + 1, 4) and probabilities.shape == (1, 10, 4)
    np.testing.assert_allclose(np.asarray(boxes)[0, [0, 1, 3, 9]],
                               [[0, 0, 18, 18], [0, 4, 18, 22], [4, 0, 22, 18], [0, 0, 26, 26]],
                               atol=1e-4)
    np.testing.assert_allclose(np.asarray(probabilities).sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="Argument `window_size` must be a size that the conv"):
        detection.window_classifier(16, 3)


def test_with_proposals_adds_the_same_windows_to_every_batch():
    import tensorflow as tf

    data = _data()
    batches = tf.data.Dataset.from_tensor_slices(
        {k: data[k] for k in ("image", "boxes", "labels")}).batch(2)
    windows = detection.sliding_windows(IMAGE, (8,), stride=8)
    (batch,) = list(detection_data.with_proposals(batches, windows))
    assert batch["proposals"].shape == (2, len(windows), 4)
    np.testing.assert_array_equal(batch["proposals"].numpy()[1], windows)
    with pytest.raises(ValueError, match="Argument `proposals` must have shape"):
        detection_data.with_proposals(batches, windows[None])


def test_proposal_recall_and_duplicates_by_hand():
    truth = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "classes": [0, 1]},
             {"boxes": np.zeros((0, 4)), "classes": np.zeros((0,), "int64")}]
    # IoU([0,0,10,10], [0,0,10,6]) = 0.6, ([20,20,30,30], [25,25,35,35]) = 25 / 175.
    assert metrics.proposal_recall([[[0, 0, 10, 6], [25, 25, 35, 35]], []], truth) == 0.5
    assert metrics.proposal_recall([[[0, 0, 10, 6], [25, 25, 35, 35]], []], truth,
                                   iou_threshold=0.1) == 1.0
    predictions = [{"boxes": [[0, 0, 10, 10], [0, 1, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30]],
                    "scores": [0.9, 0.8, 0.3, 0.9], "classes": [0, 0, 0, 0]},
                   {"boxes": [[0, 0, 5, 5]], "scores": [0.9], "classes": [1]}]
    # Box 0 is hit twice above 0.5 (the 0.3 one does not count), box 1 (class 1) by nothing
    # of its class: 1 duplicate over 2 true boxes.
    assert metrics.duplicate_detections(predictions, truth) == 0.5
    assert metrics.duplicate_detections(predictions, truth, score_threshold=0.2) == 1.0


def test_the_metrics_numpy_iou_is_the_box_ops_one():
    from kerasnn.metrics.detection import box_iou
    from kerasnn.ops import boxes as box_ops

    rng = np.random.default_rng(1)
    first, second = rng.uniform(0, 20, (7, 4)), rng.uniform(0, 20, (5, 4))  # some inverted
    second[0] = first[0]
    np.testing.assert_allclose(box_iou(first, second),
                               np.asarray(box_ops.pairwise_iou(first, second)), atol=1e-6)
    assert box_iou(first, second)[0, 0] == 1.0 or first[0, 2] < first[0, 0] or (
        first[0, 3] < first[0, 1])


def test_degenerate_truths_give_finite_losses_and_a_wrong_format_a_clear_error():
    # Documented behaviour (kerasnn.ops.targets): an image without objects has only negatives,
    # an inverted or empty true box is padding, a box crossing the border is used as given.
    data = _data()
    data["boxes"] = np.array([[[0, 0, 0, 0], [0, 0, 0, 0]], [[14, 20, 4, 10], [-6, 20, 10, 40]]],
                             "float32")
    data["labels"] = np.array([[-1, -1], [1, 0]], "int32")
    for kind, model in _detectors().items():
        values = model._detector_losses(data, training=True)
        assert all(np.isfinite(float(v)) for v in values.values()), (kind, values)
    model = _detectors()["faster"]
    with pytest.raises(ValueError, match=r"Argument `gt_boxes` must have shape \(batch, "):
        model.compute_losses(data["image"], data["boxes"][..., :3], data["labels"])
    with pytest.raises(ValueError, match="Inputs must be a dict with `image`"):
        _detectors()["fast"](data["image"])


def test_evaluate_detector_scores_a_perfect_and_a_shifted_predictor():
    data = _data()
    batches = [{k: data[k] for k in ("image", "boxes", "labels")}]
    calls = []

    def perfect(images):
        calls.append(len(images))
        return {"boxes": data["boxes"], "scores": np.ones((2, 2), "float32"),
                "classes": data["labels"], "num_detections": np.array([1, 2], "int32")}

    result = metrics.evaluate_detector(perfect, batches)
    assert result["map50"] == 1.0 and result["coco_map"] == 1.0
    assert calls == [2, 2]  # one untimed call per batch size, then the timed one
    assert result["ms_per_image"] >= 0 and len(result["truths"]) == 2

    def shifted(images):  # every box moved by its own size: IoU 0, nothing found
        out = perfect(images)
        return {**out, "boxes": out["boxes"] + 40.0}

    assert metrics.evaluate_detector(shifted, batches)["map50"] == 0.0
