"""
Title: Transfer learning: feature extraction and fine-tuning against training from scratch
Course section: "Transfer Learning" (with "Hyperparameters" and "Early Stopping")
Description: Take a pretrained convolutional base, replace its fully connected layers by a new
head, train the head with the base frozen (feature extraction), then fine-tune the top of the base
with a lower learning rate — and compare both with the same network trained from scratch on the
same few labelled examples, on the same held-out test split.
How to run:
    python recipes/transfer_learning.py              # embedded default, offline, a few minutes
    python recipes/transfer_learning.py --smoke      # seconds-long end-to-end check
    # online, real data and ImageNet weights:
    python recipes/transfer_learning.py --dataset tf_flowers --backbone mobilenet_v2 \\
        --weights imagenet --image-size 160 --shots 0
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import os

import keras_tuner

from kerasnn import callbacks, cli, data, models, plots, recipe

# ## The course's recipe
#
# 1. take a network trained on a large *source* problem;
# 2. remove its fully connected layers and put a new head for the new problem;
# 3. freeze the convolutional base and train the head: **feature extraction**;
# 4. unfreeze the top of the base and train again with a lower learning rate: **fine-tuning**.
#
# Offline there are no ImageNet weights, so the embedded default makes its own source problem: a
# small CNN pretrained on `kerasnn_shapes/pretrain` (9 shape classes) is moved to `kerasnn_shapes/
# target` (stars, rings, crescents, ellipses: never seen) with `--shots` labels per class.

SOURCE = "kerasnn_shapes/pretrain"

# Fine-tuning moves pretrained convolutions (batch norm frozen) at a tenth of the head's rate: Adam
# moves each weight by about one rate per step; a hundredth barely moved the base (measured).
FINE_TUNING_LEARNING_RATE_FACTOR = 0.1


class TransferHyperModel(keras_tuner.HyperModel):
    """Head width, dropout, learning rate, base layers to unfreeze; ``fit`` runs both phases."""

    def __init__(self, make_backbone, num_classes, patience):
        super().__init__()
        self.make_backbone, self.num_classes, self.patience = make_backbone, num_classes, patience

    def build(self, hp):
        backbone = self.make_backbone()
        head_units = hp.Choice("head_units", [32, 64, 128], default=64)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3)
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=5e-3)
        num_tunable = len(models.tunable_layers(backbone))
        hp.Int("unfreeze_layers", 0, num_tunable, default=num_tunable // 2)
        models.set_trainable_tail(backbone, 0)  # feature extraction first
        model = models.classifier(backbone, self.num_classes, head_units, dropout)
        return recipe.compile_classifier(model, learning_rate)

    def start_fine_tuning(self, hp, model):
        """Unfreeze the top ``unfreeze_layers`` tunable layers; recompile with a lower rate."""
        models.set_trainable_tail(model.get_layer("backbone"), hp["unfreeze_layers"])
        recipe.compile_classifier(model, hp["learning_rate"] * FINE_TUNING_LEARNING_RATE_FACTOR)

    def fit(self, hp, model, x, epochs=1, callbacks=None, validation_data=None, **kwargs):
        fit = dict(epochs=epochs, validation_data=validation_data, **kwargs)
        model.fit(x, callbacks=[*(callbacks or []), early_stopping(self.patience)], **fit)
        start = model.evaluate(validation_data, verbose=0)[1]
        self.start_fine_tuning(hp, model)
        return model.fit(x, callbacks=[*(callbacks or []), early_stopping(self.patience, start)],
                         **fit)


# The course's early stopping watches the validation error and keeps the best weights. Accuracy
# rather than loss: on a few dozen examples the validation loss of a net that is still getting
# more answers right often rises (it grows confident); stopping on it would keep an early model.
# Fine-tuning starts from the feature-extraction weights: they are a candidate too (`start`).


def early_stopping(patience, start=None):
    return callbacks.EarlyStopping(start=start, monitor="val_accuracy", mode="max",
                                   patience=patience)


def flags(parser):
    parser.add_argument("--source-dataset", default=SOURCE,
                        help=f"dataset the small_cnn base is pretrained on (default: {SOURCE})")
    parser.add_argument("--backbone", default="small_cnn",
                        help="'small_cnn' or any keras.applications model, e.g. mobilenet_v2")
    parser.add_argument("--weights", default=None, help="'imagenet' or a weights file; default: "
                        "pretrain small_cnn on --source-dataset, ImageNet for applications")
    parser.add_argument("--shots", type=cli.non_negative_int, default=10, help="labelled "
                        "training examples per class on the target task; 0 = all (default: 10)")
    parser.add_argument("--pretrain-epochs", type=cli.positive_int, default=12,
                        help="epochs of source pretraining for small_cnn (default: 12)")
    parser.add_argument("--patience", type=cli.positive_int, default=10,
                        help="early-stopping patience in epochs (default: 10)")
    parser.add_argument("--image-size", type=cli.positive_int, default=None, help="resize images "
                        "to this side (default: the dataset's, 160 for applications)")


def smoke(args):
    args.pretrain_epochs, args.shots = 1, min(args.shots, 2) or 2


# ## The base: pretrained here, or from `keras.applications`


def input_shape_for(run, spec):  # settles --image-size: 160 for applications by default
    args, (height, width, channels) = run.args, spec.input_shape
    if args.image_size is None and args.backbone != "small_cnn":
        args.image_size = 160
    elif args.image_size is None and (height is None or height != width):
        raise cli.UserError(f"images of {args.dataset} are {height}x{width}, not of one square "
                            "size; pass --image-size")
    side = args.image_size or height  # small_cnn pools 3 times; applications take >= 32 pixels
    run.check_image_size(side, minimum=8 if args.backbone == "small_cnn" else 32, reason="the base")
    return (side,) * 2 + (channels,)


def backbone_factory(args, input_shape):
    """Checks the flags and the weights once, now; returns ``(make_backbone, preprocess)``."""
    if args.backbone == "small_cnn" and args.weights == "imagenet":
        raise cli.UserError("--weights imagenet needs a keras.applications --backbone; small_cnn "
                            "is pretrained here on --source-dataset, or loads --weights PATH")
    if args.weights not in (None, "imagenet") and not os.access(args.weights, os.R_OK):
        raise cli.UserError(f"cannot read --weights file {args.weights!r}")
    if args.backbone == "small_cnn" and not args.weights:  # pretrained on the source here
        source = data.describe(args.source_dataset, args.data_dir)
        if source.input_shape[-1] != input_shape[-1]:
            raise cli.UserError(
                f"--source-dataset {args.source_dataset} has {source.input_shape[-1]} channels "
                f"but --dataset {args.dataset} has {input_shape[-1]}: pretrain on images like "
                "the target's, or pass --weights")
    weights = args.weights or (None if args.backbone == "small_cnn" else "imagenet")
    try:
        return models.backbone_factory(args.backbone, input_shape, weights,
                                       allow_download=data.is_online)
    except ValueError as error:
        raise cli.UserError(str(error)) from None


def pretrain_on_source(run, input_shape):
    """Train small_cnn on the source task (best epoch kept); return the base's weights file."""
    args, spec = run.args, data.describe(run.args.source_dataset, run.args.data_dir)
    splits = data.standard_splits(args.source_dataset, args.data_dir)
    resize = None if spec.input_shape[:2] == input_shape[:2] else input_shape[0]
    train, validation = (
        data.load(args.source_dataset, splits[split] + ("[:256]" if args.smoke else ""),
                  data_dir=args.data_dir, batch_size=args.batch_size, image_size=resize,
                  seed=args.seed) for split in ("train", "validation"))
    backbone = models.small_cnn_backbone(input_shape)
    model = models.classifier(backbone, spec.num_classes, name="source_classifier")
    recipe.compile_classifier(model, 1e-3)
    run.fit("pretrain", model, train, epochs=args.pretrain_epochs, validation_data=validation,
            callbacks=[early_stopping(args.patience)])
    backbone.save_weights(run.directory.file("backbone.weights.h5"))
    return run.directory.file("backbone.weights.h5")


# ## Few labelled examples of the target task
#
# `--shots N` keeps N labelled training images per class (and up to 50 per class of the
# validation split, for early stopping and the tuner); `--shots 0` streams whole splits. The test
# split is always used whole.


def target_data(args, preprocess):
    splits = data.standard_splits(args.dataset, args.data_dir)
    load = dict(data_dir=args.data_dir, image_size=args.image_size, seed=args.seed)

    def prepared(dataset):  # an application's weights expect its own input range
        return dataset.map(lambda x, y: (preprocess(x * 255.0), y)) if preprocess else dataset

    test = prepared(data.load(args.dataset, splits["test"], batch_size=256, **load))
    test = test.take(1 if args.smoke else -1)
    if args.shots == 0:
        return [prepared(data.load(args.dataset, splits[split], batch_size=size, **load))
                for split, size in (("train", args.batch_size), ("validation", 256))] + [test]
    try:
        train = data.per_class_arrays(args.dataset, splits["train"], args.shots, **load)
    except ValueError as error:
        raise cli.UserError(f"--shots {args.shots}: {error}") from None
    validation = data.per_class_arrays(args.dataset, splits["validation"], max(args.shots, 50),
                                       at_most=True, **load)
    return (prepared(data.from_arrays(*train, args.batch_size, shuffle=True, seed=args.seed)),
            prepared(data.from_arrays(*validation, args.batch_size)), test)


def plot_test_accuracy(accuracy, path):
    figure, axis = plots.pyplot().subplots(figsize=(5, 3.2))
    axis.bar_label(axis.bar(list(accuracy), list(accuracy.values()), color=["C0", "C1", "C2"]),
                   fmt="%.3f")
    axis.set(ylim=(0, 1.05), ylabel="test accuracy",
             title="Same test split, same few labelled examples")
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("transfer_learning", __doc__, argv, dataset="kerasnn_shapes/target",
                     epochs=30, max_trials=5, flags=flags, smoke=smoke)
    args, spec = run.args, run.spec
    pretrain = args.backbone == "small_cnn" and not args.weights
    input_shape = input_shape_for(run, spec)
    make_backbone, preprocess = backbone_factory(args, input_shape)
    train, validation, test = target_data(args, preprocess)
    run.open()
    if pretrain:
        make_backbone = models.with_weights(make_backbone, pretrain_on_source(run, input_shape))

    # ## Search, then the three runs on the same data
    hypermodel = TransferHyperModel(make_backbone, spec.num_classes, args.patience)
    hp = run.search(hypermodel, train, validation_data=validation)
    fit = dict(validation_data=validation, callbacks=[early_stopping(args.patience)])
    scratch_base, _ = models.backbone(args.backbone, input_shape)
    scratch = recipe.compile_classifier(
        models.classifier(scratch_base, spec.num_classes, hp["head_units"], hp["dropout"],
                          name="scratch"), hp["learning_rate"])
    run.fit("scratch", scratch, train, epochs=2 * args.epochs, **fit)  # the budget of FE + FT
    model = hypermodel.build(hp)
    run.fit("feature_extraction", model, train, **fit)
    accuracy = {"scratch": scratch.evaluate(test, verbose=0)[1],
                "feature_extraction": model.evaluate(test, verbose=0)[1]}
    start = model.evaluate(validation, verbose=0)[1]
    hypermodel.start_fine_tuning(hp, model)
    run.fit("fine_tuning", model, train, validation_data=validation,
            callbacks=[early_stopping(args.patience, start)])
    accuracy["fine_tuning"] = model.evaluate(test, verbose=0)[1]

    # ## Report
    best_transfer = max(accuracy["feature_extraction"], accuracy["fine_tuning"])
    plot_test_accuracy(accuracy, run.plot_path("test_accuracy"))
    recipe.table([{"run": name, "test_accuracy": value,
                   "epochs_trained": len(run.histories[name]["loss"])}
                  for name, value in accuracy.items()])
    print(f"best transfer - scratch: {100 * (best_transfer - accuracy['scratch']):+.1f} points")
    return run.finish(
        test={f"{name}_accuracy": value for name, value in accuracy.items()}, model=model,
        source_dataset=args.source_dataset if pretrain else None, backbone=args.backbone,
        weights=args.weights or ("pretrained on source" if pretrain else "imagenet"),
        shots_per_class=args.shots,
        transfer_gain_points=100 * (best_transfer - accuracy["scratch"]))


if __name__ == "__main__":
    main()
