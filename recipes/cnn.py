"""
Title: Convolutional networks: LeNet-5, a small VGG and a small Inception net against an MLP
Course section: "Convolutional Neural Networks" (with "Convolutional Layers", "Pooling Layers",
"Relevant CNN Architectures", "Receptive Field")
Description: Train three classic CNN designs on the same images — LeNet-5 (5x5 convolutions,
average pooling, tanh), a VGG (blocks of 3x3 convolutions closed by max pooling) whose filters,
depth and dropout the tuner searches, and an Inception-style net (parallel 1x1/3x3/5x5 branches
with 1x1 reductions) — plus a fully connected network with as many parameters as the VGG.
One table compares test accuracy, parameters, epoch time and receptive field.
How to run:
    python recipes/cnn.py                                   # kerasnn_digits, offline, < 3 minutes
    python recipes/cnn.py --dataset kerasnn_shapes/classify
    python recipes/cnn.py --dataset mnist --epochs 10       # online
    python recipes/cnn.py --smoke                           # seconds-long end-to-end check
"""

import time

import keras
import numpy as np

from kerasnn import cli, data, metrics, models, plots, reporting, tuning
from kerasnn.ops import geometry

"""
## The VGG hypermodel

Filters double from block to block, as in VGG16; each block is `convs_per_block` 3x3
convolutions and a 2x2 max pooling. The tuner chooses the first block's filters, the number of
blocks and convolutions per block, and the dropout before the classifier.
"""

LEARNING_RATE = 1e-3


def compile_model(model):
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def vgg_builder(input_shape, num_classes):
    def build_model(hp):
        filters = hp.Choice("filters", [16, 32, 64], default=32)
        blocks = hp.Int("blocks", 1, 3, default=2)
        convs_per_block = hp.Int("convs_per_block", 1, 2, default=2)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.25, default=0.25)
        model = models.vgg(
            input_shape,
            num_classes,
            filters=[filters * 2**i for i in range(blocks)],
            convs_per_block=convs_per_block,
            dense_units=(128,),
            dropout=dropout,
        )
        return compile_model(model)

    return build_model


"""
## An MLP with the VGG's parameter budget

One hidden layer of ``h`` units on the ``d`` unrolled pixels has ``(d + 1) h + (h + 1) L``
parameters; ``h`` is solved for the VGG's count, so the comparison is about structure (local
connections, weight sharing), not size.
"""


def matching_mlp(input_shape, num_classes, num_params):
    pixels = int(np.prod(input_shape))
    hidden = max(1, round((num_params - num_classes) / (pixels + 1 + num_classes)))
    return models.mlp(
        input_shape, num_classes, hidden_units=(hidden,), dropout=0.25, name="mlp_same_size"
    )


def sequential_receptive_field(model):
    """Receptive field of a chain of convolutions and poolings (LeNet-5, VGG)."""
    local = [
        layer
        for layer in model.layers
        if isinstance(
            layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
        )
    ]
    return geometry.receptive_field(local).size[0]


def inception_receptive_field(num_modules):
    """The widest path: 3x3 stem, then each module's 5x5 branch, 2x2 pooling between modules."""
    path = [(3, 1), (5, 1)] + [(2, 2), (5, 1)] * (num_modules - 1)
    return geometry.receptive_field(path).size


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def parse(argv):
    parser = cli.recipe_parser(
        "cnn",
        __doc__,
        dataset="kerasnn_digits",
        epochs=20,
        batch_size=32,
        max_trials=3,
        tuner="random",
    )
    parser.add_argument(
        "--search-epochs",
        type=cli.positive_int,
        default=8,
        help="epochs per tuner trial (default: 8)",
    )
    parser.add_argument(
        "--patience",
        type=cli.positive_int,
        default=6,
        help="early-stopping patience on validation loss (default: 6)",
    )
    args = cli.parse_args(parser, argv)
    if args.smoke:
        args.search_epochs = 1
    return args


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    spec = data.describe(args.dataset, args.data_dir)
    splits = data.standard_splits(args.dataset, args.data_dir)
    batches = max(1, 64 // args.batch_size) if args.smoke else -1  # --smoke: about 64 examples
    train, validation, test = (
        data.load(
            args.dataset,
            splits[name],
            data_dir=args.data_dir,
            batch_size=args.batch_size,
            seed=args.seed,
        ).take(batches)
        for name in ("train", "validation", "test")
    )
    run = cli.run_directory(args)

    """
    ## Search the VGG's filters, depth and dropout
    """
    build_vgg = vgg_builder(spec.input_shape, spec.num_classes)
    tuner = tuning.make_tuner(
        args.tuner,
        build_vgg,
        objective="val_accuracy",
        max_trials=args.max_trials,
        max_epochs=args.search_epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    hp = tuning.search(
        tuner,
        build_vgg,
        train,
        validation_data=validation,
        epochs=args.search_epochs,
        seed=args.seed,
    )

    """
    ## Train every network the same way
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    networks = {
        "lenet5": compile_model(models.lenet5(spec.input_shape, spec.num_classes)),
        "vgg": build_vgg(hp),
        "inception": compile_model(models.inception_net(spec.input_shape, spec.num_classes)),
    }
    networks["mlp_same_size"] = compile_model(
        matching_mlp(spec.input_shape, spec.num_classes, networks["vgg"].count_params())
    )
    receptive_fields = {
        "lenet5": sequential_receptive_field(networks["lenet5"]),
        "vgg": sequential_receptive_field(networks["vgg"]),
        "inception": inception_receptive_field(len(models.cnn.SMALL_INCEPTION_MODULES)),
    }

    histories, rows = {}, []
    for name, model in networks.items():
        timer = EpochTimer()
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=args.patience, restore_best_weights=True
        )
        histories[name] = run.fit(
            name,
            model,
            train,
            epochs=args.epochs,
            validation_data=validation,
            callbacks=[timer, stop],
            verbose=0,
        )
        _, test_accuracy = model.evaluate(test, verbose=0)
        rows.append(
            {
                "model": name,
                "params": model.count_params(),
                "val_accuracy": max(histories[name]["val_accuracy"]),
                "val_loss": min(histories[name]["val_loss"]),
                "test_accuracy": float(test_accuracy),
                # a resumed (already finished) phase has no fresh timing
                "epoch_seconds": float(np.median(timer.seconds))
                if getattr(timer, "seconds", None)
                else None,
                "epochs": len(histories[name]["loss"]),
                "receptive_field": receptive_fields.get(name),
            }
        )
        print(f"{name}: test accuracy {test_accuracy:.4f}")

    """
    ## Report: the best CNN is chosen on validation accuracy, never on the test split
    """
    cnn_rows = [row for row in rows if row["model"] != "mlp_same_size"]
    best = max(cnn_rows, key=lambda row: (row["val_accuracy"], -row["val_loss"]))
    best_model = networks[best["model"]]
    images, labels = zip(*test.as_numpy_iterator())
    matrix = metrics.confusion_matrix(
        np.concatenate(labels),
        best_model.predict(np.concatenate(images), verbose=0),
        spec.num_classes,
    )
    plots.plot_confusion_matrix(
        matrix,
        run.plot_path("confusion_matrix"),
        class_names=spec.class_names,
        title=f"{best['model']} (best CNN on validation), test split",
    )
    run.plot_history(histories)
    run.write_history(histories)
    run.save_model(best_model)
    print(reporting.format_table(rows))
    print(f"best CNN (validation): {best['model']}, test accuracy {best['test_accuracy']:.4f}")
    run.write_metrics(
        {
            "recipe": "cnn",
            "dataset": args.dataset,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "test": {f"{row['model']}_accuracy": row["test_accuracy"] for row in rows}
            | {"best_cnn": best["model"], "best_cnn_accuracy": best["test_accuracy"]},
            "models": rows,
            "confusion_matrix": matrix,
            "best_hyperparameters": hp.values,
            "trials": tuning.trials(tuner),
        }
    )
    return rows


if __name__ == "__main__":
    main()
