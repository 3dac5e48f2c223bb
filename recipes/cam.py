"""
Title: Weakly supervised localization with class activation maps (CAM)
Course section: "GAP, Localization and CNN Explanations" ("Weakly Supervised Localization",
"The GAP revisited - CAM", "Global Averaging Pooling Layer")
Description: Train a GAP network (convolutions -> GAP -> FC -> softmax) with image labels only,
then read where it looked: the class activation map M_c(x, y) = sum_k w_k^c f_k(x, y) of the
predicted class, upsampled to the image, thresholded, and boxed around its largest connected
region. The boxes are scored against the true boxes, which training never saw (IoU and the
pointing game). The GAP head is compared with a Flatten -> FC head on the same convolutional base:
the notes say classification accuracy may drop while the number of parameters falls.
How to run:
    python recipes/cam.py                          # kerasnn_shapes/classify, offline, ~2 minutes
    python recipes/cam.py --epochs 20 --filters 32,64,128
    python recipes/cam.py --dataset <tfds name with one box per image> --image-size 64
    python recipes/cam.py --smoke                  # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import numpy as np

from kerasnn import cli, explain, models, plots, recipe
from kerasnn.ops import boxes as box_ops


def flags(parser):
    parser.add_argument(
        "--filters",
        default="16,32,64",
        help="filters of the convolutional blocks (default: 16,32,64; pooled "
        "between blocks, so the last maps are input / 2^(blocks - 1))",
    )
    parser.add_argument(
        "--image-size",
        type=cli.positive_int,
        default=None,
        help="resize images to this side (default: the stored size)",
    )


def parse_filters(text):
    try:
        return tuple(int(value) for value in text.split(","))
    except ValueError:
        raise cli.UserError(
            f"--filters must be comma-separated integers, received {text!r}"
        ) from None


def make_build_model(input_shape, num_classes, filters, head):
    """The hypermodel: the learning rate is searched (``--tuner``; default: none)."""

    def build_model(hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3)
        model = models.gap_classifier(input_shape, num_classes, filters=filters, head=head)
        return recipe.compile_classifier(model, learning_rate)

    return build_model


# ## From a heatmap to a box
#
# `explain.heatmaps_to_boxes` keeps the pixels above a fraction of the map's range and boxes the
# largest connected region of them. The CAM paper thresholds at 20% of the maximum; here the
# fraction is chosen on the validation split (`explain.choose_threshold`, best mean box IoU), then
# applied once to the test split. `explain.pointing_game` only asks whether the maximum of the map
# falls inside the true box.


def pixel_boxes(arrays):
    return np.asarray(box_ops.normalized_to_pixels(arrays["box"], arrays["image"].shape[1:3]))


@cli.recipe_main
def main(argv=None):
    run = recipe.Run(
        "cam",
        __doc__,
        argv,
        dataset="kerasnn_shapes/classify",
        epochs=10,
        batch_size=64,
        tuner="none",
        max_trials=4,
        flags=flags,
    )
    filters = parse_filters(run.args.filters)
    spec = run.spec
    train, validation = run.splits(("train", "validation"), image_size=run.args.image_size)
    validation_arrays, test_arrays = run.localization_arrays(
        ("validation", "test"), image_size=run.args.image_size
    )
    input_shape = test_arrays["image"].shape[1:]
    run.open()

    # ## Training with image labels only
    #
    # The GAP head (`kerasnn.layers.ClassActivationMapping`) has one weight per feature map and
    # class; the Flatten -> FC head of the same base has one per feature-map *pixel*.
    build_gap = make_build_model(input_shape, spec.num_classes, filters, "gap")
    hp = run.search(build_gap, train, validation_data=validation)
    rows, trained = [], {}
    for head in ("gap", "flatten"):
        model = make_build_model(input_shape, spec.num_classes, filters, head)(hp)
        run.fit(head, model, train, validation_data=validation)
        _, accuracy = model.evaluate(test_arrays["image"], test_arrays["label"], verbose=0)
        trained[head] = model
        rows.append(
            {
                "head": head,
                "params": model.count_params(),
                "head_params": model.count_params() - trained_base_params(model),
                "test_accuracy": float(accuracy),
            }
        )
    model = trained["gap"]

    # ## Class activation maps as boxes
    validation_maps = explain.cam(model, validation_arrays["image"])
    threshold, validation_ious = explain.choose_threshold(
        explain.box_iou_at, validation_maps, pixel_boxes(validation_arrays)
    )
    maps = explain.cam(model, test_arrays["image"])
    true_boxes = pixel_boxes(test_arrays)
    cam_boxes = explain.heatmaps_to_boxes(maps, threshold)
    ious = explain.box_iou(true_boxes, cam_boxes)
    hits = explain.pointing_game(maps, boxes=true_boxes)
    rows[0].update(cam_box_iou=float(ious.mean()), cam_localization_05=float(np.mean(ious >= 0.5)))
    recipe.table(rows)
    print(
        f"CAM threshold {threshold} (validation box IoU per threshold: "
        + ", ".join(f"{t}: {v:.3f}" for t, v in validation_ious.items())
        + ")"
    )

    # ## Where the network looked, right and wrong
    predicted = model.predict(test_arrays["image"], verbose=0).argmax(-1)
    names = np.asarray(spec.class_names)
    for outcome, chosen in (
        ("right", predicted == test_arrays["label"]),
        ("wrong", predicted != test_arrays["label"]),
    ):
        index = np.flatnonzero(chosen)[:16]
        if len(index):
            plots.plot_heatmap_overlays(
                test_arrays["image"][index],
                maps[index],
                run.plot_path(f"cam_{outcome}"),
                boxes={"true box": true_boxes[index], "CAM box": cam_boxes[index]},
                titles=[f"{names[p]} (IoU {ious[i]:.2f})" for i, p in zip(index, predicted[index])],
                title=f"CAM of the predicted class: {outcome} predictions",
            )
    test = {
        "accuracy": rows[0]["test_accuracy"],
        "cam_box_iou": float(ious.mean()),
        "cam_pointing_accuracy": float(hits.mean()),
    }
    return run.finish(
        test=test,
        model=model,
        heads=rows,
        cam_threshold=threshold,
        validation_box_iou=validation_ious,
        cam_localization_accuracy=float(np.mean(ious >= 0.5)),
    )


def trained_base_params(model):
    """Parameters of the convolutional base (every layer up to the one named ``features``)."""
    total = 0
    for layer in model.layers:
        total += layer.count_params()
        if layer.name == "features":
            return total
    return total


if __name__ == "__main__":
    main()
