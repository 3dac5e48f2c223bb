"""
Title: R-CNN, Fast R-CNN and Faster R-CNN on embedded shapes
Course section: "Region Proposal", "R-CNN", "Fast R-CNN", "Faster R-CNN", "First stage:",
"Second stage", "At test time"
Description: The chapter's three region-based detectors on one table. R-CNN warps every
proposal out of the image through the CNN, then linear SVMs (multiclass hinge) and box
regression; Fast R-CNN runs the CNN once per image and pools the same proposals (sliding windows)
from its feature map; Faster R-CNN learns its proposals with an RPN (approximate joint training).
Reports test mAP@0.5, COCO mAP, ms per image, training time; proposal recall of the RPN against
sliding windows; duplicates before and after NMS; drawn detections. --tuner searches anchor
scales and ratios, RoIs per image and learning rate on validation mAP@0.5.
How to run:
    python recipes/faster_rcnn.py                 # kerasnn_shapes/detect, offline
    python recipes/faster_rcnn.py --smoke         # seconds-long end-to-end check
    python recipes/faster_rcnn.py --tuner random --max-trials 4
    python recipes/faster_rcnn.py --dataset voc/2007 --image-size 128 --max-boxes 50  # online
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, metrics, plots, recipe
from kerasnn.data import detection
from kerasnn.models import detection as detectors

MAX_BOXES = 3  # kerasnn_shapes/detect draws 1 to 3 objects per image
# Sizes are fractions of the image side (12, 18, 24, 30 px and 12, 24 px anchors at 64 x 64).
WINDOW_SIZES, WINDOW_STRIDE = (0.1875, 0.28125, 0.375, 0.46875), 0.09375
RECALL_COUNTS = (5, 10, 20, 50, 100)
# The tuner's choices (anchor sizes as fractions of the image side).
ANCHOR_SCALES = {"12,24px": (0.1875, 0.375), "8,16,32px": (0.125, 0.25, 0.5)}
ASPECT_RATIOS = {"1:2,1:1,2:1": (0.5, 1.0, 2.0), "1:1": (1.0,)}


def flags(parser):
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--rcnn-epochs", type=int, default=12,
                        help="epochs of R-CNN and Fast R-CNN (--epochs is Faster R-CNN's)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="resize images to this square size (needed by voc/2007)")
    parser.add_argument("--max-boxes", type=int, default=None,
                        help="objects per image at most (default 3 for kerasnn_shapes, else 100)")


def smoke(args):
    args.steps_per_epoch = 8
    args.rcnn_epochs = 1


# ## The backbone and the three detectors
#
# Three [3x3 conv -> ReLU -> 2x2 max pooling] blocks: a stride-8 feature map. R-CNN's CNN is the
# same blocks on 24 x 24 warped crops, flattened to a 128-d feature vector per crop.


def conv_blocks(shape):
    inputs = keras.Input(shape)
    x = inputs
    for filters in (16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    return inputs, x


def build_faster_rcnn(image_shape, num_classes, anchor_scales=(0.1875, 0.375),
                      aspect_ratios=(0.5, 1.0, 2.0), rois_per_image=32):
    inputs, x = conv_blocks(image_shape + (3,))
    return detectors.faster_rcnn(
        keras.Model(inputs, x, name="backbone"), num_classes, image_shape, 8,
        anchor_scales=[s * image_shape[0] for s in anchor_scales], aspect_ratios=aspect_ratios,
        rpn_filters=64, roi_size=5, head_units=128, rois_per_image=rois_per_image,
        rpn_samples=128, pre_nms_top_k=300, train_proposals=64, test_proposals=50,
        max_detections=10)


def build_fast_rcnn(image_shape, num_classes):
    inputs, x = conv_blocks(image_shape + (3,))
    return detectors.fast_rcnn(keras.Model(inputs, x, name="backbone"), num_classes, image_shape,
                               8, roi_size=5, head_units=128, rois_per_image=32,
                               max_detections=10)


def build_rcnn(image_shape, num_classes, crop_size=24):
    inputs, x = conv_blocks((crop_size, crop_size, 3))
    x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(x))
    return detectors.rcnn(keras.Model(inputs, x, name="cnn"), num_classes, image_shape,
                          crop_size=crop_size, rois_per_image=32, max_detections=10)


# ## Scoring: padded detections; `kerasnn.metrics` ignores the -1 padding of the true labels


def evaluate(model, dataset, proposals=None):
    if proposals is None:
        return metrics.evaluate_detector(model.predict_on_batch, dataset)
    return metrics.evaluate_detector(model.predict_on_batch,
                                     detection.with_proposals(dataset, proposals),
                                     input_keys=("image", "proposals"))


class ValidationMAP(keras.callbacks.Callback):
    """`val_map50` in each epoch's logs: the tuner's objective (NumPy batches: the tuner
    deep-copies its callbacks, which a tf.data pipeline does not allow)."""

    def __init__(self, dataset):
        super().__init__()
        self.dataset = [{k: np.asarray(v) for k, v in batch.items()} for batch in dataset]

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_map50"] = evaluate(self.model, self.dataset)["map50"]


def load_splits(run, args, max_boxes):
    names = run.split_names()
    try:
        loaded = [detection.load(args.dataset, split, data_dir=args.data_dir,
                                 batch_size=args.batch_size if i == 0 else 25,
                                 max_boxes=max_boxes, image_size=args.image_size, seed=args.seed,
                                 shuffle=i == 0)
                  for i, split in enumerate(names)]
        class_names = detection.object_class_names(args.dataset, args.data_dir)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    if None in (image_shape := tuple(loaded[0].element_spec["image"].shape[1:3])):
        raise cli.UserError(f"--dataset {args.dataset}: images differ in size; pass --image-size")
    return loaded, class_names, image_shape


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("faster_rcnn", __doc__, argv, dataset="kerasnn_shapes/detect", epochs=20,
                     batch_size=8, tuner="none", max_trials=4, flags=flags, smoke=smoke,
                     smoke_examples=32)
    args = run.args
    if min(args.learning_rate, args.steps_per_epoch, args.rcnn_epochs, args.max_boxes or 1) <= 0 \
            or (args.image_size or 64) < 32:
        raise cli.UserError("--learning-rate, --steps-per-epoch, --rcnn-epochs and --max-boxes "
                            "must be positive, --image-size at least 32.")
    embedded = args.dataset.startswith("kerasnn_shapes")
    max_boxes = args.max_boxes or (MAX_BOXES if embedded else detection.DEFAULT_MAX_BOXES)
    (train, validation, test), class_names, image_shape = load_splits(run, args, max_boxes)
    num_classes, side = len(class_names), image_shape[0]
    windows = detectors.sliding_windows(image_shape, [s * side for s in WINDOW_SIZES],
                                        stride=WINDOW_STRIDE * side)
    run.open()
    steps = dict(steps_per_epoch=args.steps_per_epoch)

    # ## Faster R-CNN, with the tuner's anchors, RoIs per image and learning rate
    def hypermodel(hp):
        model = build_faster_rcnn(
            image_shape, num_classes,
            anchor_scales=ANCHOR_SCALES[hp.Choice("anchor_scales", list(ANCHOR_SCALES))],
            aspect_ratios=ASPECT_RATIOS[hp.Choice("aspect_ratios", list(ASPECT_RATIOS))],
            rois_per_image=hp.Choice("rois_per_image", [32, 16, 64]))
        model(model.example_inputs())  # built: phases save its weights
        model.compile(optimizer=keras.optimizers.Adam(
            hp.Float("learning_rate", 3e-4, 3e-3, sampling="log", default=args.learning_rate)))
        return model

    hp = run.search(hypermodel, train.repeat(), callbacks=[ValidationMAP(validation)],
                    objective=keras_tuner.Objective("val_map50", "max"), **steps)
    results, models = {}, {}
    started = time.perf_counter()
    models["Faster R-CNN"] = hypermodel(hp)
    history = run.fit("faster_rcnn", models["Faster R-CNN"], train.repeat(), **steps)
    results["Faster R-CNN"] = {"train_seconds": time.perf_counter() - started}

    # ## Fast R-CNN and R-CNN on sliding-window proposals
    proposal_train = detection.with_proposals(train, windows).repeat()
    for name, build in (("Fast R-CNN", build_fast_rcnn), ("R-CNN", build_rcnn)):
        started = time.perf_counter()
        models[name] = model = build(image_shape, num_classes)
        model(model.example_inputs())
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
        run.fit(name.lower().replace(" ", "_").replace("-", ""), model, proposal_train,
                epochs=args.rcnn_epochs, **steps)
        results[name] = {"train_seconds": time.perf_counter() - started}

    # ## Report: one table
    rows = []
    for name, model in models.items():
        scores = evaluate(model, test, None if name == "Faster R-CNN" else windows)
        results[name].update(scores)
        rows.append({"method": name, "test_map50": scores["map50"],
                     "test_coco_map": scores["coco_map"], "ms_per_image": scores["ms_per_image"],
                     "train_seconds": results[name]["train_seconds"],
                     "proposals": "RPN (50)" if name == "Faster R-CNN" else
                     f"sliding windows ({len(windows)})"})
    recipe.table(rows)
    faster, rcnn = results["Faster R-CNN"], results["R-CNN"]
    speedup = rcnn["ms_per_image"] / faster["ms_per_image"]

    # ## Proposal recall (IoU >= 0.5) against the number of proposals: RPN vs sliding windows
    images = np.concatenate([b["image"].numpy() for b in test])
    truths = faster["truths"]
    order = np.random.default_rng(args.seed).permutation(len(windows))
    counts = [n for n in RECALL_COUNTS if n <= len(windows)] + [len(windows)]
    recall = {"RPN": [], "sliding windows (random subset)": []}
    # NMS keeps proposals in score order: the best n of the largest count are the best n.
    boxes, _, found = (np.asarray(x) for x in models["Faster R-CNN"].propose(images, counts[-1]))
    for count in counts:
        recall["RPN"].append(metrics.proposal_recall(
            [b[:min(n, count)] for b, n in zip(boxes, found)], truths))
        recall["sliding windows (random subset)"].append(
            metrics.proposal_recall([windows[order[:count]]] * len(images), truths))
    plots.plot_lines(counts, recall, run.plot_path("proposal_recall"), log_x=True,
                     xlabel="proposals per image", ylabel="recall (IoU >= 0.5)")
    recipe.table([{"proposals": n, **{k: v[i] for k, v in recall.items()}}
                  for i, n in enumerate(counts)])

    # ## Duplicates per true box (score >= 0.5, IoU >= 0.5) before and after NMS
    raw = models["Faster R-CNN"].before_nms(images[:100])
    before = [{k: np.asarray(v[i]) for k, v in raw.items()} for i in range(len(raw["scores"]))]
    duplicates = {"before_nms": metrics.duplicate_detections(before, truths[:100]),
                  "after_nms": metrics.duplicate_detections(faster["predictions"][:100],
                                                            truths[:100])}
    print(f"Faster R-CNN {speedup:.1f}x faster per image than R-CNN; duplicates per true box "
          f"{duplicates['before_nms']:.2f} before NMS, {duplicates['after_nms']:.2f} after")
    for name in models:
        plots.plot_detections(images[:8], results[name]["predictions"][:8],
                              run.plot_path(f"detections_{name.lower().replace(' ', '_')}"),
                              truths=truths[:8], class_names=class_names, min_score=0.5, title=name)

    key = {"R-CNN": "rcnn", "Fast R-CNN": "fast_rcnn", "Faster R-CNN": "faster_rcnn"}
    losses = ("loss",) + detectors.LOSS_NAMES
    return run.finish(
        test={"map50_rcnn": rcnn["map50"], "map50_fast_rcnn": results["Fast R-CNN"]["map50"],
              "map50_faster_rcnn": faster["map50"], "coco_map_faster_rcnn": faster["coco_map"],
              "ms_per_image_faster_rcnn": faster["ms_per_image"],
              "ms_per_image_rcnn": rcnn["ms_per_image"]},
        model=models["Faster R-CNN"], curves=losses,
        table=rows,
        speedup_over_rcnn=speedup, proposal_recall={"counts": counts, **recall},
        duplicates_per_box=duplicates, num_sliding_windows=len(windows),
        train_seconds={key[n]: r["train_seconds"] for n, r in results.items()},
        final_losses={name: history[name][-1] for name in losses},
        first_losses={name: history[name][0] for name in losses},
    )


if __name__ == "__main__":
    main()
