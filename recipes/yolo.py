"""
Title: YOLO on embedded shapes: detection as one regression
Course section: "YOLO" (and the output format of "CNN for Object Detection")
Description: A small CNN whose output map is the H x L grid, a YOLO head giving, for each of the
B anchors of every cell, the offsets of the box (sigmoid), its log-scales (of an anchor chosen by
k-means on the training boxes, YOLO v2), an objectness and C class scores: H x L x B x (5 + C) in
one forward pass. Trained with the YOLO v1 paper's sum-squared error (lambda_coord = 5,
lambda_noobj = 0.5, square roots of the sizes), decoded and suppressed by the per-class NMS.
Reports test mAP@0.5, COCO mAP@[.5:.95] and milliseconds per image against a Faster R-CNN of
the faster_rcnn recipe's architecture timed on the same test batches, then the effect of the
grid size and of the number of anchors, and draws detections. The tuner searches the grid, the
anchors and the two lambdas (objective: validation mAP@0.5).
How to run:
    python recipes/yolo.py                          # kerasnn_shapes/detect, offline
    python recipes/yolo.py --grid-size 4 --num-anchors 1
    python recipes/yolo.py --tuner random --max-trials 6
    python recipes/yolo.py --dataset voc/2007 --image-size 256   # online (tfds download)
    python recipes/yolo.py --smoke                  # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import faster_rcnn  # the two-stage recipe beside this one (its detector, for the timing)
import keras
import keras_tuner
import numpy as np

from kerasnn import cli, metrics, plots, recipe
from kerasnn.data import instances
from kerasnn.models.yolo import grid_backbone, yolo
from kerasnn.ops import yolo as yolo_ops

EMBEDDED_MAX_BOXES = 3  # kerasnn_shapes/detect draws 1 to 3 objects per image


def flags(parser):
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--grid-size", type=int, default=8, help="H = L (default 8: 8 x 8)")
    parser.add_argument("--num-anchors", type=int, default=3, help="B, anchors per cell")
    parser.add_argument("--lambda-coord", type=float, default=5.0, help="the paper's 5")
    parser.add_argument("--lambda-noobj", type=float, default=0.5, help="the paper's 0.5")
    parser.add_argument("--study-epochs", type=int, default=3,
                        help="epochs of each grid / anchor variant of the study")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize images to this square size (needed for VOC)")


def smoke(args):
    args.steps_per_epoch = 4
    args.study_epochs = 1
    args.max_trials = 1


def check_flags(args):
    for name in ("learning_rate", "steps_per_epoch", "grid_size", "num_anchors", "study_epochs"):
        if getattr(args, name) <= 0:
            raise cli.UserError(f"--{name.replace('_', '-')} must be positive.")
    if args.lambda_coord < 0 or args.lambda_noobj < 0:
        raise cli.UserError("--lambda-coord and --lambda-noobj must be non-negative.")


# ## Data and anchors
#
# `kerasnn.data.detection` pads each image's boxes; the targets are encoded inside the training
# step (`YOLO.train_step`), so one pipeline serves every grid and anchor set. YOLO v2's anchors:
# k-means of the training boxes' shapes with the distance 1 - IoU.


def load_splits(run):
    args = run.args
    try:
        (train, validation, test), image_shape = instances.load_splits(
            args.dataset, run.split_names(("train", "validation", "test")), masks=False,
            data_dir=args.data_dir, batch_size=args.batch_size, image_size=args.image_size,
            max_boxes=EMBEDDED_MAX_BOXES if args.dataset.startswith("kerasnn_") else None,
            seed=args.seed)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    return train, validation, test, image_shape


def box_sizes(dataset, image_shape):
    """``[height, width]`` of every true box, as fractions of the image."""
    sizes = []
    for batch in dataset.take(200):
        boxes, labels = np.asarray(batch["boxes"]), np.asarray(batch["labels"])
        real = boxes[labels >= 0]
        sizes.append((real[:, 2:] - real[:, :2]) / np.asarray(image_shape, "float32"))
    return np.concatenate(sizes)


# ## The detector and its hyperparameters
#
# `grid_backbone` halves the image until it is grid x grid cells (3x3 conv, batch norm, ReLU
# blocks); the head adds a 3x3 conv of 64 filters and the 1x1 output convolution.


class ValidationMAP(keras.callbacks.Callback):
    """Logs ``val_map50`` (mAP@0.5 on the validation split) after each epoch: the tuner's
    objective (losses with other lambdas do not compare)."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = dataset

    def __deepcopy__(self, memo):  # KerasTuner copies the callbacks of each trial
        return ValidationMAP(self.dataset)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_map50"] = metrics.evaluate_detector(self.model.predict_on_batch,
                                                          self.dataset)["map50"]


def make_build_model(image_shape, num_classes, sizes, args):
    def choice(hp, name, values, default):
        return hp.Choice(name, sorted(set(values) | {default}), default=default)

    def build_model(hp):
        grid = choice(hp, "grid_size", [4, 8, 16], args.grid_size)
        num_anchors = choice(hp, "num_anchors", [1, 3, 5], args.num_anchors)
        lambda_coord = choice(hp, "lambda_coord", [1.0, 5.0, 10.0], args.lambda_coord)
        lambda_noobj = choice(hp, "lambda_noobj", [0.1, 0.5, 1.0], args.lambda_noobj)
        anchors = yolo_ops.anchor_priors(sizes, num_anchors, seed=args.seed)
        model = yolo(grid_backbone(image_shape, grid), num_classes, anchors, head_filters=64,
                     lambda_coord=lambda_coord, lambda_noobj=lambda_noobj, max_detections=10)
        model(np.zeros((1,) + tuple(image_shape) + (3,), "float32"))  # built: phases save it
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        return model

    return build_model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("yolo", __doc__, argv, dataset="kerasnn_shapes/detect", epochs=9,
                     batch_size=16, tuner="none", max_trials=6, flags=flags, smoke=smoke,
                     smoke_examples=32)
    args = run.args
    check_flags(args)
    train, validation, test, image_shape = load_splits(run)
    try:
        grid_backbone(image_shape, args.grid_size)
    except ValueError as error:
        raise cli.UserError(f"--grid-size: {error}") from None
    run.open()
    sizes = box_sizes(train, image_shape)
    num_classes = run.spec.num_classes
    build_model = make_build_model(image_shape, num_classes, sizes, args)
    hp = run.search(build_model, train.repeat(), steps_per_epoch=args.steps_per_epoch,
                    validation_data=validation, callbacks=[ValidationMAP(validation)],
                    objective=keras_tuner.Objective("val_map50", "max"),
                    epochs=args.study_epochs)

    # ## The chosen detector, trained and tested
    model = build_model(hp)
    started = time.perf_counter()
    run.fit("yolo", model, train.repeat(), steps_per_epoch=args.steps_per_epoch)
    train_seconds = time.perf_counter() - started
    predictions, truths, seconds = metrics.detections_of(model.predict_on_batch, test,
                                                         timing_repeats=3)
    scores = metrics.detection_scores(predictions, truths, seconds)
    # the faster_rcnn recipe's detector, untrained: timing only (its fixed-size work, proposals
    # and NMS included, does not depend on the weights)
    reference = metrics.evaluate_detector(
        faster_rcnn.build_faster_rcnn(image_shape, num_classes).predict_on_batch, test,
        timing_repeats=3)
    rows = [{"detector": f"YOLO {hp['grid_size']}x{hp['grid_size']}, B={hp['num_anchors']}",
             "test_map50": scores["map50"], "test_coco_map": scores["coco_map"],
             "ms_per_image": scores["ms_per_image"]},
            {"detector": "Faster R-CNN (timing only)", "ms_per_image": reference["ms_per_image"]}]
    recipe.table(rows)

    # ## The grid size and the number of anchors
    #
    # Two grids x two anchor counts, each trained for --study-epochs from the same seed and
    # scored by validation mAP@0.5: an early-training comparison (the default budget cannot
    # train five detectors to the end). Left out under --smoke.
    grid, anchors = hp["grid_size"], hp["num_anchors"]
    grids = (grid, 4 if grid != 4 else 8)
    anchor_counts = (anchors, 1 if anchors != 1 else 3)
    variants = [] if args.smoke else [(g, a) for g in sorted(grids) for a in sorted(anchor_counts)]
    study = []
    for variant_grid, variant_anchors in variants:
        values = dict(hp.values, grid_size=variant_grid, num_anchors=variant_anchors)
        variant_hp = keras_tuner.HyperParameters()
        for name, value in values.items():
            variant_hp.Fixed(name, value)
        keras.utils.set_random_seed(args.seed)
        variant = build_model(variant_hp)
        run.fit(f"grid{variant_grid}_anchors{variant_anchors}", variant, train.repeat(),
                steps_per_epoch=args.steps_per_epoch, epochs=args.study_epochs)
        study.append({"grid": f"{variant_grid}x{variant_grid}", "anchors": variant_anchors,
                      "val_map50": metrics.evaluate_detector(variant.predict_on_batch,
                                                             validation)["map50"]})
    recipe.table(study)

    # ## Detections drawn (dashed white: the true boxes)
    images = next(iter(test))["image"].numpy()[:12]
    plots.plot_detections(images, predictions[:12], run.plot_path("detections"),
                          truths=truths[:12], class_names=list(run.spec.class_names) or None,
                          title="YOLO test detections")

    return run.finish(
        test={"map50": scores["map50"], "coco_map": scores["coco_map"],
              "ms_per_image": scores["ms_per_image"]},
        model=model, curves=("loss",), train_seconds=train_seconds,
        faster_rcnn_ms_per_image=reference["ms_per_image"],
        speedup_over_faster_rcnn=reference["ms_per_image"] / scores["ms_per_image"],
        study=study, anchors=yolo_ops.anchor_priors(sizes, hp["num_anchors"],
                                                    seed=args.seed).tolist(),
    )


if __name__ == "__main__":
    main()
