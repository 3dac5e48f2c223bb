"""
Title: Multi-layer perceptrons: losses from maximum likelihood, activations, universal approximation
Course section: "MULTI-LAYER PERCEPTRONS - FFNN" (with "Activation Functions", "Universal Approximation
Theorem", "MLE for Regression", "MLE for Classification", "ERROR FUNCTIONS")
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

import time

import keras
import numpy as np

from kerasnn import cli, data, models, plots, reporting, tuning
from kerasnn.data.builders import tabular

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

"""
## One builder, three likelihoods

The output layer and loss follow from the distribution assumed for the target
(``models.task_head``): identity + MSE for a Gaussian, sigmoid + binary cross-entropy for a
Bernoulli, softmax + categorical cross-entropy for a categorical variable.
"""


def task_of(labels):
    """``("regression", 1)`` for float targets, else ``("binary" | "categorical", num_classes)``."""
    if np.issubdtype(labels.dtype, np.floating):
        return "regression", 1
    num_classes = int(labels.max()) + 1
    return ("binary" if num_classes == 2 else "categorical"), num_classes


def build(
    input_shape, task, num_classes, hidden_units, activation, learning_rate, steps_per_execution=1
):
    units, output_activation, loss = models.task_head(task, num_classes)
    model = models.mlp(
        input_shape,
        units,
        hidden_units=hidden_units,
        activation=activation,
        output_activation=output_activation,
    )
    metrics = ["mean_squared_error"] if task == "regression" else ["accuracy"]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=loss,
        metrics=metrics,
        steps_per_execution=steps_per_execution,
    )
    return model


def train(model, x, y, args):
    """Fit on cached, reshuffled batches (several times faster than NumPy arrays on small data)."""
    dataset = data.from_arrays(x, y, args.batch_size, shuffle=True, cache=True, seed=args.seed)
    return model.fit(dataset, epochs=args.epochs, verbose=0, shuffle=False).history


def load(name, args):
    return data.load_splits(name, data_dir=args.data_dir, limit=64 if args.smoke else None)


def parse(argv):
    parser = cli.recipe_parser(
        "mlp",
        __doc__,
        dataset="kerasnn_moons",
        epochs=40,
        batch_size=32,
        max_trials=4,
        tuner="random",
    )
    parser.add_argument(
        "--widths",
        type=cli.positive_int,
        nargs="+",
        default=[1, 2, 4, 8, 16, 64],
        help="hidden widths of the universal-approximation sweep (default: 1 2 4 8 16 64)",
    )
    parser.add_argument(
        "--regression-passes",
        type=cli.positive_int,
        default=600,
        help="passes over the data of each width-sweep fit (default: 600)",
    )
    parser.add_argument(
        "--activations",
        nargs="+",
        choices=ACTIVATIONS,
        default=list(ACTIVATIONS),
        help="activations to compare (default: all four)",
    )
    args = cli.parse_args(parser, argv)
    if args.smoke:
        args.widths, args.regression_passes, args.activations = (
            args.widths[:2],
            1,
            args.activations[:1],
        )
    return args


"""
## Universal approximation: one hidden layer, growing width
"""


def width_sweep(args, regression):
    (x, t), (x_test, t_test) = regression["train"], regression["test"]
    rows, curves = [], {}
    grid = np.linspace(-3, 3, 300, dtype="float32")[:, None]
    # Hundreds of passes are needed to reach the noise floor: run many steps per Keras epoch and
    # per compiled call, so that Keras' per-epoch bookkeeping does not dominate the cost.
    steps_per_pass = -(-len(x) // args.batch_size)
    passes_per_epoch = min(args.regression_passes, 20)
    for width in args.widths:
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build(
            (1,), "regression", 1, (width,), "tanh", 1e-2, steps_per_execution=steps_per_pass
        )
        batches = data.from_arrays(
            x, t, args.batch_size, shuffle=True, cache=True, seed=args.seed
        ).repeat()
        model.fit(
            batches,
            epochs=args.regression_passes // passes_per_epoch,
            verbose=0,
            shuffle=False,
            steps_per_epoch=steps_per_pass * passes_per_epoch,
        )
        train_mse = model.evaluate(x, t, verbose=0, return_dict=True)["mean_squared_error"]
        test_mse = model.evaluate(x_test, t_test, verbose=0, return_dict=True)["mean_squared_error"]
        rows.append(
            {
                "width": width,
                "params": model.count_params(),
                "train_mse": float(train_mse),
                "test_mse": float(test_mse),
            }
        )
        curves[width] = model.predict(grid, verbose=0, batch_size=1024)[:, 0]
    return rows, (grid[:, 0], curves, x[:, 0], t)


def plot_width_sweep(rows, fits, path):
    plt = plots.pyplot()

    grid, curves, x, t = fits
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.scatter(x, t, s=5, color="0.7", label="training data")
    left.plot(grid, tabular.regression_function(grid), "k--", linewidth=1, label="true function")
    for width, curve in curves.items():
        left.plot(grid, curve, label=f"width {width}")
    left.legend(fontsize=7)
    left.set_title("One hidden tanh layer of growing width")
    right.plot([r["width"] for r in rows], [r["train_mse"] for r in rows], "o-", label="train")
    right.plot([r["width"] for r in rows], [r["test_mse"] for r in rows], "s-", label="test")
    right.axhline(tabular.NOISE_STD**2, color="gray", linestyle=":", label="noise variance")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("hidden width")
    right.set_ylabel("MSE")
    right.legend()
    plots.save_figure(figure, path)


"""
## Activations on the same task, and the categorical cross-entropy on real digits
"""


def compare_activations(args, moons, digits):
    rows, histories = [], {}
    (x, y), (x_test, y_test) = moons["train"], moons["test"]
    for activation in args.activations:
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build(x.shape[1:], "binary", 2, (16, 16), activation, 1e-2)
        histories[activation] = train(model, x, y, args)
        test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        rows.append(
            {
                "task": "moons, binary CE",
                "activation": activation,
                "final_train_loss": histories[activation]["loss"][-1],
                "test_accuracy": test["accuracy"],
            }
        )
    keras.backend.clear_session()
    model = build(digits["train"][0].shape[1:], "categorical", 10, (64,), "relu", 1e-3)
    histories["digits (softmax)"] = train(model, *digits["train"], args)
    test = model.evaluate(*digits["test"], verbose=0, return_dict=True)
    rows.append(
        {
            "task": "digits, categorical CE",
            "activation": "relu",
            "final_train_loss": histories["digits (softmax)"]["loss"][-1],
            "test_accuracy": test["accuracy"],
        }
    )
    return rows, histories


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    regression, moons, digits = (
        load(name, args) for name in ("kerasnn_regression1d", "kerasnn_moons", "kerasnn_digits")
    )
    tuned = load(args.dataset, args)
    task, num_classes = task_of(tuned["train"][1])
    input_shape = tuned["train"][0].shape[1:]
    run = cli.run_directory(args)

    width_rows, fits = width_sweep(args, regression)
    plot_width_sweep(width_rows, fits, run.plot_path("universal_approximation"))
    print(reporting.format_table(width_rows))
    activation_rows, activation_histories = compare_activations(args, moons, digits)
    run.plot_history(activation_histories, metrics=("loss",), name="activations")
    print(reporting.format_table(activation_rows))

    """
    ## Search depth, width, activation and learning rate; train the best once more; test once
    """

    def build_model(hp):
        depth = hp.Int("depth", 1, 3, default=2)
        width = hp.Choice("width", [8, 32, 128], default=32)
        activation = hp.Choice("activation", list(ACTIVATIONS), default="relu")
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=1e-2)
        return build(input_shape, task, num_classes, (width,) * depth, activation, learning_rate)

    def batches(split, shuffle):
        return data.from_arrays(
            *tuned[split], args.batch_size, shuffle=shuffle, cache=True, seed=args.seed
        )

    tuner = tuning.make_tuner(
        args.tuner,
        build_model,
        objective="val_loss",
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    hp = tuning.search(
        tuner,
        build_model,
        batches("train", True),
        validation_data=batches("validation", False),
        epochs=args.epochs,
        seed=args.seed,
    )
    model = build_model(hp)
    history = run.fit(
        "best",
        model,
        batches("train", True),
        epochs=args.epochs,
        validation_data=batches("validation", False),
        verbose=0,
    )
    test = model.evaluate(*tuned["test"], verbose=0, return_dict=True)

    """
    ## Report
    """
    run.plot_history({"best": history}, metrics=("loss", "accuracy", "mean_squared_error"))
    run.write_history(
        {"best": history, **{f"activation_{k}": v for k, v in activation_histories.items()}}
    )
    run.save_model(model)
    print(
        reporting.format_table(
            [
                {
                    "dataset": args.dataset,
                    "task": task,
                    **hp.values,
                    **{f"test_{k}": v for k, v in test.items()},
                }
            ]
        )
    )
    run.write_metrics(
        {
            "recipe": "mlp",
            "dataset": args.dataset,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "task": task,
            "test": test,
            "best_hyperparameters": hp.values,
            "width_sweep": width_rows,
            "activations": activation_rows,
            "trials": tuning.trials(tuner),
        }
    )
    return width_rows, activation_rows


if __name__ == "__main__":
    main()
