"""
Title: Overfitting and how to prevent it; weight initialization and vanishing gradients
Course section: "Training and Overfitting", "Preventing Overfitting" (with "Early Stopping", "Weight
Decay", "Dropout", "Batch Normalization", "Weight Initialization", "Xavier initialization",
"Vanishing Gradient")
Description: An over-parameterized MLP on a small slice of the digits overfits: its training loss
goes to zero while its validation loss climbs. Early stopping (patience), weight decay (gamma),
dropout (p) and batch normalization are each trained on the same split from the same seed and
compared with that baseline. The tuner picks gamma and p on validation data; the test set is used
once, by the final model. Then a deep net is initialized with zeros, large values, small
N(0, 0.01), Xavier and He weights, and the gradient norm of every layer at the start of training
shows vanishing gradients with sigmoid and healthy ones with ReLU and a matching initializer.
How to run:
    python recipes/regularization.py                      # kerasnn_digits, offline, 1-2 minutes
    python recipes/regularization.py --train-per-class 50 --epochs 150
    python recipes/regularization.py --smoke              # seconds-long end-to-end check
"""

import time

import keras
import numpy as np
import tensorflow as tf

from kerasnn import cli, data, models, plots, reporting, tuning

"""
## The over-parameterized baseline and its regularized variants

Two hidden layers of 512 ReLU units (~300k weights) for a few hundred training images.
"""

WIDE = (512, 512)


def build(input_shape, num_classes, *, dropout=0.0, weight_decay=0.0, batch_normalization=False):
    model = models.mlp(
        input_shape,
        num_classes,
        hidden_units=WIDE,
        activation="relu",
        output_activation="softmax",
        dropout=dropout,
        weight_decay=weight_decay,
        batch_normalization=batch_normalization,
    )
    # "crossentropy" is the data term alone: the loss also holds the weight-decay penalty.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy(name="crossentropy")],
    )
    return model


def parse(argv):
    parser = cli.recipe_parser(
        "regularization",
        __doc__,
        dataset="kerasnn_digits",
        epochs=100,
        batch_size=32,
        max_trials=4,
        tuner="random",
    )
    parser.add_argument(
        "--train-per-class",
        type=cli.positive_int,
        default=20,
        help="training images per class: few, so that the baseline overfits (default: 20)",
    )
    parser.add_argument(
        "--patience",
        type=cli.positive_int,
        default=10,
        help="early stopping patience in epochs (default: 10)",
    )
    parser.add_argument(
        "--weight-decay",
        type=cli.positive_float,
        default=1e-4,
        help="gamma of the L2 penalty when no tuner runs (default: 1e-4)",
    )
    parser.add_argument(
        "--dropout",
        type=cli.positive_float,
        default=0.5,
        help="dropout rate p when no tuner runs (default: 0.5)",
    )
    args = cli.parse_args(parser, argv)
    if not args.dropout < 1:
        raise cli.UserError(f"--dropout must be below 1, received {args.dropout}")
    if args.smoke:
        args.train_per_class = min(args.train_per_class, 5)
    return args


def load(args):
    splits = data.load_splits(args.dataset, data_dir=args.data_dir)
    x, y = splits["train"]
    if np.issubdtype(y.dtype, np.floating):
        raise cli.UserError(
            f"This recipe needs a classification dataset; {args.dataset!r} has float targets."
        )
    try:
        subset = data.per_class_subset(y, args.train_per_class, seed=args.seed)
    except ValueError as error:
        raise cli.UserError(f"--train-per-class {args.train_per_class}: {error}") from None
    held_out = slice(64 if args.smoke else None)
    return {
        "train": (x[subset], y[subset]),
        **{
            part: tuple(array[held_out] for array in splits[part])
            for part in ("validation", "test")
        },
    }


def train(args, model, splits, callbacks=()):
    """Same seed, same shuffling, same split for every variant."""
    train_batches = data.from_arrays(
        *splits["train"], args.batch_size, shuffle=True, cache=True, seed=args.seed
    )
    validation = data.from_arrays(*splits["validation"], 4096, cache=True)
    history = model.fit(
        train_batches,
        validation_data=validation,
        epochs=args.epochs,
        verbose=0,
        shuffle=False,
        callbacks=list(callbacks),
    ).history
    final = model.evaluate(validation, verbose=0, return_dict=True)
    return history, final


def compare_regularizers(args, splits, input_shape, num_classes):
    variants = {
        "baseline": (dict(), []),
        f"early stopping (patience {args.patience})": (
            dict(),
            [
                keras.callbacks.EarlyStopping(
                    "val_loss", patience=args.patience, restore_best_weights=True
                )
            ],
        ),
        f"weight decay (gamma {args.weight_decay:g})": (dict(weight_decay=args.weight_decay), []),
        f"dropout (p {args.dropout:g})": (dict(dropout=args.dropout), []),
        "batch normalization": (dict(batch_normalization=True), []),
    }
    rows, histories = [], {}
    for name, (options, callbacks) in variants.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        history, final = train(args, build(input_shape, num_classes, **options), splits, callbacks)
        histories[name] = history
        rows.append(
            {
                "variant": name,
                "epochs_run": len(history["loss"]),
                "train_crossentropy": history["crossentropy"][-1],
                "val_crossentropy": final["crossentropy"],
                "val_accuracy": final["accuracy"],
                "min_val_crossentropy": min(history["val_crossentropy"]),
            }
        )
    return rows, histories


"""
## Initialization and the gradient at the start of training

Gradients need ``tf.GradientTape``: ``keras.ops`` has no gradient function.
"""

INITIALIZERS = {
    "zeros": lambda: keras.initializers.Zeros(),
    "large N(0, 1)": lambda: keras.initializers.RandomNormal(stddev=1.0),
    "small N(0, 0.01)": lambda: keras.initializers.RandomNormal(stddev=0.1),
    "Xavier": lambda: keras.initializers.GlorotNormal(),
    "He": lambda: keras.initializers.HeNormal(),
}


def gradient_norms(args, splits, input_shape, num_classes, depth=6, width=64):
    """Norm of the loss gradient w.r.t. each hidden kernel, on one batch, before any update."""
    x, y = (array[:256] for array in splits["train"])
    rows = []
    for activation in ("sigmoid", "relu"):
        for name, initializer in INITIALIZERS.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(args.seed)
            model = models.mlp(
                input_shape,
                num_classes,
                hidden_units=(width,) * depth,
                activation=activation,
                output_activation="softmax",
                kernel_initializer=initializer(),
            )
            kernels = [model.get_layer(f"hidden_{index}").kernel for index in range(depth)]
            with tf.GradientTape() as tape:
                loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
                loss = keras.ops.mean(loss)
            gradients = tape.gradient(loss, kernels)
            norms = [
                float(keras.ops.convert_to_numpy(keras.ops.norm(gradient)))
                for gradient in gradients
            ]
            rows.append(
                {
                    "activation": activation,
                    "initializer": name,
                    "loss": float(loss),
                    **{f"layer_{index + 1}": norm for index, norm in enumerate(norms)},
                }
            )
    return rows


def plot_gradient_norms(rows, path):
    plt = plots.pyplot()

    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, activation in zip(axes, ("sigmoid", "relu")):
        for row in (r for r in rows if r["activation"] == activation):
            norms = [value for key, value in row.items() if key.startswith("layer_")]
            axis.plot(
                np.arange(1, len(norms) + 1),
                np.maximum(norms, 1e-12),
                marker="o",
                label=row["initializer"],
            )
        axis.set_yscale("log")
        axis.set_xlabel("hidden layer (1 = next to the input)")
        axis.set_title(f"{activation}: gradient norm at the start")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("||dL/dW|| (zeros drawn at 1e-12)")
    axes[1].legend(fontsize=8)
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    splits = load(args)
    input_shape = splits["train"][0].shape[1:]
    num_classes = int(splits["train"][1].max()) + 1
    run = cli.run_directory(args)

    rows, histories = compare_regularizers(args, splits, input_shape, num_classes)
    run.plot_history(histories, metrics=("crossentropy", "accuracy"), name="regularizers")
    print(reporting.format_table(rows))

    gradient_rows = gradient_norms(args, splits, input_shape, num_classes)
    plot_gradient_norms(gradient_rows, run.plot_path("gradient_norms"))
    print(reporting.format_table(gradient_rows))

    """
    ## Tune gamma and p on validation data; assess the final model once on the test set
    """

    def build_model(hp):
        weight_decay = hp.Float(
            "weight_decay", 1e-5, 1e-2, sampling="log", default=args.weight_decay
        )
        dropout = hp.Float("dropout", 0.0, 0.7, default=min(args.dropout, 0.7))
        return build(input_shape, num_classes, dropout=dropout, weight_decay=weight_decay)

    train_batches = data.from_arrays(
        *splits["train"], args.batch_size, shuffle=True, cache=True, seed=args.seed
    )
    validation = data.from_arrays(*splits["validation"], 4096, cache=True)
    tuner = tuning.make_tuner(
        args.tuner,
        build_model,
        objective="val_crossentropy",
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    hp = tuning.search(
        tuner,
        build_model,
        train_batches,
        validation_data=validation,
        epochs=args.epochs,
        seed=args.seed,
    )
    model = build_model(hp)
    history = run.fit(
        "tuned", model, train_batches, epochs=args.epochs, validation_data=validation, verbose=0
    )
    test = model.evaluate(*splits["test"], verbose=0, return_dict=True)

    """
    ## Report
    """
    run.write_history({**histories, "tuned": history})
    run.plot_history({"tuned": history})
    run.save_model(model)
    print(
        reporting.format_table(
            [
                {
                    "model": "tuned",
                    **hp.values,
                    "test_crossentropy": test["crossentropy"],
                    "test_accuracy": test["accuracy"],
                }
            ]
        )
    )
    run.write_metrics(
        {
            "recipe": "regularization",
            "dataset": args.dataset,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "train_examples": len(splits["train"][0]),
            "test": test,
            "best_hyperparameters": hp.values,
            "regularizers": rows,
            "gradient_norms": gradient_rows,
            "trials": tuning.trials(tuner),
        }
    )
    return rows, gradient_rows


if __name__ == "__main__":
    main()
