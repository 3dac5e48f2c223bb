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
    python recipes/unet.py --tuner random --max-trials 4   # depth, filters, rate, w0, sigma
    python recipes/unet.py --dataset oxford_iiit_pet  # online: trimaps, images resized to 64
    python recipes/unet.py --smoke          # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, losses, metrics, models, plots, recipe
from kerasnn.data import segmentation as segmentation_data


def flags(parser):
    parser.add_argument("--w0", type=float, default=losses.UNET_W0,
                        help="height of the border term (default: the paper's 10)")
    parser.add_argument("--sigma", type=float, default=losses.UNET_SIGMA,
                        help="width of the border term in pixels (default: the paper's 5)")
    parser.add_argument("--image-size", type=cli.positive_int, default=None,
                        help="resize images and masks to this side, a multiple of 8 (default: "
                             "the dataset's, 64 where sizes vary)")
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


def segmentation_arrays(run, image_size):
    # batches of one: the `objects` sequences (and oxford_iiit_pet's image sizes) differ
    parts = run.splits(supervised=False, shuffle=False, batch_size=1)
    arrays, raws = [], []
    for part in parts:
        images, masks, instances = segmentation_data.arrays(part, image_size)
        if instances is None:
            raise cli.UserError(f"--dataset {run.args.dataset}: needs instance ids (an "
                                "`instances` mask as kerasnn_shapes/segment's, or a pet trimap)")
        arrays.append((images, *reversed(losses.separate_touching(instances, masks))))
        raws.append((instances, masks))
    return arrays, raws


class WeightedUNet(keras_tuner.HyperModel):
    """The hypermodel: depth, base filters, learning rate, and the weight map's w0 and sigma.
    The map belongs to the data, so ``fit`` computes it for the trial's w0 and sigma. Trials are
    compared on the validation mean IoU, which does not depend on the weights."""

    def __init__(self, input_shape, num_classes, class_weights, w0, sigma):
        super().__init__()
        self.input_shape, self.num_classes, self.class_weights = (input_shape, num_classes,
                                                                  class_weights)
        self.w0, self.sigma = w0, sigma

    def build(self, hp):
        depth = hp.Choice("depth", [2, 3], default=3)
        filters = hp.Choice("filters", [8, 16], default=8)
        learning_rate = hp.Float("learning_rate", 3e-4, 3e-3, sampling="log", default=2e-3)
        hp.Choice("w0", sorted({5.0, 10.0, 20.0, self.w0}), default=self.w0)
        hp.Choice("sigma", sorted({3.0, 5.0, 8.0, self.sigma}), default=self.sigma)
        model = models.unet(self.input_shape, self.num_classes, depth=depth, filters=filters)
        model.compile(keras.optimizers.Adam(learning_rate),
                      loss=losses.PixelwiseWeightedCrossentropy(), weighted_metrics=["accuracy"],
                      metrics=[keras.metrics.MeanIoU(self.num_classes, sparse_y_pred=False,
                                                     name="miou")])
        return model

    def weights(self, instances, masks, w0, sigma):
        return losses.unet_weight_map(instances, masks, self.class_weights, w0=w0, sigma=sigma)

    def fit(self, hp, model, x, y, instances, validation_data, **kwargs):
        """``fit`` with the weight maps of the trial's w0 and sigma; ``validation_data`` is
        ``(images, masks, instances)``."""
        w0, sigma = hp["w0"], hp["sigma"]
        x_val, y_val, i_val = validation_data
        return model.fit(x, y, sample_weight=self.weights(instances, y, w0, sigma),
                         validation_data=(x_val, y_val, self.weights(i_val, y_val, w0, sigma)),
                         **kwargs)


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
    # The search (depth, filters, rate, w0, sigma) is opt-in: --tuner random --max-trials 4.
    run = recipe.Run("unet", __doc__, argv, dataset="kerasnn_shapes/segment", epochs=12,
                     batch_size=16, tuner="none", max_trials=4, flags=flags, smoke=smoke)
    args = run.args
    try:
        losses.unet_weight_map(np.zeros((2, 2), int), w0=args.w0, sigma=args.sigma)
        metrics.boundary_band(np.zeros((2, 2), int), args.band_radius)
    except ValueError as error:
        raise cli.UserError(str(error)) from None
    try:  # depth 3: a multiple of 8
        class_names, size, resize = segmentation_data.resolve(
            args.dataset, args.image_size, 8, args.data_dir)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    arrays, raws = segmentation_arrays(run, resize)
    (x_train, y_train, i_train), (x_val, y_val, i_val), (x_test, y_test, i_test) = arrays
    num_classes = len(class_names)
    run.open()

    # ## The weight maps: w_c from the training masks, then the border term
    class_weights = losses.class_balance_weights(y_train, num_classes)
    hypermodel = WeightedUNet(x_train.shape[1:], num_classes, class_weights, args.w0, args.sigma)
    hp = run.search(hypermodel, x_train, y_train, instances=i_train,
                    validation_data=(x_val, y_val, i_val), batch_size=args.batch_size,
                    objective=keras_tuner.Objective("val_miou", "max"))
    sigma = hp["sigma"]

    def weights(instances, masks, w0):
        return hypermodel.weights(instances, masks, w0, sigma)

    rows, test, trained = [], {}, {}
    for variant, w0 in (("unweighted", 0.0), ("weighted", hp["w0"])):
        keras.utils.set_random_seed(args.seed)
        model = hypermodel.build(hp)
        run.fit(variant, model, x_train, y=y_train, sample_weight=weights(i_train, y_train, w0),
                validation_data=(x_val, y_val, weights(i_val, y_val, w0)),
                batch_size=args.batch_size)
        predictions, miou, band_iou, separated, pairs = evaluate(
            model, x_test, y_test, i_test, raws[2], num_classes, args.band_radius)
        test[f"miou_{variant}"], test[f"boundary_iou_{variant}"] = miou, band_iou
        test[f"separated_{variant}"] = separated
        trained[variant] = (model, predictions)
        rows.append({"loss": variant, "w0": w0, "sigma": sigma, "test_miou": miou,
                     "boundary_band_iou": band_iou, "separated": f"{separated}/{pairs}",
                     "params": model.count_params()})
    recipe.table(rows)

    # ## Plots: image, ground truth, weight map, both predictions
    panels, titles = [], []
    for index in range(min(6, len(x_test))):
        w = weights(i_test[index], y_test[index], hp["w0"])
        top = num_classes - 1
        panels += [x_test[index], plots.grey_images(y_test[index], top), plots.grey_images(w),
                   plots.grey_images(trained["unweighted"][1][index], top),
                   plots.grey_images(trained["weighted"][1][index], top)]
        titles += ["image", "truth", "w(x)", "w0 = 0", f"w0 = {hp['w0']:g}"]
    plots.plot_image_grid(panels, run.plot_path("predictions"), titles=titles, columns=5,
                          title="U-Net: weight map and predictions")
    return run.finish(test=test, model=trained["weighted"][0], curves=("loss", "accuracy"),
                      table=rows, touching_pairs=pairs, class_weights=class_weights.tolist(),
                      w0=hp["w0"], sigma=sigma, band_radius=args.band_radius)


if __name__ == "__main__":
    main()
