"""
Title: Multi-layer perceptrons: losses from maximum likelihood, activations, universal approximation
Course section: "MULTI-LAYER PERCEPTRONS - FFNN" (with "Activation Functions", "Universal
Approximation Theorem", "MLE for Regression", "MLE for Classification", "ERROR FUNCTIONS")
Description: Feedforward networks z = f(Wx + b), layer after layer. A Gaussian likelihood of the
target gives the MSE loss (regression), a Bernoulli likelihood binary cross-entropy (two classes), a
categorical one categorical cross-entropy (digits). One hidden layer of growing width fits a noisy
1-D function ever better (universal approximation); sigmoid, tanh, ReLU and leaky ReLU are compared
on the same task; the tuner searches depth, width, activation and learning rate on --dataset.
How to run:
    python recipes/mlp.py                                 # offline, 1-2 minutes
    python recipes/mlp.py --widths 1 2 4 8 16 32 64 128   # a longer width sweep
    python recipes/mlp.py --dataset kerasnn_digits        # tune a categorical classifier
    python recipes/mlp.py --smoke                         # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, models, plots, recipe
from kerasnn.data.builders import tabular

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

# ## One builder, three likelihoods
#
# The output layer and loss follow from the distribution assumed for the target
# (`models.task_mlp`, `models.task_head`): identity + MSE for a Gaussian, sigmoid + binary
# cross-entropy for a Bernoulli, softmax + categorical cross-entropy for a categorical variable.


def task_of(labels):
    """``("regression", 1)`` for float targets, else ``("binary" | "categorical", num_classes)``."""
    if np.issubdtype(labels.dtype, np.floating):
        return "regression", 1
    num_classes = int(labels.max()) + 1
    return ("binary" if num_classes == 2 else "categorical"), num_classes


def build(input_shape, task, num_classes, hidden_units, activation, learning_rate,
          steps_per_execution=1):
    return models.task_mlp(input_shape, task, num_classes, hidden_units=hidden_units,
                           activation=activation, optimizer=keras.optimizers.Adam(learning_rate),
                           steps_per_execution=steps_per_execution)


def flags(parser):
    parser.add_argument("--widths", type=cli.positive_int, nargs="+", default=[1, 2, 4, 8, 16, 64],
                        help="hidden widths of the universal-approximation sweep "
                             "(default: 1 2 4 8 16 64)")
    parser.add_argument("--regression-passes", type=cli.positive_int, default=600,
                        help="passes over the data of each width-sweep fit (default: 600)")
    parser.add_argument("--activations", nargs="+", choices=ACTIVATIONS, default=list(ACTIVATIONS),
                        help="activations to compare (default: all four)")


def smoke(args):
    args.widths, args.regression_passes, args.activations = (
        args.widths[:2], 1, args.activations[:1])


# ## Universal approximation: one hidden layer, growing width
#
# Hundreds of passes are needed to reach the noise floor: run many steps per Keras epoch and per
# compiled call, so that Keras' per-epoch bookkeeping does not dominate the cost.


def width_sweep(args, regression):
    (x, t), (x_test, t_test) = regression["train"], regression["test"]
    rows, curves = [], {}
    grid = np.linspace(-3, 3, 300, dtype="float32")[:, None]
    steps_per_pass = -(-len(x) // args.batch_size)
    passes_per_epoch = min(args.regression_passes, 20)
    for width in args.widths:
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build((1,), "regression", 1, (width,), "tanh", 1e-2,
                      steps_per_execution=steps_per_pass)
        (batches,) = data.from_splits(regression, args.batch_size, parts=("train",),
                                      seed=args.seed)
        model.fit(batches.repeat(), epochs=args.regression_passes // passes_per_epoch, verbose=0,
                  shuffle=False, steps_per_epoch=steps_per_pass * passes_per_epoch)
        train_mse = model.evaluate(x, t, verbose=0, return_dict=True)["mean_squared_error"]
        test_mse = model.evaluate(x_test, t_test, verbose=0, return_dict=True)["mean_squared_error"]
        rows.append({"width": width, "params": model.count_params(),
                     "train_mse": float(train_mse), "test_mse": float(test_mse)})
        curves[width] = model.predict(grid, verbose=0, batch_size=1024)[:, 0]
    return rows, (grid[:, 0], curves, x[:, 0], t)


def plot_width_sweep(rows, fits, path):
    grid, curves, x, t = fits
    figure, (left, right) = plots.pyplot().subplots(1, 2, figsize=(11, 4))
    left.scatter(x, t, s=5, color="0.7", label="training data")
    left.plot(grid, tabular.regression_function(grid), "k--", linewidth=1, label="true function")
    for width, curve in curves.items():
        left.plot(grid, curve, label=f"width {width}")
    left.legend(fontsize=7)
    left.set_title("One hidden tanh layer of growing width")
    widths = [r["width"] for r in rows]
    right.plot(widths, [r["train_mse"] for r in rows], "o-", label="train")
    right.plot(widths, [r["test_mse"] for r in rows], "s-", label="test")
    right.axhline(tabular.NOISE_STD**2, color="gray", linestyle=":", label="noise variance")
    right.set_xscale("log", base=2)
    right.set(yscale="log", xlabel="hidden width", ylabel="MSE")
    right.legend()
    plots.save_figure(figure, path)


# ## Activations on the same task, and the categorical cross-entropy on real digits
#
# Each comparison is a named training phase of the run (resumed after an interruption).


def compare_activations(run, moons, digits):
    args, rows = run.args, []
    tasks = [(f"moons {a}", "moons, binary CE", moons, "binary", 2, (16, 16), a, 1e-2)
             for a in args.activations]
    tasks.append(("digits softmax", "digits, categorical CE", digits, "categorical", 10, (64,),
                  "relu", 1e-3))
    for phase, label, splits, task, num_classes, hidden, activation, learning_rate in tasks:
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build(splits["train"][0].shape[1:], task, num_classes, hidden, activation,
                      learning_rate)
        (train,) = data.from_splits(splits, args.batch_size, parts=("train",), seed=args.seed)
        history = run.fit(phase, model, train, verbose=0)
        test = model.evaluate(*splits["test"], verbose=0, return_dict=True)
        rows.append({"task": label, "activation": activation,
                     "final_train_loss": history["loss"][-1], "test_accuracy": test["accuracy"]})
    return rows


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("mlp", __doc__, argv, dataset="kerasnn_moons", epochs=40, max_trials=4,
                     flags=flags, smoke=smoke)
    args = run.args
    regression, moons, digits, tuned = (
        data.load_splits(name, data_dir=args.data_dir, limit=64 if args.smoke else None)
        for name in ("kerasnn_regression1d", "kerasnn_moons", "kerasnn_digits", args.dataset))
    task, num_classes = task_of(tuned["train"][1])
    input_shape = tuned["train"][0].shape[1:]
    run.open()

    width_rows, fits = width_sweep(args, regression)
    plot_width_sweep(width_rows, fits, run.plot_path("universal_approximation"))
    recipe.table(width_rows)
    activation_rows = compare_activations(run, moons, digits)
    run.directory.plot_history(run.histories, metrics=("loss",), name="activations")
    recipe.table(activation_rows)

    # ## Search depth, width, activation and learning rate; train the best once more; test once

    def build_model(hp):
        depth = hp.Int("depth", 1, 3, default=2)
        width = hp.Choice("width", [8, 32, 128], default=32)
        activation = hp.Choice("activation", list(ACTIVATIONS), default="relu")
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=1e-2)
        return build(input_shape, task, num_classes, (width,) * depth, activation, learning_rate)

    train, validation = data.from_splits(tuned, args.batch_size, seed=args.seed)
    hp = run.search(build_model, train, validation_data=validation, objective="val_loss")
    model = build_model(hp)
    run.fit("best", model, train, validation_data=validation, verbose=0)
    test = model.evaluate(*tuned["test"], verbose=0, return_dict=True)

    # ## Report
    recipe.table([{"dataset": args.dataset, "task": task, **hp.values,
                   **{f"test_{k}": v for k, v in test.items()}}])
    return run.finish(test=test, model=model, curves=("loss", "accuracy", "mean_squared_error"),
                      task=task, width_sweep=width_rows, activations=activation_rows)


if __name__ == "__main__":
    main()
