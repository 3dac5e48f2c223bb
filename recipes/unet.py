"""
Title: U-Net and the weight map that separates touching objects
Course section: "U-NET" (and "Full Image" training with a weighted loss)
Description: Train the U-Net (contracting blocks of two 3x3 conv + ReLU and 2x2 max pooling,
expanding blocks of a 2x2 transpose convolution, concatenation with the contracting features and
two 3x3 conv + ReLU, a 1x1 convolution) on shapes that touch and overlap objects of their own
class, with the pixel-wise weighted cross-entropy sum_x w(x) l(x). Twice: w(x) = w_c(x) only
(w0 = 0), then with the border term w0 exp(-(d1 + d2)^2 / (2 sigma^2)) (w0 = 10, sigma = 5 px,
the paper's values) that weighs the thin gaps between objects. Compares mean IoU, the IoU of
the band around the objects' borders (instance borders included), and how many pairs of touching
objects of one class come out as separate blobs.
How to run:
    python recipes/unet.py                  # kerasnn_shapes/segment, offline
    python recipes/unet.py --w0 5 --sigma 3
    python recipes/unet.py --tuner random --max-trials 4   # search depth, filters, rate
    python recipes/unet.py --smoke          # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, losses, metrics, models, plots, recipe


def flags(parser):
    parser.add_argument("--w0", type=float, default=losses.UNET_W0,
                        help="height of the border term (default: the paper's 10)")
    parser.add_argument("--sigma", type=float, default=losses.UNET_SIGMA,
                        help="width of the border term in pixels (default: the paper's 5)")
    parser.add_argument("--band-radius", type=float, default=2.0,
                        help="half-width in pixels of the boundary band of the boundary IoU")


def smoke(args):
    args.max_trials = 1


# ## Data: image, semantic mask, instance ids
#
# The weight map needs the instances (d1, d2 are distances to *objects*); it is computed once in
# NumPy, per image, and given to fit as a per-pixel sample weight. As in the paper, touching
# objects of one class are parted by a one-pixel background line in the targets
# (`losses.separate_touching`): without it they are one blob, and nothing could be learned about
# separating them. The test figures are measured against these targets.


def segmentation_arrays(run):
    # batches of one: the `objects` sequences differ in length from image to image
    parts = run.splits(supervised=False, shuffle=False, batch_size=1)
    arrays, raws = [], []
    for part in parts:
        features = data.feature_arrays(part, keys=("image", "mask", "instances"))
        if "instances" not in features or "mask" not in features:
            raise cli.UserError(f"--dataset {run.args.dataset}: needs `mask` and `instances` "
                                "features (kerasnn_shapes/segment has them)")
        raw = (features["instances"][..., 0].astype("int32"), features["mask"][..., 0])
        instances, masks = losses.separate_touching(*raw)
        arrays.append((features["image"].astype("float32"), masks.astype("int32"), instances))
        raws.append(raw)
    return arrays, raws


def make_build_model(input_shape, num_classes):
    """The hypermodel: depth, base filters and learning rate are searched."""

    def build_model(hp):
        depth = hp.Choice("depth", [2, 3], default=3)
        filters = hp.Choice("filters", [8, 16], default=8)
        learning_rate = hp.Float("learning_rate", 3e-4, 3e-3, sampling="log", default=2e-3)
        model = models.unet(input_shape, num_classes, depth=depth, filters=filters)
        model.compile(keras.optimizers.Adam(learning_rate),
                      loss=losses.PixelwiseWeightedCrossentropy(), weighted_metrics=["accuracy"])
        return model

    return build_model


def evaluate(model, images, masks, instances, raw, num_classes, radius):
    """mIoU and boundary-band IoU against the targets; touching pairs of the data (``raw``:
    instances and masks before ``separate_touching``) predicted as separate blobs."""
    predictions = model.predict(images, verbose=0, batch_size=64).argmax(-1)
    confusion = metrics.segmentation_confusion_matrix(masks, predictions, num_classes)
    band_iou = metrics.boundary_band_iou(masks, predictions, num_classes, radius, instances)
    separated, pairs = metrics.separated_objects(*raw, predictions)
    return predictions, metrics.mean_iou(confusion), band_iou, separated, pairs


@cli.recipe_main
def main(argv=None):
    # The search (depth, filters, learning rate) is opt-in: --tuner random --max-trials 4.
    run = recipe.Run("unet", __doc__, argv, dataset="kerasnn_shapes/segment", epochs=12,
                     batch_size=16, tuner="none", max_trials=4, flags=flags, smoke=smoke)
    args = run.args
    try:
        losses.unet_weight_map(np.zeros((2, 2), int), w0=args.w0, sigma=args.sigma)
        metrics.boundary_band(np.zeros((2, 2), int), args.band_radius)
    except ValueError as error:
        raise cli.UserError(str(error)) from None
    arrays, raws = segmentation_arrays(run)
    (x_train, y_train, i_train), (x_val, y_val, i_val), (x_test, y_test, i_test) = arrays
    num_classes = run.spec.num_classes + 1  # the classes and the background
    run.open()

    # ## The weight maps: w_c from the training masks, then the border term
    class_weights = losses.class_balance_weights(y_train, num_classes)

    def weights(instances, masks, w0):
        return losses.unet_weight_map(instances, masks, class_weights, w0=w0, sigma=args.sigma)

    build_model = make_build_model(x_train.shape[1:], num_classes)
    weighted_train = weights(i_train, y_train, args.w0)
    weighted_val = (x_val, y_val, weights(i_val, y_val, args.w0))
    hp = run.search(build_model, x_train, y_train, sample_weight=weighted_train,
                    validation_data=weighted_val, batch_size=args.batch_size)

    rows, test, trained = [], {}, {}
    for variant, w0 in (("unweighted", 0.0), ("weighted", args.w0)):
        keras.utils.set_random_seed(args.seed)
        model = build_model(hp)
        run.fit(variant, model, x_train, y=y_train, sample_weight=weights(i_train, y_train, w0),
                validation_data=(x_val, y_val, weights(i_val, y_val, w0)),
                batch_size=args.batch_size)
        predictions, miou, band_iou, separated, pairs = evaluate(
            model, x_test, y_test, i_test, raws[2], num_classes, args.band_radius)
        test[f"miou_{variant}"], test[f"boundary_iou_{variant}"] = miou, band_iou
        test[f"separated_{variant}"] = separated
        trained[variant] = (model, predictions)
        rows.append({"loss": variant, "w0": w0, "sigma": args.sigma, "test_miou": miou,
                     "boundary_band_iou": band_iou, "separated": f"{separated}/{pairs}",
                     "params": model.count_params()})
    recipe.table(rows)

    # ## Plots: image, ground truth, weight map, both predictions
    panels, titles = [], []
    for index in range(min(6, len(x_test))):
        w = weights(i_test[index], y_test[index], args.w0)
        top = num_classes - 1
        panels += [x_test[index], plots.grey_images(y_test[index], top), plots.grey_images(w),
                   plots.grey_images(trained["unweighted"][1][index], top),
                   plots.grey_images(trained["weighted"][1][index], top)]
        titles += ["image", "truth", "w(x)", "w0 = 0", f"w0 = {args.w0:g}"]
    plots.plot_image_grid(panels, run.plot_path("predictions"), titles=titles, columns=5,
                          title="U-Net: weight map and predictions")
    return run.finish(test=test, model=trained["weighted"][0], curves=("loss", "accuracy"),
                      table=rows, touching_pairs=pairs, class_weights=class_weights.tolist(),
                      w0=args.w0, sigma=args.sigma, band_radius=args.band_radius)


if __name__ == "__main__":
    main()
