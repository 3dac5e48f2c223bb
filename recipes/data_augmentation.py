"""
Title: Data augmentation and test-time augmentation on a small training set
Course section: "Data Augmentation" (with "Confusion Matrix")
Description: Train the same small VGG on a few labelled images per class, once on the images as
they are and once with random geometric (shift, rotation, zoom, shear, optional flip) and
photometric (noise, brightness, contrast) transformations applied by Keras preprocessing layers
in the tf.data pipeline. Then average the posteriors over augmented copies of each test image
(test-time augmentation). The table compares the four combinations on the full test split; the
confusion matrix shows the best one (chosen on validation data).
How to run:
    python recipes/data_augmentation.py                     # kerasnn_digits, 10 images per class
    python recipes/data_augmentation.py --per-class 50 --tta-copies 16
    python recipes/data_augmentation.py --dataset kerasnn_shapes/classify --flip horizontal \\
        --fill-mode nearest --interpolation bilinear
    python recipes/data_augmentation.py --tuner random --max-trials 6   # search the strengths
    python recipes/data_augmentation.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, data, metrics, models, plots, recipe
from kerasnn.data import augment, tta

# ## The augmentation
#
# Transformations must preserve the label: digits are never flipped by default (a mirrored 2 is
# no 2), shapes may be. Strengths are fractions of the image size (shift, zoom), of a full turn
# (rotation) or of the value range (noise, brightness, contrast). The tuner, when asked, searches
# them; the defaults are what worked on the 8x8 digits.
#
# Tiny images need care: every bilinear resampling of an 8x8 digit blurs it, and zoom or shear
# distort strokes that are one pixel wide. Measured on 10 digits per class (two seeds), bilinear
# rotation + zoom + shear *lowered* test accuracy, while whole-pixel shifts (`nearest`
# interpolation, empty border filled with the black background) raised it. So the default moves
# digits by up to one pixel and adds a little noise and brightness change; the other
# transformations stay available (and searchable) for larger images such as
# `kerasnn_shapes/classify` (use `--fill-mode nearest --interpolation bilinear` there).


def geometry_options(args):
    flip = None if args.flip == "none" else args.flip
    return dict(flip=flip, fill_mode=args.fill_mode, interpolation=args.interpolation)


def training_augmentation(hp, args):
    geometric_options = dict(
        shift=hp.Choice("shift", [0.0, 0.125, 0.25], default=0.125),
        rotation=hp.Choice("rotation", [0.0, 0.03, 0.06], default=0.0),
        zoom=hp.Choice("zoom", [0.0, 0.1, 0.2], default=0.0),
        shear=hp.Choice("shear", [0.0, 0.1, 0.2], default=0.0), **geometry_options(args))
    photometric_options = dict(
        noise=hp.Choice("noise", [0.0, 0.03, 0.06], default=0.03),
        brightness=hp.Choice("brightness", [0.0, 0.05, 0.1], default=0.05),
        contrast=hp.Choice("contrast", [0.0, 0.2], default=0.0))
    return augment.combined(geometric_options=geometric_options,
                            photometric_options=photometric_options, seed=args.seed)


def test_time_augmentation(args):
    """Geometric only: the test copies are shifted versions of the image being classified."""
    return augment.geometric(shift=0.125, rotation=0.0, zoom=0.0, shear=0.0,
                             seed=args.seed, **geometry_options(args))


def build_classifier(input_shape, num_classes):
    """The small VGG every variant trains: two blocks of two 3x3 convolutions."""
    model = models.vgg(input_shape, num_classes, filters=(32, 64), convs_per_block=2,
                       dense_units=(128,), dropout=0.25)
    return recipe.compile_classifier(model, 1e-3)


class AugmentedHyperModel(keras_tuner.HyperModel):
    """Fixed network; the hyperparameters are the augmentation strengths, applied in ``fit``."""

    def __init__(self, input_shape, num_classes, args):
        super().__init__()
        self.input_shape, self.num_classes, self.args = input_shape, num_classes, args

    def build(self, hp):
        training_augmentation(hp, self.args)  # declares the hyperparameters
        return build_classifier(self.input_shape, self.num_classes)

    def fit(self, hp, model, x, *args, **kwargs):
        layer = training_augmentation(hp, self.args)
        augmented = x.map(lambda images, labels: (layer(images, training=True), labels))
        return model.fit(augmented, *args, **kwargs)


def flags(parser):
    parser.add_argument("--per-class", type=cli.positive_int, default=10,
                        help="training images per class (the reduced training set; default: 10)")
    parser.add_argument("--tta-copies", type=cli.positive_int, default=8,
                        help="augmented copies per test image for TTA (default: 8)")
    parser.add_argument("--flip", choices=["none", *augment.FLIP_MODES], default="none",
                        help="random flips (only for label-preserving data; default: none)")
    parser.add_argument("--fill-mode", choices=["constant", "nearest", "reflect", "wrap"],
                        default="constant", help="how geometric transformations fill the border "
                        "(default: constant, the digits' black background)")
    parser.add_argument("--interpolation", choices=["nearest", "bilinear"], default="nearest",
                        help="resampling of geometric transformations (default: nearest, sharp "
                        "on 8x8)")


def smoke(args):
    args.per_class, args.tta_copies = 2, 2


def plot_augmented_samples(images, layer, path, num_images=4, copies=7):
    """Each row: an original training image, then random augmentations of it."""
    grid = []
    for image in images[:num_images]:
        grid.append(image)
        grid.extend(np.asarray(layer(np.repeat(image[None], copies, axis=0), training=True)))
    titles = (["original"] + [f"aug {i + 1}" for i in range(copies)]) * min(num_images, len(images))
    plots.plot_image_grid(np.clip(grid, 0, 1), path, titles=titles, columns=copies + 1)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("data_augmentation", __doc__, argv, dataset="kerasnn_digits", epochs=100,
                     max_trials=4, tuner="none", flags=flags, smoke=smoke)
    args, spec = run.args, run.spec
    try:  # the reduced training set is drawn from the whole training split
        x_train, y_train = data.per_class_arrays(
            args.dataset, data.standard_splits(args.dataset, args.data_dir)["train"],
            args.per_class, data_dir=args.data_dir, seed=args.seed)
    except ValueError as error:
        raise cli.UserError(f"--per-class {args.per_class}: {error}") from None
    (x_val, y_val), (x_test, y_test) = run.arrays(("validation", "test"))
    run.open()

    plain_train = data.from_arrays(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed)
    hypermodel = AugmentedHyperModel(spec.input_shape, spec.num_classes, args)
    hp = run.search(hypermodel, plain_train, validation_data=(x_val, y_val))

    # ## Without and with augmentation: same network, same images, same epochs
    #
    # Both keep the weights of their best validation epoch.
    layer = training_augmentation(hp, args)
    augmented_train = data.from_arrays(x_train, y_train, args.batch_size, shuffle=True,
                                       seed=args.seed, augment=layer)
    trained = {}
    for name, dataset in (("plain", plain_train), ("augmented", augmented_train)):
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        trained[name] = build_classifier(spec.input_shape, spec.num_classes)
        best_epoch = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.epochs,
                                                   restore_best_weights=True)
        run.fit(name, trained[name], dataset, validation_data=(x_val, y_val),
                callbacks=[best_epoch], verbose=0)

    # ## Test-time augmentation: average the posteriors of augmented copies
    #
    # p = Avg({CNN(A_l(I))}) over the original image and `--tta-copies` shifted copies of it.
    test_time = test_time_augmentation(args)
    posteriors = {}
    for name, model in trained.items():
        for split, inputs in (("validation", x_val), ("test", x_test)):
            posteriors[name, split] = model.predict(inputs, verbose=0)
            posteriors[f"{name}+tta", split] = tta.predict_with_tta(
                model, inputs, test_time, num_augmentations=args.tta_copies)
    rows = recipe.table([
        {"variant": variant,
         "val_accuracy": float(np.mean(posteriors[variant, "validation"].argmax(-1) == y_val)),
         "test_accuracy": float(np.mean(posteriors[variant, "test"].argmax(-1) == y_test))}
        for variant in ("plain", "plain+tta", "augmented", "augmented+tta")])

    # ## Report: the confusion matrix of the variant best on validation data
    best = max(rows, key=lambda row: row["val_accuracy"])
    matrix = metrics.confusion_matrix(y_test, posteriors[best["variant"], "test"],
                                      spec.num_classes)
    plots.plot_confusion_matrix(matrix, run.plot_path("confusion_matrix"),
                                class_names=spec.class_names,
                                title=f"{best['variant']} (best on validation), test split")
    plot_augmented_samples(x_train, layer, run.plot_path("augmented_samples"))
    accuracy = {row["variant"]: row["test_accuracy"] for row in rows}
    gain = max(accuracy["augmented"], accuracy["augmented+tta"]) - accuracy["plain"]
    print(f"training set: {len(y_train)} images ({args.per_class} per class); "
          f"augmentation gain on test: {100 * gain:+.1f} points")
    return run.finish(
        test={f"{variant}_accuracy": value for variant, value in accuracy.items()},
        model=trained["augmented"], training_images=len(y_train),
        augmentation_gain_points=100 * gain, best_variant=best["variant"], variants=rows,
        confusion_matrix=matrix)


if __name__ == "__main__":
    main()
