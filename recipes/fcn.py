"""
Title: Fully convolutional segmentation: heatmaps, shift-and-stitch, FCN-32s/16s/8s, upsamplings
Course section: "FCNN for Image Segmentation", "Heatmaps", "Direct Heatmap Prediction", "Shift and
Stitch", "Only Convolutions", "Upsampling", "Skip Connections", "Training a CNN" (patch based and
full image)
Description: A small classifier trained on 32x32 shapes is convolutionalized (its Dense layers
become convolutions with the same weights): on 32x32 images it gives exactly the classifier's
scores, on a 64x64 image a heatmap per class. Patch-based segmentation fine-tunes it on patches
labelled by their centre pixel; its coarse heatmap is compared with shift-and-stitch's
full-resolution one. Full-image training then fits FCN-32s, FCN-16s (initialized from 32s) and
FCN-8s (from 16s), with the class-balanced pixel-wise cross-entropy, and compares the four
upsamplings (nearest neighbour, bed of nails, max unpooling, transpose convolution initialized
bilinear) on FCN-8s: test mean IoU, parameters, seconds per epoch.
How to run:
    python recipes/fcn.py                            # kerasnn_shapes/segment, offline
    python recipes/fcn.py --dataset oxford_iiit_pet  # online: its trimaps, images resized to 64
    python recipes/fcn.py --tuner random --max-trials 4   # search rate and backbone width
    python recipes/fcn.py --smoke                    # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, data, losses, metrics, plots, recipe
from kerasnn.data import segmentation as segmentation_data
from kerasnn.models import segmentation

CLASSIFIER_DATASET = "kerasnn_shapes/classify"  # 32x32 shapes, the classes of the segment config


def flags(parser):
    parser.add_argument("--image-size", type=cli.positive_int, default=None,
                        help="resize images and masks to this side, a multiple of 32 (default: "
                             "the dataset's, 64 where sizes vary)")
    parser.add_argument("--classifier-epochs", type=cli.positive_int, default=8,
                        help="epochs of the 32x32 shapes classifier")
    parser.add_argument("--upsamplings", default=",".join(segmentation.UPSAMPLINGS),
                        help="the upsamplings compared on FCN-8s, comma-separated (default: "
                             "all four)")
    parser.add_argument("--patches-per-image", type=cli.positive_int, default=6,
                        help="patches cropped from each training image for patch-based training")


def smoke(args):
    args.max_trials, args.classifier_epochs = 1, 1


def predict_labels(model, images):
    """Per-pixel argmax of ``model`` on ``images``, called eagerly in batches (no prediction
    function to trace for each of the many models)."""
    return np.concatenate([keras.ops.convert_to_numpy(model(images[i:i + 64], training=False))
                           .argmax(-1) for i in range(0, len(images), 64)])


def mean_iou(labels, predictions, num_classes):
    return metrics.mean_iou(metrics.segmentation_confusion_matrix(labels, predictions,
                                                                  num_classes))


def nearest_cells(size, stride, offset, cells):
    """For each of ``size`` pixels, the heatmap cell whose window centre (``offset + i stride``)
    is nearest ("Direct Heatmap Prediction": a cell's label goes to the pixels around it)."""
    return np.clip((np.arange(size) - offset + stride // 2) // stride, 0, cells - 1)


def make_build_model(input_shape, num_classes, variant="8s", upsampling="transpose"):
    """The hypermodel: learning rate and the backbone's base width are searched."""

    def build_model(hp):
        width = hp.Choice("filters", [8, 16], default=16)
        learning_rate = hp.Float("learning_rate", 1e-3, 5e-3, sampling="log", default=3e-3)
        backbone = segmentation.fcn_backbone(input_shape, (width, 2 * width, *[4 * width] * 3),
                                               batch_norm=True)
        model = segmentation.fcn(backbone, num_classes, variant, upsampling)
        model.compile(keras.optimizers.Adam(learning_rate),
                      loss=losses.PixelwiseWeightedCrossentropy(), weighted_metrics=["accuracy"],
                      metrics=[keras.metrics.MeanIoU(num_classes, sparse_y_pred=False,
                                                     name="miou")])
        return model

    return build_model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("fcn", __doc__, argv, dataset="kerasnn_shapes/segment", epochs=6,
                     batch_size=16, tuner="none", max_trials=4, flags=flags, smoke=smoke)
    args = run.args
    # ## Data: images and per-pixel classes (oxford_iiit_pet: its trimap), 32x32 shapes
    try:  # 5 poolings: a multiple of 32
        class_names, size, resize = segmentation_data.resolve(
            args.dataset, args.image_size, 32, args.data_dir)
    except ValueError as error:
        raise cli.UserError(f"--dataset {args.dataset}: {error}") from None
    parts = run.splits(supervised=False, shuffle=False, batch_size=1)
    (x_train, y_train, _), (x_val, y_val, _), (x_test, y_test, _) = [
        segmentation_data.arrays(part, resize) for part in parts]
    num_classes = len(class_names)
    upsamplings = args.upsamplings.split(",")
    for upsampling in upsamplings:
        if upsampling not in segmentation.UPSAMPLINGS:
            raise cli.UserError(f"--upsamplings: {upsampling!r} is not one of "
                                f"{', '.join(segmentation.UPSAMPLINGS)}")
    limit = run.smoke_examples if args.smoke else None
    shapes = [data.load_arrays(CLASSIFIER_DATASET, split, data_dir=args.data_dir, limit=limit)
              for split in ("train", "validation", "test")]
    run.open()

    # ## A classifier, convolutionalized: the same scores, then heatmaps ("Only Convolutions")
    (c_train, l_train), (c_val, l_val), (c_test, l_test) = shapes
    shape_names = data.describe(CLASSIFIER_DATASET, args.data_dir).class_names
    classifier = recipe.compile_classifier(
        segmentation.patch_classifier(c_train.shape[1:], len(shape_names)), 2e-3)
    run.fit("classifier", classifier, c_train, y=l_train, validation_data=(c_val, l_val),
            epochs=args.classifier_epochs, batch_size=64)
    _, classifier_accuracy = classifier.evaluate(c_test, l_test, verbose=0)
    convolutional = segmentation.convolutionalize(classifier)
    scores = classifier.predict(c_test, verbose=0)
    conv_scores = convolutional.predict(c_test, verbose=0)[:, 0, 0]
    # bitwise equality may miss by float32 rounding: a k x k convolution sums in another order
    equality = {"exactly_equal": bool(np.array_equal(scores, conv_scores)),
                "max_abs_difference": float(np.abs(scores - conv_scores).max()),
                "same_predictions": bool(np.array_equal(scores.argmax(-1),
                                                        conv_scores.argmax(-1)))}
    print(f"classifier accuracy {classifier_accuracy:.3f}; convolutionalized on 32x32: {equality}")
    image, patch = x_test[:1], c_train.shape[1]
    stride = 2 ** sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in classifier.layers)
    heatmaps = convolutional.predict(image, verbose=0)[0]  # (9, 9, classes) on 64x64
    cells = nearest_cells(size, stride, patch // 2, len(heatmaps))  # windows centred at 16 + 4i
    overlays = np.moveaxis(heatmaps[cells][:, cells], -1, 0)
    plots.plot_heatmap_overlays(
        np.repeat(image, len(shape_names), 0), overlays, run.plot_path("heatmaps"),
        titles=[f"{n} (max {heatmaps[..., k].max():.2f})" for k, n in enumerate(shape_names)],
        columns=4, title=f"convolutionalized classifier: {heatmaps.shape[0]}x"
                         f"{heatmaps.shape[1]} heatmaps of a {size}x{size} image")

    # ## Patch-based training: patches labelled by their centre, then heatmaps ("Patch Based")
    patches, labels = segmentation_data.center_patches(
        x_train, y_train, patch, len(x_train) * args.patches_per_image, seed=args.seed)
    patch_classifier = segmentation.patch_classifier(patches.shape[1:], num_classes)
    segmentation.initialize_from(classifier, patch_classifier)  # fine-tune all but the scores
    recipe.compile_classifier(patch_classifier, 1e-3)
    v_patches, v_labels = segmentation_data.center_patches(x_val, y_val, patch, len(x_val) * 2)
    run.fit("patches", patch_classifier, patches, y=labels,
            validation_data=(v_patches, v_labels), batch_size=64)
    patch_net = segmentation.convolutionalize(patch_classifier)
    padded = segmentation_data.pad_for_patches(x_test, patch)
    coarse = predict_labels(patch_net, padded)  # cell (i, j): pixel (i f, j f)
    cells = nearest_cells(size, stride, 0, coarse.shape[1])
    coarse = coarse[:, cells][:, :, cells]
    stitched = segmentation.shift_and_stitch(patch_net, padded, stride)[:, :size, :size]
    stitched = stitched.argmax(-1)
    test = {"miou_patch_coarse": mean_iou(y_test, coarse, num_classes),
            "miou_shift_and_stitch": mean_iou(y_test, stitched, num_classes)}

    # ## Full-image training with w_c ("Full Image"): FCN-32s -> 16s -> 8s ("Skip Connections")
    class_weights = losses.class_balance_weights(y_train, num_classes)
    train = dict(x=x_train, y=y_train, sample_weight=class_weights[y_train],
                 validation_data=(x_val, y_val, class_weights[y_val]), batch_size=args.batch_size)
    input_shape = x_train.shape[1:]
    hp = run.search(make_build_model(input_shape, num_classes), train.pop("x"), **train,
                    objective=keras_tuner.Objective("val_miou", "max"))
    train["x"] = x_train
    predictions, previous = {}, None
    for variant in segmentation.FCN_VARIANTS:
        keras.utils.set_random_seed(args.seed)
        model = make_build_model(input_shape, num_classes, variant)(hp)
        if previous is not None:
            segmentation.initialize_from(previous, model)
        run.fit(f"fcn{variant}", model, **train)
        predictions[variant] = predict_labels(model, x_test)
        test[f"miou_fcn{variant}"] = mean_iou(y_test, predictions[variant], num_classes)
        previous = model
    fcn8s = previous

    # ## The four upsamplings on FCN-8s, each trained from scratch for --epochs ("Upsampling")
    rows = []
    for upsampling in upsamplings:
        keras.utils.set_random_seed(args.seed)
        model = make_build_model(input_shape, num_classes, "8s", upsampling)(hp)
        history = run.fit(f"upsampling_{upsampling}", model, **train)
        output = predict_labels(model, x_test)
        test[f"miou_{upsampling}"] = mean_iou(y_test, output, num_classes)
        rows.append({"upsampling": upsampling, "test_miou": test[f"miou_{upsampling}"],
                     "params": model.count_params(),
                     "seconds_per_epoch": float(np.median(history["seconds"]))})
    recipe.table(rows)
    seconds = {phase: float(np.sum(run.histories[phase]["seconds"])) for phase in run.histories}
    patch_seconds = seconds["patches"]
    full_seconds = sum(seconds[f"fcn{variant}"] for variant in segmentation.FCN_VARIANTS)
    training = recipe.table([
        {"training": "patch based, coarse heatmap", "train_seconds": patch_seconds,
         "test_miou": test["miou_patch_coarse"]},
        {"training": "patch based, shift and stitch", "train_seconds": patch_seconds,
         "test_miou": test["miou_shift_and_stitch"]},
        {"training": "full image, FCN-32s -> 16s -> 8s", "train_seconds": full_seconds,
         "test_miou": test["miou_fcn8s"]}])

    # ## Plots: image, ground truth, FCN-32s/16s/8s, coarse and stitched patch-based maps
    panels, titles, top = [], [], num_classes - 1
    for index in range(min(5, len(x_test))):
        maps = [y_test[index], *(predictions[v][index] for v in segmentation.FCN_VARIANTS),
                coarse[index], stitched[index]]
        panels += [x_test[index], *(plots.grey_images(m, top) for m in maps)]
        titles += ["image", "truth", "FCN-32s", "FCN-16s", "FCN-8s", "coarse", "stitched"]
    plots.plot_image_grid(panels, run.plot_path("predictions"), titles=titles, columns=7,
                          title="FCN predictions; patch-based: coarse heatmap, shift-and-stitch")
    return run.finish(test=test, model=fcn8s, upsamplings=rows, training_comparison=training,
                      classifier_accuracy=classifier_accuracy, convolutionalized=equality,
                      heatmap_shape=list(heatmaps.shape), stride=stride,
                      class_names=list(class_names), class_weights=class_weights.tolist())


if __name__ == "__main__":
    main()
