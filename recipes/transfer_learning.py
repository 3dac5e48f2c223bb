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

import contextlib
import os
import socket
import time

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, data, models, plots, reporting, tuning

"""
## The course's recipe

1. take a network trained on a large *source* problem;
2. remove its fully connected layers and put a new head for the new problem;
3. freeze the convolutional base and train the head: **feature extraction**;
4. unfreeze the top of the base and train again with a lower learning rate: **fine-tuning**.

Offline there are no ImageNet weights, so the embedded default makes its own source problem: a
small CNN is pretrained on `kerasnn_shapes/source` (circles, squares, triangles, crosses) and
transferred to `kerasnn_shapes/target` (stars, rings, crescents, ellipses: classes it has never
seen) with only `--shots` labelled images per class.
"""

# Fine-tuning moves pretrained convolutions, with batch norm frozen: Adam's first steps are about
# one learning rate per weight whatever the gradient, so the rate must be far below the head's.
FINE_TUNING_LEARNING_RATE_FACTOR = 0.01


class TransferHyperModel(keras_tuner.HyperModel):
    """Head width, dropout, learning rate and how many base layers to unfreeze.

    ``fit`` runs both phases of the course's recipe, so a trial is scored on the fine-tuned model.
    """

    def __init__(self, make_backbone, num_classes, patience):
        super().__init__()
        self.make_backbone = make_backbone
        self.num_classes = num_classes
        self.patience = patience

    def build(self, hp):
        backbone = self.make_backbone()
        head_units = hp.Choice("head_units", [32, 64, 128], default=64)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.3)
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=5e-3)
        num_tunable = len(models.tunable_layers(backbone))
        hp.Int("unfreeze_layers", 0, num_tunable, default=num_tunable // 2)
        models.set_trainable_tail(backbone, 0)  # feature extraction first
        model = models.classifier(backbone, self.num_classes, head_units, dropout)
        compile_classifier(model, learning_rate)
        return model

    def start_fine_tuning(self, hp, model):
        """Unfreeze the top ``unfreeze_layers`` tunable layers; recompile with a lower rate."""
        models.set_trainable_tail(model.get_layer("backbone"), hp["unfreeze_layers"])
        compile_classifier(model, hp["learning_rate"] * FINE_TUNING_LEARNING_RATE_FACTOR)

    def fit(self, hp, model, x, epochs=1, callbacks=None, **kwargs):
        callbacks = list(callbacks or []) + [early_stopping(self.patience)]
        model.fit(x, epochs=epochs, callbacks=callbacks, **kwargs)
        self.start_fine_tuning(hp, model)
        return model.fit(x, epochs=epochs, callbacks=callbacks, **kwargs)


def compile_classifier(model, learning_rate):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def early_stopping(patience):
    """The course's early stopping: watch the validation error, keep the best weights.

    Accuracy rather than loss: on a few dozen examples the validation loss of a net that is still
    getting more answers right often rises (it grows confident), and stopping on it would keep
    an early, barely trained model.
    """
    return keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
    )


def parse(argv):
    parser = cli.recipe_parser(
        "transfer_learning",
        __doc__,
        dataset="kerasnn_shapes/target",
        epochs=30,
        batch_size=32,
        max_trials=5,
    )
    parser.add_argument(
        "--source-dataset",
        default="kerasnn_shapes/source",
        help="dataset the small_cnn base is pretrained on (default: kerasnn_shapes/source)",
    )
    parser.add_argument(
        "--backbone",
        default="small_cnn",
        help="'small_cnn' or any keras.applications model, e.g. mobilenet_v2",
    )
    parser.add_argument(
        "--weights",
        default=None,
        help="'imagenet' (keras.applications) or a weights file for the base; default: "
        "pretrain small_cnn on --source-dataset, ImageNet for applications",
    )
    parser.add_argument(
        "--shots",
        type=cli.non_negative_int,
        default=10,
        help="labelled training examples per class on the target task; 0 = all (default: 10)",
    )
    parser.add_argument(
        "--pretrain-epochs",
        type=cli.positive_int,
        default=12,
        help="epochs of source pretraining for small_cnn (default: 12)",
    )
    parser.add_argument(
        "--patience",
        type=cli.positive_int,
        default=10,
        help="early-stopping patience in epochs (default: 10)",
    )
    parser.add_argument(
        "--image-size",
        type=cli.positive_int,
        default=None,
        help="resize images to this side (default: the dataset's, 160 for applications)",
    )
    args = cli.parse_args(parser, argv)
    if args.smoke:
        args.pretrain_epochs, args.shots = 1, min(args.shots, 2) or 2
    return args


"""
## The base: pretrained here, or from `keras.applications`
"""


def input_shape_for(args, spec):
    """The base's input shape; settles ``args.image_size`` (160 for applications by default)."""
    height, width, channels = spec.input_shape
    if args.image_size is None:
        if args.backbone != "small_cnn":
            args.image_size = 160
        elif height is None or height != width:
            raise cli.UserError(
                f"images of {args.dataset} are {height}x{width}, not of one square size; "
                "pass --image-size"
            )
    side = args.image_size or height
    return (side, side, channels)


def check_source(args, input_shape):
    """The source dataset must exist and have the target's channels (it is resized to its side)."""
    source = data.describe(args.source_dataset, args.data_dir)
    if source.input_shape[-1] != input_shape[-1]:
        raise cli.UserError(
            f"--source-dataset {args.source_dataset} has {source.input_shape[-1]} channels but "
            f"--dataset {args.dataset} has {input_shape[-1]}: pretrain on images like the target's, "
            "or pass --weights"
        )


def backbone_factory(args, input_shape):
    """A function returning a fresh base with the pretrained weights; checks them once, now."""
    offline = False
    if args.backbone == "small_cnn":
        if args.weights == "imagenet":
            raise cli.UserError(
                "--weights imagenet needs a keras.applications --backbone; small_cnn is "
                "pretrained here on --source-dataset, or loads --weights PATH"
            )
        make = lambda: models.small_cnn_backbone(input_shape)  # noqa: E731
        preprocess = None
    else:
        try:
            _, preprocess = models.keras_application(args.backbone, input_shape, weights=None)
        except ValueError as error:
            raise cli.UserError(str(error)) from None
        imagenet = "imagenet" if (args.weights or "imagenet") == "imagenet" else None
        # Offline, Keras may still find ImageNet weights in its cache, but must not try (and
        # hang on) a download. Probed only here, where a download could happen.
        offline = imagenet is not None and not data.is_online()
        make = lambda: models.keras_application(args.backbone, input_shape, weights=imagenet)[0]  # noqa: E731
    if args.weights and args.weights != "imagenet":
        if not os.access(args.weights, os.R_OK):
            raise cli.UserError(f"cannot read --weights file {args.weights!r}")
        make = _with_weights(make, args.weights)
    try:
        with _network_disabled() if offline else contextlib.nullcontext():
            make()  # fail now, before any training, if the weights cannot be had
    except Exception as error:  # Keras raises several types for a bad file or a failed download
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        where = "; the network is unreachable and Keras has no cached copy" if offline else ""
        raise cli.UserError(
            f"cannot load the base's weights ({args.weights or 'imagenet'}): {reason}{where}"
        ) from None
    keras.backend.clear_session()
    return make, preprocess


@contextlib.contextmanager
def _network_disabled():
    """Within: every new network connection fails at once (downloads use create_connection)."""

    def refuse(*args, **kwargs):
        raise OSError("network access is disabled (offline or KERASNN_OFFLINE=1)")

    connect = socket.create_connection
    socket.create_connection = refuse
    try:
        yield
    finally:
        socket.create_connection = connect


def _with_weights(make_backbone, weights_path):
    def make():
        backbone = make_backbone()
        backbone.load_weights(weights_path)
        return backbone

    return make


def pretrain_on_source(args, run, input_shape):
    """Train small_cnn on the source task; return the path of the base's weights."""
    splits = data.standard_splits(args.source_dataset, args.data_dir)
    spec = data.describe(args.source_dataset, args.data_dir)
    resize = None if spec.input_shape[:2] == input_shape[:2] else input_shape[0]
    load = lambda split: data.load(
        args.source_dataset,
        splits[split],
        data_dir=args.data_dir,  # noqa: E731
        batch_size=args.batch_size,
        image_size=resize,
        seed=args.seed,
    ).take(8 if args.smoke else -1)
    backbone = models.small_cnn_backbone(input_shape)
    model = models.classifier(backbone, spec.num_classes, name="source_classifier")
    compile_classifier(model, 1e-3)
    # Keep the best epoch: the source model's validation accuracy still swings between epochs.
    history = run.fit(
        "pretrain",
        model,
        load("train"),
        epochs=args.pretrain_epochs,
        validation_data=load("validation"),
        callbacks=[early_stopping(args.patience)],
    )
    path = run.file("backbone.weights.h5")
    backbone.save_weights(path)
    return path, history


"""
## Few labelled examples of the target task

`--shots N` keeps N labelled training images per class (and up to 50 per class of the
validation split, for early stopping and the tuner); `--shots 0` streams whole splits. The test
split is always used whole.
"""


def target_data(args, preprocess):
    splits = data.standard_splits(args.dataset, args.data_dir)

    def prepared(dataset):
        if preprocess is None:
            return dataset
        return dataset.map(lambda x, y: (preprocess(x * 255.0), y))

    def stream(split, batch_size):
        return prepared(
            data.load(
                args.dataset,
                splits[split],
                data_dir=args.data_dir,
                batch_size=batch_size,
                image_size=args.image_size,
                shuffle=split == "train",
                seed=args.seed,
            )
        )

    test = stream("test", 256).take(1 if args.smoke else -1)
    if args.shots == 0:
        return stream("train", args.batch_size), stream("validation", 256), test
    subsets = {}
    for split in ("train", "validation"):
        x, y = data.load_arrays(
            args.dataset, splits[split], data_dir=args.data_dir, image_size=args.image_size
        )
        per_class = (
            args.shots
            if split == "train"
            else min(max(args.shots, 50), *np.bincount(y)[np.unique(y)])
        )
        try:
            keep = data.per_class_subset(y, per_class, seed=args.seed)
        except ValueError as error:
            raise cli.UserError(f"--shots {args.shots}: {error}") from None
        subsets[split] = prepared(
            data.from_arrays(
                x[keep], y[keep], args.batch_size, shuffle=split == "train", seed=args.seed
            )
        )
    return subsets["train"], subsets["validation"], test


"""
## Search, then the three runs on the same data
"""


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    spec = data.describe(args.dataset, args.data_dir)
    pretrain = args.backbone == "small_cnn" and not args.weights
    input_shape = input_shape_for(args, spec)
    if pretrain:
        check_source(args, input_shape)
    make_backbone, preprocess = backbone_factory(args, input_shape)
    train, validation, test = target_data(args, preprocess)

    # Everything above only reads; from here on the run directory is written.
    run = cli.run_directory(args)
    histories = {}
    if pretrain:
        weights_path, histories["pretrain"] = pretrain_on_source(args, run, input_shape)
        make_backbone = _with_weights(make_backbone, weights_path)

    hypermodel = TransferHyperModel(make_backbone, spec.num_classes, args.patience)
    tuner = tuning.make_tuner(
        args.tuner,
        hypermodel,
        objective="val_accuracy",
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    hp = tuning.search(
        tuner, hypermodel, train, validation_data=validation, epochs=args.epochs, seed=args.seed
    )

    fit = dict(validation_data=validation, callbacks=[early_stopping(args.patience)])
    scratch_base = (
        models.small_cnn_backbone(input_shape)
        if args.backbone == "small_cnn"
        else models.keras_application(args.backbone, input_shape, weights=None)[0]
    )
    scratch = models.classifier(
        scratch_base, spec.num_classes, hp["head_units"], hp["dropout"], name="scratch"
    )
    compile_classifier(scratch, hp["learning_rate"])
    # The same epoch budget as feature extraction and fine-tuning together.
    histories["scratch"] = run.fit("scratch", scratch, train, epochs=2 * args.epochs, **fit)

    model = hypermodel.build(hp)
    histories["feature_extraction"] = run.fit(
        "feature_extraction", model, train, epochs=args.epochs, **fit
    )
    accuracy = {
        "scratch": scratch.evaluate(test, verbose=0)[1],
        "feature_extraction": model.evaluate(test, verbose=0)[1],
    }
    hypermodel.start_fine_tuning(hp, model)
    histories["fine_tuning"] = run.fit("fine_tuning", model, train, epochs=args.epochs, **fit)
    accuracy["fine_tuning"] = model.evaluate(test, verbose=0)[1]

    """
    ## Report
    """
    best_transfer = max(accuracy["feature_extraction"], accuracy["fine_tuning"])
    run.save_model(model)
    run.write_history(histories)
    run.plot_history(
        {name: histories[name] for name in ("scratch", "feature_extraction", "fine_tuning")}
    )
    plot_test_accuracy(run, accuracy)
    rows = [
        {"run": name, "test_accuracy": value, "epochs_trained": len(histories[name]["loss"])}
        for name, value in accuracy.items()
    ]
    print(reporting.format_table(rows))
    print(f"best transfer - scratch: {100 * (best_transfer - accuracy['scratch']):+.1f} points")
    run.write_metrics(
        {
            "recipe": "transfer_learning",
            "dataset": args.dataset,
            "source_dataset": args.source_dataset if pretrain else None,
            "backbone": args.backbone,
            "weights": args.weights
            or ("pretrained on source" if args.backbone == "small_cnn" else "imagenet"),
            "shots_per_class": args.shots,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "test": {f"{name}_accuracy": value for name, value in accuracy.items()},
            "transfer_gain_points": 100 * (best_transfer - accuracy["scratch"]),
            "best_hyperparameters": hp.values,
            "trials": tuning.trials(tuner),
        }
    )
    return accuracy


def plot_test_accuracy(run, accuracy):
    plt = plots.pyplot()

    figure, axis = plt.subplots(figsize=(5, 3.2))
    names = list(accuracy)
    bars = axis.bar(names, [accuracy[name] for name in names], color=["C0", "C1", "C2"])
    axis.bar_label(bars, fmt="%.3f")
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("test accuracy")
    axis.set_title("Same test split, same few labelled examples")
    plots.save_figure(figure, run.plot_path("test_accuracy"))


if __name__ == "__main__":
    main()
