"""
Title: Instance segmentation: a mask branch beside the box branch, on RoIAlign and on RoIPooling
Course section: "Instance Segmentation" (and the output {(x, y, h, w, l, S)_i} of "CNN for Object
Detection")
Description: A Faster R-CNN (small CNN backbone of stride 4, RPN, proposals, RoIAlign, Fast R-CNN
box head) with a mask branch in parallel, as in Mask R-CNN: the positive RoIs are pooled to 7 x 7
and a small FCN (two 3x3 convs, a 2x2 transposed conv, a 1x1 conv) predicts a 14 x 14 mask per
class, trained with the binary cross-entropy of the RoI's class only, on targets cropped from the
instance masks with RoIAlign; at test time the mask of each detection's class is pasted back
into the image. Two mask branches are trained side by side on the same RoIs and features: one
pools with RoIAlign, the other with RoIPooling, whose rounding to feature cells misaligns the
masks (the reason RoIAlign exists). On shapes that touch and overlap objects of their own class.
Reports mask AP@0.5 of both branches (COCO matching on mask IoU), box AP@0.5, and draws the
instances in colours. --tuner is accepted but not used.
How to run:
    python recipes/instance_segmentation.py          # kerasnn_shapes/segment, offline
    python recipes/instance_segmentation.py --smoke  # seconds-long end-to-end check
    python recipes/instance_segmentation.py --dataset coco/2017 --image-size 128   # online
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras
import numpy as np

from kerasnn import cli, metrics, plots, recipe
from kerasnn.data import instances
from kerasnn.models.instance_segmentation import mask_rcnn

POOLINGS = ("roi_align", "roi_pooling")


def flags(parser):
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--mask-roi-size", type=int, default=7,
                        help="s: RoIs pooled to s x s, masks of 2s x 2s (default 7: 14 x 14)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize images to this square size (online datasets)")


def smoke(args):
    args.steps_per_epoch = 4


# ## Data: boxes, labels and one binary mask per object
#
# `kerasnn.data.instances` pads each image's objects (boxes, labels) and turns the instance ids
# into one mask per object; the targets of the mask branch are cropped from them inside the
# training step.


def load_splits(run):
    args = run.args
    try:
        (train, test), image_shape = instances.load_splits(
            args.dataset, run.split_names(("train", "test")), masks=True,
            data_dir=args.data_dir, batch_size=args.batch_size, image_size=args.image_size,
            seed=args.seed)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    return train, test, image_shape


# ## The model
#
# Three [3x3 conv -> ReLU] blocks with 2x2 max pooling after the first two: a stride-4 map
# (16 x 16 for 64 x 64 images), so that an object of 15 pixels spans about 4 cells. Anchors of 12
# and 24 pixels at ratios 1:2, 1:1, 2:1.


def build_model(image_shape, num_classes, args):
    inputs = keras.Input(tuple(image_shape) + (3,))
    x = inputs
    for block, filters in enumerate((16, 32, 64)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        if block < 2:
            x = keras.layers.MaxPooling2D()(x)
    model = mask_rcnn(keras.Model(inputs, x, name="backbone"), num_classes, 4,
                      mask_poolings=POOLINGS, mask_roi_size=args.mask_roi_size, seed=args.seed)
    model(np.zeros((1,) + tuple(image_shape) + (3,), "float32"))  # built: phases save it
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    return model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("instance_segmentation", __doc__, argv, dataset="kerasnn_shapes/segment",
                     epochs=8, batch_size=8, tuner="none", flags=flags, smoke=smoke,
                     smoke_examples=32)
    args = run.args
    for name in ("learning_rate", "steps_per_epoch", "mask_roi_size"):
        if getattr(args, name) <= 0:
            raise cli.UserError(f"--{name.replace('_', '-')} must be positive.")
    train, test, image_shape = load_splits(run)
    run.open()
    model = build_model(image_shape, run.spec.num_classes, args)
    started = time.perf_counter()
    history = run.fit("mask_rcnn", model, train.repeat(), steps_per_epoch=args.steps_per_epoch)
    train_seconds = time.perf_counter() - started

    # ## Scoring: box AP, and mask AP of each branch on the same detections
    predictions, truths, seconds = metrics.detections_of(model.predict_on_batch, test,
                                                         timing_repeats=3)
    scores = metrics.detection_scores(predictions, truths, seconds)
    rows, test_figures = [], {}
    for pooling in POOLINGS:
        with_masks = [dict(p, masks=p[f"masks_{pooling}"]) for p in predictions]
        ap50 = metrics.mask_average_precision(with_masks, truths)
        coco = metrics.coco_mask_average_precision(with_masks, truths)
        test_figures[f"mask_ap50_{pooling}"] = ap50
        rows.append({"mask branch": pooling, "test_mask_ap50": ap50, "test_coco_mask_ap": coco,
                     "final_mask_loss": history[f"mask_loss_{pooling}"][-1]})
    test_figures["box_ap50"] = scores["map50"]
    recipe.table(rows)
    print(f"box AP@0.5 {scores['map50']:.3f}, COCO box AP {scores['coco_map']:.3f}, "
          f"{scores['ms_per_image']:.2f} ms per image")

    # ## Instances drawn in colours (dashed white: the true boxes)
    images = next(iter(test))["image"].numpy()[:12]
    names = list(run.spec.class_names) or None
    for pooling in POOLINGS:
        drawn = [dict(p, masks=p[f"masks_{pooling}"]) for p in predictions[:12]]
        plots.plot_detections(images, drawn, run.plot_path(f"instances_{pooling}"),
                              truths=truths[:12], class_names=names,
                              title=f"test instances, mask branch on {pooling}")

    return run.finish(
        test=test_figures, model=model, curves=("loss",) + model.loss_names,
        train_seconds=train_seconds, mask_branches=rows, coco_box_ap=scores["coco_map"],
        ms_per_image=scores["ms_per_image"],
        final_losses={name: history[name][-1] for name in model.loss_names + ("loss",)},
    )


if __name__ == "__main__":
    main()
