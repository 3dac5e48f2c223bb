"""
Title: Sliding-window detection on embedded shapes
Course section: "CNN for Object Detection", "Sliding Window"
Description: A window classifier (the object classes plus a background class) is trained on
crops: each true box squared and jittered, and background windows whose IoU with every true box is
about 0. Detection slides it over the image at several window sizes (an image pyramid), keeps the
windows whose best class beats background and removes duplicates with per-class NMS. The
classifier (conv blocks, Flatten, Dense) runs two ways with the same scores: a Python loop that
classifies every window crop on its own, and its convolutionalized copy (Dense layers as k x k and
1 x 1 convolutions, `kerasnn.models.convolutionalize`) that scores all windows of a scale in one
pass (OverFeat); the recipe compares their scores and speed. Reports test mAP@0.5, COCO mAP,
the window classifier's accuracy on held-out crops and duplicates before and after NMS.
How to run:
    python recipes/sliding_window.py              # kerasnn_shapes/detect, offline
    python recipes/sliding_window.py --smoke      # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras
import numpy as np

from kerasnn import cli, metrics, plots, recipe
from kerasnn.data import detection
from kerasnn.layers import RoIAlign
from kerasnn.models import detection as detectors
from kerasnn.models import segmentation
from kerasnn.ops import boxes as box_ops

WINDOW = 18  # the classifier's window (two conv blocks divide it exactly)
WINDOW_SIZES = (12, 18, 26, 34)  # detected window sides, in pixels of the 64 x 64 images
BACKGROUND_IOU = 0.05  # "IoU about 0": background windows overlap no box more than this


def flags(parser):
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--loop-images", type=int, default=2,
                        help="test images classified window by window (the slow loop)")
    parser.add_argument("--score-threshold", type=float, default=0.5)
    parser.add_argument("--loop-windows", type=int, default=None,
                        help="classify only the first N windows of each image in the loop (its "
                             "time per image is then scaled up to all windows)")


def smoke(args):
    args.loop_images, args.loop_windows = 1, 60


# ## Training crops
#
# Positives: each true box squared (side = the longer side), its centre and side jittered by up
# to 10%, four per box. Negatives: random square windows (sides 10-40 px) kept only when their IoU
# with every true box is at most 0.05, six per image. Each crop is warped to 18 x 18 by RoIAlign.


def sample_windows(boxes, labels, image_side, rng, positives=4, negatives=6):
    windows, classes = [], []
    for image_boxes, image_labels in zip(boxes, labels):
        real = image_boxes[image_labels >= 0]
        rows = []
        for box, label in zip(real, image_labels[image_labels >= 0]):
            centre, side = (box[:2] + box[2:]) / 2, max(box[2] - box[0], box[3] - box[1])
            for _ in range(positives):
                c = centre + rng.uniform(-0.1, 0.1, 2) * side
                s = side * rng.uniform(0.9, 1.1)
                rows.append((np.concatenate([c - s / 2, c + s / 2]), label + 1))
        while True:  # candidates in bulk; the first `negatives` with IoU about 0 are kept
            sides = rng.uniform(10, 40, (8 * negatives, 1))
            corners = rng.uniform(0, 1, (8 * negatives, 2)) * (image_side - sides)
            candidates = np.concatenate([corners, corners + sides], axis=1)
            if len(real):
                candidates = candidates[metrics.box_iou(candidates, real).max(1) <= BACKGROUND_IOU]
            if len(candidates) >= negatives:
                break
        rows += [(window, 0) for window in candidates[:negatives]]
        windows.append(np.stack([r[0] for r in rows]).astype("float32"))
        classes.append(np.array([r[1] for r in rows], "int32"))
    count = max(len(w) for w in windows)  # padded to one count per image, -1 ignored
    padded = np.zeros((len(windows), count, 4), "float32")
    targets = -np.ones((len(windows), count), "int32")
    for i, (w, c) in enumerate(zip(windows, classes)):
        padded[i, :len(w)], targets[i, :len(c)] = w, c
    return padded, targets


def window_crops(split, rng):
    warp = RoIAlign(WINDOW, 1.0, sampling_ratio=2, aligned=True)
    crops, targets = [], []
    for batch in split:
        images = batch["image"].numpy()
        windows, classes = sample_windows(batch["boxes"].numpy(), batch["labels"].numpy(),
                                          images.shape[1], rng)
        warped = np.asarray(warp(images, windows))
        crops.append(warped[classes >= 0])
        targets.append(classes[classes >= 0])
    return np.concatenate(crops), np.concatenate(targets)


# ## Detection: the convolutional pass, then the per-window loop


def conv_scores(classifier, images, chunk=50):
    """All windows and their probabilities, one convolutional pass per scale and chunk."""
    parts = [detectors.sliding_window_scores(classifier, images[i:i + chunk], WINDOW,
                                             WINDOW_SIZES) for i in range(0, len(images), chunk)]
    return (np.concatenate([np.asarray(part[0]) for part in parts]),
            np.concatenate([np.asarray(part[1]) for part in parts]))


def suppress(windows, scores, score_threshold, chunk=50):
    """Per-class NMS (IoU > 0.3) of the 50 best windows of each class, per image."""
    parts = [box_ops.non_max_suppression(
        windows[i:i + chunk], scores[i:i + chunk], max_detections_per_class=10,
        max_detections=10, iou_threshold=0.3, score_threshold=score_threshold,
        max_candidates_per_class=50) for i in range(0, len(windows), chunk)]
    return {k: np.concatenate([np.asarray(part[k]) for part in parts]) for k in parts[0]}


def loop_scores(classifier, fully_convolutional, image, limit=None):
    """Every window of every scale classified on its own: crop, then one call per window."""
    probabilities = []
    side = image.shape[0]
    for size in WINDOW_SIZES:
        shape = max(WINDOW, round(side * WINDOW / size))
        resized = np.asarray(keras.ops.image.resize(image[None], (shape, shape)))[0] if (
            shape != side) else image
        rows = np.asarray(fully_convolutional(resized[None])).shape[1]  # this scale's grid
        for i in range(rows):
            for j in range(rows):
                crop = resized[4 * i:4 * i + WINDOW, 4 * j:4 * j + WINDOW]
                logits = classifier(crop[None], training=False)
                probabilities.append(np.asarray(keras.ops.softmax(logits[0])))
                if len(probabilities) == limit:
                    return np.stack(probabilities)
    return np.stack(probabilities)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("sliding_window", __doc__, argv, dataset="kerasnn_shapes/detect",
                     epochs=12, batch_size=64, tuner="none", flags=flags, smoke=smoke,
                     smoke_examples=32)
    args = run.args
    if min(args.learning_rate, args.loop_images, args.loop_windows or 1) <= 0 or not (
            0 <= args.score_threshold < 1):
        raise cli.UserError("--learning-rate, --loop-images and --loop-windows must be positive "
                            "and --score-threshold in [0, 1).")
    try:
        train, validation, test = (
            detection.load(args.dataset, split, data_dir=args.data_dir, batch_size=64,
                           max_boxes=3, shuffle=False) for split in run.split_names())
        class_names = detection.object_class_names(args.dataset, args.data_dir)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    if tuple(train.element_spec["image"].shape[1:3]) != (64, 64):
        raise cli.UserError(f"--dataset {args.dataset}: the windows are sized for 64 x 64 "
                            "images (kerasnn_shapes/detect).")
    run.open()
    rng = np.random.default_rng(args.seed)
    (x_train, y_train), (x_val, y_val) = window_crops(train, rng), window_crops(validation, rng)

    # ## The window classifier
    classifier = detectors.window_classifier(WINDOW, len(class_names))
    recipe.compile_classifier(classifier, args.learning_rate, from_logits=True)
    run.fit("window_classifier", classifier, x_train, y=y_train, batch_size=args.batch_size,
            validation_data=(x_val, y_val))
    crop_accuracy = float(np.mean(np.argmax(classifier.predict(x_val, verbose=0), -1) == y_val))
    # Its Dense layers as k x k and 1 x 1 convolutions: all windows of an image in one pass.
    fully_convolutional = segmentation.convolutionalize(classifier)

    # ## Multi-scale detection on the test images, one convolutional pass per scale
    images = np.concatenate([b["image"].numpy() for b in test])
    truths = [{"boxes": b[lab >= 0], "classes": lab[lab >= 0]} for batch in test
              for b, lab in zip(batch["boxes"].numpy(), batch["labels"].numpy())]
    conv_scores(fully_convolutional, images[:1])  # traced before the clock starts
    start = time.perf_counter()
    windows, probabilities = conv_scores(fully_convolutional, images)
    conv_ms = 1000 * (time.perf_counter() - start) / len(images)
    scores = probabilities[..., 1:]  # background dropped
    found = suppress(windows, scores, args.score_threshold)
    predictions = [{k: v[i] for k, v in found.items()} for i in range(len(images))]
    map50 = metrics.mean_average_precision(predictions, truths)
    coco_map = metrics.coco_mean_average_precision(predictions, truths)

    # ## The same windows, one at a time (a few images: it is slow)
    start = time.perf_counter()
    looped = np.stack([loop_scores(classifier, fully_convolutional, image, args.loop_windows)
                       for image in images[:args.loop_images]])
    per_window = (time.perf_counter() - start) / looped.shape[0] / looped.shape[1]
    loop_ms = 1000 * per_window * windows.shape[1]
    difference = float(np.max(np.abs(looped - probabilities[:args.loop_images,
                                                            :looped.shape[1]])))

    # ## Duplicates per true box before and after NMS
    classes = np.broadcast_to(np.arange(scores.shape[-1]), scores.shape)
    before = [{"boxes": np.repeat(windows[i], scores.shape[-1], axis=0),
               "scores": scores[i].reshape(-1), "classes": classes[i].reshape(-1)}
              for i in range(len(images))]
    after = [{k: p[k][:int(p["num_detections"])] for k in ("boxes", "scores", "classes")}
             for p in predictions]
    duplicates = {"before_nms": metrics.duplicate_detections(before, truths,
                                                             score_threshold=args.score_threshold),
                  "after_nms": metrics.duplicate_detections(after, truths,
                                                            score_threshold=args.score_threshold)}
    plots.plot_detections(images[:8], predictions[:8], run.plot_path("detections"),
                          truths=truths[:8], class_names=class_names,
                          title="sliding windows + NMS")

    recipe.table([
        {"implementation": "per-window loop", "ms_per_image": loop_ms,
         "windows_per_image": looped.shape[1], "images": args.loop_images},
        {"implementation": "convolutional pass", "ms_per_image": conv_ms,
         "windows_per_image": windows.shape[1], "images": len(images)}])
    print(f"convolutional pass {loop_ms / conv_ms:.0f}x faster, same scores (largest "
          f"difference {difference:.1e}); duplicates per true box {duplicates['before_nms']:.2f}"
          f" before NMS, {duplicates['after_nms']:.2f} after")
    return run.finish(
        test={"map50": map50, "coco_map": coco_map, "crop_accuracy": crop_accuracy,
              "ms_per_image_conv": conv_ms, "ms_per_image_loop": loop_ms,
              "speedup_conv_over_loop": loop_ms / conv_ms,
              "max_score_difference": difference},
        model=classifier, duplicates_per_box=duplicates,
        windows_per_image=int(windows.shape[1]), window_sizes=list(WINDOW_SIZES))


if __name__ == "__main__":
    main()
