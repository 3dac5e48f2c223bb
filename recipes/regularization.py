"""
Title: Overfitting and how to prevent it; weight initialization and vanishing gradients
Course section: "Training and Overfitting", "Preventing Overfitting" (with "Early Stopping", "Weight
Decay", "Dropout", "Batch Normalization", "Regularization", "Weight Initialization", "Xavier
initialization", "Vanishing Gradient")
Description: An over-parameterized MLP on a small slice of the digits overfits: its training loss
goes to zero while its validation loss climbs. Early stopping (monitor, min_delta, patience),
weight decay (gamma, norm 2 or 1), dropout (p) and batch normalization are each trained on the same
split from the same seed against that baseline; inverted dropout (what Keras runs) and the notes'
scaling at evaluation are shown, measured, to give the same expected activation. gamma, its norm
and p are chosen by k-fold cross-validation; the test set is used once, by the final model. The
gradient norm of every layer of a deep net at the start of training, for zeros, large, small,
the notes' Xavier N(0, 1/n_in), Keras' Glorot and He initial weights, shows vanishing gradients
with sigmoid and healthy ones with ReLU and a matching initializer.
How to run:
    python recipes/regularization.py                      # kerasnn_digits, offline, 1-2 minutes
    python recipes/regularization.py --train-per-class 50 --epochs 150
    python recipes/regularization.py --weight-decay-norm l1 --min-delta 0.01 --patience 5
    python recipes/regularization.py --smoke              # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kerasnn import cli, data, models, plots, recipe, tuning

# ## The over-parameterized baseline and its regularized variants
#
# Two hidden layers of 512 ReLU units (~300k weights) for a few hundred training images. The
# "crossentropy" metric is the data term alone: the loss also holds the weight-decay penalty
# gamma * sum w^2 (norm 2, "Weight Decay") or gamma * sum |w| (norm 1, "Regularization").

WIDE = (512, 512)
MONITORS = ("val_loss", "val_crossentropy", "val_accuracy")


def build(input_shape, num_classes, **options):
    model = models.mlp(input_shape, num_classes, hidden_units=WIDE, activation="relu", **options)
    return recipe.compile_classifier(model, 1e-3, metrics=(
        "accuracy", keras.metrics.SparseCategoricalCrossentropy(name="crossentropy")))


def flags(parser):
    parser.add_argument("--train-per-class", type=cli.positive_int, default=20,
                        help="training images per class: few, so that the baseline overfits "
                             "(default: 20)")
    parser.add_argument("--monitor", choices=MONITORS, default="val_loss",
                        help="quantity early stopping watches (default: val_loss)")
    parser.add_argument("--min-delta", type=float, default=0.0,
                        help="smallest absolute change counted as an improvement (default: 0)")
    parser.add_argument("--patience", type=cli.positive_int, default=10,
                        help="epochs without improvement before early stopping (default: 10)")
    parser.add_argument("--weight-decay", type=cli.positive_float, default=1e-4,
                        help="gamma of the penalty when no tuner runs (default: 1e-4)")
    parser.add_argument("--weight-decay-norm", choices=("l2", "l1"), default="l2",
                        help="norm of the weight penalty when no tuner runs (default: l2)")
    parser.add_argument("--dropout", type=cli.positive_float, default=0.5,
                        help="dropout rate p when no tuner runs (default: 0.5)")
    parser.add_argument("--folds", type=cli.positive_int, default=3,
                        help="k of the k-fold cross-validation that scores each trial (default: 3)")


def smoke(args):
    args.train_per_class, args.folds = min(args.train_per_class, 5), 2


def load(args):
    if not args.dropout < 1:
        raise cli.UserError(f"--dropout must be below 1, received {args.dropout}")
    if args.min_delta < 0:
        raise cli.UserError(f"--min-delta must be at least 0, received {args.min_delta}")
    if args.folds < 2:
        raise cli.UserError(f"--folds must be at least 2, received {args.folds}")
    splits = data.load_splits(args.dataset, data_dir=args.data_dir)
    x, y = splits["train"]
    if np.issubdtype(y.dtype, np.floating):
        raise cli.UserError(
            f"This recipe needs a classification dataset; {args.dataset!r} has float targets.")
    try:
        subset = data.per_class_subset(y, args.train_per_class, seed=args.seed)
    except ValueError as error:
        raise cli.UserError(f"--train-per-class {args.train_per_class}: {error}") from None
    held_out = slice(64 if args.smoke else None)  # --smoke: 64 validation and test images
    return {"train": (x[subset], y[subset]),
            **{part: tuple(a[held_out] for a in splits[part]) for part in ("validation", "test")}}


def compare_regularizers(run, train, validation, input_shape, num_classes):
    """Every variant is a named phase of the run: same seed, same shuffling, same split."""
    args = run.args
    stop = keras.callbacks.EarlyStopping(args.monitor, min_delta=args.min_delta,
                                         patience=args.patience, restore_best_weights=True)
    variants = {
        "baseline": ({}, []),
        f"early stopping ({args.monitor}, min_delta {args.min_delta:g}, patience "
        f"{args.patience})": ({}, [stop]),
        f"weight decay ({args.weight_decay_norm}, gamma {args.weight_decay:g})": (
            dict(weight_decay=args.weight_decay, weight_decay_norm=args.weight_decay_norm), []),
        f"dropout (p {args.dropout:g})": (dict(dropout=args.dropout), []),
        "batch normalization": (dict(batch_normalization=True), []),
    }
    rows, trained = [], {}
    for name, (options, callbacks) in variants.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build(input_shape, num_classes, **options)
        history = run.fit(name, model, train, validation_data=validation, callbacks=callbacks,
                          verbose=0)
        final = model.evaluate(validation, verbose=0, return_dict=True)
        trained[name.split(" (")[0]] = model
        rows.append({"variant": name, "epochs_run": len(history["loss"]),
                     "train_crossentropy": history["crossentropy"][-1],
                     "val_crossentropy": final["crossentropy"], "val_accuracy": final["accuracy"],
                     "min_val_crossentropy": min(history["val_crossentropy"])})
    return rows, trained


# ## Dropout: inverted (Keras) and the notes' scaling at evaluation
#
# Keras runs inverted dropout: in training a unit is kept with probability 1 - p and scaled by
# 1 / (1 - p); at evaluation the layer is the identity. The notes drop units without scaling in
# training, so the expected activation is (1 - p) h, and scale at evaluation to match: by (1 - p)
# (the 1 / (1 - p) the notes name is what inverted dropout applies in training). Measured on the
# dropout model's first hidden activations h: mean over many masks against the evaluation output.


def dropout_expectation(model, x, rate, masks=500, seed=0):
    h = ops.convert_to_numpy(keras.Model(model.input, model.get_layer("activation_0").output)(x))
    sampled = ops.convert_to_numpy(keras.layers.Dropout(rate, seed=seed)(
        np.broadcast_to(h, (masks, *h.shape)), training=True))  # masks x h: one mask per copy
    schemes = {"inverted (Keras, runs here)": (sampled.mean(axis=0), h),
               "notes (scale at evaluation)": ((1 - rate) * sampled.mean(axis=0), (1 - rate) * h)}
    rows = []
    for scheme, (mean_training, evaluation) in schemes.items():
        active = evaluation > 1e-3
        rows.append({"scheme": scheme, "masks": masks,
                     "mean_training_activation": float(mean_training.mean()),
                     "evaluation_activation": float(evaluation.mean()),
                     "ratio": float(mean_training.mean() / evaluation.mean()),
                     "median_unit_deviation": float(np.median(np.abs(
                         mean_training[active] / evaluation[active] - 1)))})
    return rows


# ## Initialization and the gradient at the start of training
#
# The notes' Xavier initialization is w ~ N(0, 1/n_in): Keras' `VarianceScaling(1, "fan_in",
# "untruncated_normal")`, per layer. Keras' `GlorotNormal` ("Xavier" in Glorot & Bengio) is a
# truncated N(0, 2 / (n_in + n_out)), He a truncated N(0, 2 / n_in): labelled as such. Gradients
# need `tf.GradientTape`: `keras.ops` has no gradient function.

INITIALIZERS = {
    "zeros": lambda: keras.initializers.Zeros(),
    "large N(0, 1)": lambda: keras.initializers.RandomNormal(stddev=1.0),
    "small N(0, 0.01)": lambda: keras.initializers.RandomNormal(stddev=0.1),
    "Xavier N(0, 1/n_in)": lambda: keras.initializers.VarianceScaling(
        1.0, "fan_in", "untruncated_normal"),
    "Glorot normal (Keras)": lambda: keras.initializers.GlorotNormal(),
    "He normal (Keras)": lambda: keras.initializers.HeNormal(),
}


def gradient_norms(args, splits, input_shape, num_classes, depth=6, width=64):
    """Norm of the loss gradient w.r.t. each hidden kernel, on one batch, before any update."""
    x, y = (array[:256] for array in splits["train"])
    rows = []
    for activation in ("sigmoid", "relu"):
        for name, initializer in INITIALIZERS.items():
            keras.backend.clear_session()
            keras.utils.set_random_seed(args.seed)
            model = models.mlp(input_shape, num_classes, hidden_units=(width,) * depth,
                               activation=activation, kernel_initializer=initializer())
            kernels = [model.get_layer(f"hidden_{index}").kernel for index in range(depth)]
            with tf.GradientTape() as tape:
                loss = ops.mean(keras.losses.sparse_categorical_crossentropy(
                    y, model(x, training=True)))
            norms = [float(ops.norm(gradient)) for gradient in tape.gradient(loss, kernels)]
            rows.append({"activation": activation, "initializer": name, "loss": float(loss),
                         **{f"layer_{index + 1}": norm for index, norm in enumerate(norms)}})
    return rows


def plot_gradient_norms(rows, path):
    figure, axes = plots.pyplot().subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, activation in zip(axes, ("sigmoid", "relu")):
        for row in (r for r in rows if r["activation"] == activation):
            norms = [value for key, value in row.items() if key.startswith("layer_")]
            axis.plot(np.arange(1, len(norms) + 1), np.maximum(norms, 1e-12), marker="o",
                      label=row["initializer"])
        axis.set(yscale="log", xlabel="hidden layer (1 = next to the input)",
                 title=f"{activation}: gradient norm at the start")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("||dL/dW|| (zeros drawn at 1e-12)")
    axes[1].legend(fontsize=8)
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("regularization", __doc__, argv, dataset="kerasnn_digits", epochs=100,
                     max_trials=4, flags=flags, smoke=smoke)
    args = run.args
    splits = load(args)
    input_shape, num_classes = splits["train"][0].shape[1:], int(splits["train"][1].max()) + 1
    run.open()

    train, validation = data.from_splits(splits, args.batch_size, seed=args.seed)
    rows, trained = compare_regularizers(run, train, validation, input_shape, num_classes)
    run.directory.plot_history(run.histories, ("crossentropy", "accuracy"), name="regularizers")
    recipe.table(rows)
    dropout_rows = recipe.table(dropout_expectation(
        trained["dropout"], splits["validation"][0][:64], args.dropout, seed=args.seed))
    gradient_rows = gradient_norms(args, splits, input_shape, num_classes)
    plot_gradient_norms(gradient_rows, run.plot_path("gradient_norms"))
    recipe.table(gradient_rows)

    # ## Choose gamma, its norm and p by k-fold cross-validation; test the final model once

    def build_model(hp):
        weight_decay = hp.Float("weight_decay", 1e-5, 1e-2, sampling="log",
                                default=args.weight_decay)
        norm = hp.Choice("weight_decay_norm", ["l2", "l1"], default=args.weight_decay_norm)
        dropout = hp.Float("dropout", 0.0, 0.7, default=min(args.dropout, 0.7))
        return build(input_shape, num_classes, dropout=dropout, weight_decay=weight_decay,
                     weight_decay_norm=norm)

    hp = run.search(build_model, *splits["train"], objective="val_crossentropy",
                    num_folds=args.folds, batch_size=args.batch_size)
    best_fold_scores = [] if run.tuner is None else tuning.fold_scores(
        run.tuner.oracle.get_best_trials(1)[0], "val_crossentropy")
    model = build_model(hp)
    run.fit("tuned", model, train, validation_data=validation, verbose=0)
    test = model.evaluate(*splits["test"], verbose=0, return_dict=True)

    # ## Report
    recipe.table([{"model": "tuned", **hp.values, "test_crossentropy": test["crossentropy"],
                   "test_accuracy": test["accuracy"]}])
    return run.finish(test=test, model=model, curves=("crossentropy", "accuracy"),
                      train_examples=len(splits["train"][0]), regularizers=rows,
                      dropout_expectation=dropout_rows, gradient_norms=gradient_rows,
                      best_fold_scores=best_fold_scores)


if __name__ == "__main__":
    main()
