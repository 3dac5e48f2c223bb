"""
Title: Faster R-CNN on embedded shapes (first part: the Faster R-CNN column only)
Course section: "Faster R-CNN", "First stage:", "Second stage", "At test time"
Description: A small convolutional backbone, the region proposal network (3x3 conv, k objectness
logits and 4k box refinements per location), the proposal layer (decode, clip, top-k, NMS, ~300
RoIs in training), RoIAlign and the Fast R-CNN head (softmax over classes + background,
class-specific boxes), trained end to end with the four losses (approximate joint training).
Reports test mAP@0.5 (VOC), COCO mAP@[.5:.95] and milliseconds per image. Not yet here: the R-CNN
and Fast R-CNN columns, the proposal-recall curve, drawn detections and the tuner (--tuner is
accepted but not used).
How to run:
    python recipes/faster_rcnn.py                 # kerasnn_shapes/detect, offline
    python recipes/faster_rcnn.py --smoke         # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras
import numpy as np

from kerasnn import cli, metrics, recipe
from kerasnn.data import detection
from kerasnn.models.detection import LOSS_NAMES, faster_rcnn

MAX_BOXES = 3  # kerasnn_shapes/detect draws 1 to 3 objects per image


def flags(parser):
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)


def smoke(args):
    args.steps_per_epoch = 8


# ## The backbone and the detector
#
# Three [3x3 conv -> ReLU -> 2x2 max pooling] blocks: a stride-8 feature map (8 x 8 for 64 x 64
# images). Anchors of 12 and 24 pixels at height/width ratios 1:2, 1:1, 2:1 (k = 6 per location).


def build_detector(image_shape, num_classes):
    inputs = keras.Input(tuple(image_shape) + (3,))
    x = inputs
    for filters in (16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    return faster_rcnn(
        keras.Model(inputs, x, name="backbone"), num_classes, image_shape, 8,
        anchor_scales=(12, 24), aspect_ratios=(0.5, 1.0, 2.0), rpn_filters=64, roi_size=5,
        head_units=128, rois_per_image=32, rpn_samples=128, pre_nms_top_k=300,
        train_proposals=64, test_proposals=50, max_detections=10,
    )


# ## Scoring
#
# Detections are padded like `kerasnn.ops.boxes.non_max_suppression`'s; `kerasnn.metrics` reads
# the first `num_detections` and ignores the -1 padding of the true labels.


def evaluate(model, dataset):
    predictions, truths, images, seconds = [], [], 0, 0.0
    for batch in dataset:
        start = time.perf_counter()
        out = model.predict_on_batch(batch["image"])
        seconds += time.perf_counter() - start
        images += len(batch["image"])
        for i in range(len(batch["image"])):
            predictions.append({key: np.asarray(value[i]) for key, value in out.items()})
            labels, boxes = batch["labels"][i].numpy(), batch["boxes"][i].numpy()
            truths.append({"boxes": boxes[labels >= 0], "classes": labels[labels >= 0]})
    return {
        "map50": metrics.mean_average_precision(predictions, truths),
        "coco_map": metrics.coco_mean_average_precision(predictions, truths),
        "ms_per_image": 1000.0 * seconds / max(images, 1),
    }


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("faster_rcnn", __doc__, argv, dataset="kerasnn_shapes/detect", epochs=30,
                     batch_size=8, flags=flags, smoke=smoke, smoke_examples=32)
    args = run.args
    if args.learning_rate <= 0 or args.steps_per_epoch <= 0:
        raise cli.UserError("--learning-rate and --steps-per-epoch must be positive.")
    train_split, _, test_split = run._split_names(("train", "validation", "test"))
    try:
        train = detection.load(args.dataset, train_split, data_dir=args.data_dir,
                               batch_size=args.batch_size, max_boxes=MAX_BOXES, seed=args.seed)
        test = detection.load(args.dataset, test_split, data_dir=args.data_dir, batch_size=50,
                              max_boxes=MAX_BOXES, shuffle=False)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    image_shape = tuple(train.element_spec["image"].shape[1:3])
    if None in image_shape:
        raise cli.UserError(f"--dataset {args.dataset}: images of different sizes are not "
                            "supported yet.")
    run.open()

    model = build_detector(image_shape, run.spec.num_classes)
    model(np.zeros((1,) + image_shape + (3,), "float32"))  # built: phases save its weights
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    started = time.perf_counter()
    history = run.fit("faster_rcnn", model, train.repeat(),
                      steps_per_epoch=args.steps_per_epoch)
    train_seconds = time.perf_counter() - started
    scores = evaluate(model, test)

    # ## Report
    recipe.table([{"method": "Faster R-CNN", "test_map50": scores["map50"],
                   "test_coco_map": scores["coco_map"], "ms_per_image": scores["ms_per_image"],
                   "train_seconds": train_seconds}])
    return run.finish(
        test={"map50_faster_rcnn": scores["map50"], "coco_map_faster_rcnn": scores["coco_map"],
              "ms_per_image_faster_rcnn": scores["ms_per_image"]},
        curves=("loss",) + LOSS_NAMES, train_seconds=train_seconds,
        final_losses={name: history[name][-1] for name in LOSS_NAMES + ("loss",)},
        first_losses={name: history[name][0] for name in LOSS_NAMES + ("loss",)},
    )


if __name__ == "__main__":
    main()
