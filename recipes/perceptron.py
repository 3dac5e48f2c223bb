"""
Title: The perceptron and Hebbian learning
Course section: "NEURAL NETWORKS - THE PERCEPTRON"
Description: A single neuron with a step output, y = 1 if w.x + b > 0 else -1, trained online by
the Hebbian rule: samples are visited one at a time and the weights change only on a mistake,
by Delta w = eta * x * t. On linearly separable data (kerasnn_blobs) the mistakes per epoch fall to
zero; on XOR (kerasnn_xor) no line separates the classes and the rule never stops making mistakes.
The tuner searches the learning rate eta on the validation split.
How to run:
    python recipes/perceptron.py                              # blobs vs XOR, offline, seconds
    python recipes/perceptron.py --tuner none --learning-rate 1.0
    python recipes/perceptron.py --dataset kerasnn_moons --contrast-dataset none
    python recipes/perceptron.py --smoke                      # seconds-long end-to-end check
"""

import time

import keras
import numpy as np

from kerasnn import cli, data, models, plots, reporting, tuning

"""
## The model

``models.Perceptron`` keeps ``w`` and ``b`` as non-trainable weights and replaces Keras' gradient
step by the Hebbian rule: each ``fit`` step runs one online pass over its batch, so a batch that
holds the whole (reshuffled) training set gives exactly one textbook epoch. Its ``mistakes``
metric counts the updates of the epoch: zero means every training sample is already right.
"""


def make_build_model(num_features, default_learning_rate):
    def build_model(hp):
        learning_rate = hp.Float(
            "learning_rate", 1e-3, 1.0, sampling="log", default=default_learning_rate
        )
        model = models.Perceptron(learning_rate=learning_rate)
        model.build((None, num_features))
        model.compile()
        return model

    return build_model


def parse(argv):
    parser = cli.recipe_parser(
        "perceptron",
        __doc__,
        dataset="kerasnn_blobs",
        epochs=30,
        batch_size=32,
        max_trials=4,
        tuner="random",
    )
    parser.add_argument(
        "--contrast-dataset",
        default="kerasnn_xor",
        help="second dataset trained with the chosen eta ('none' to skip; default: kerasnn_xor)",
    )
    parser.add_argument(
        "--learning-rate",
        type=cli.positive_float,
        default=0.1,
        help="eta when no tuner runs, and the tuner's first guess (default: 0.1)",
    )
    return cli.parse_args(parser, argv)


def load_splits(name, args):
    """Whole splits as arrays (a few hundred 2-D points); 64 training points under --smoke."""
    splits = data.load_splits(name, data_dir=args.data_dir)
    if args.smoke:
        splits["train"] = tuple(array[:64] for array in splits["train"])
    if splits["train"][0].ndim != 2 or len(np.unique(splits["train"][1])) > 2:
        raise cli.UserError(
            f"The perceptron needs 2-class feature vectors; {name!r} is not such a dataset."
        )
    return splits


def one_epoch_batches(x, y, seed):
    """The whole split as one batch, reshuffled every epoch: one online pass per ``fit`` step."""
    return data.from_arrays(x, y, batch_size=len(x), shuffle=True, seed=seed)


def first_converged_epoch(mistakes):
    zero = [epoch for epoch, count in enumerate(mistakes, start=1) if count == 0]
    return zero[0] if zero else None


"""
## Decision boundary

The boundary is the line ``w1 x1 + w2 x2 + b = 0``; the background shows the predicted class.
"""


def plot_boundaries(results, path):
    plt = plots.pyplot()

    figure, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 4), squeeze=False)
    for axis, (name, result) in zip(axes[0], results.items()):
        x, y = result["train"]
        low, high = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
        grid = np.stack(
            np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200)), -1
        )
        regions = result["model"].predict(
            grid.reshape(-1, 2).astype("float32"), verbose=0, batch_size=40000
        )
        axis.contourf(
            grid[..., 0],
            grid[..., 1],
            regions.reshape(200, 200),
            levels=[-2, 0, 2],
            colors=["#cfe0f3", "#f7d4c8"],
        )
        axis.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=8, edgecolors="none")
        axis.set_title(
            f"{name}: {int(result['mistakes'][-1])} mistakes in the last epoch", fontsize=9
        )
        axis.set_xlabel("x1")
        axis.set_ylabel("x2")
    plots.save_figure(figure, path)


def plot_mistakes(results, path):
    plt = plots.pyplot()

    figure, axis = plt.subplots(figsize=(6, 3.6))
    for name, result in results.items():
        axis.plot(
            np.arange(1, len(result["mistakes"]) + 1), result["mistakes"], marker=".", label=name
        )
    axis.set_xlabel("epoch")
    axis.set_ylabel("training mistakes (= updates)")
    axis.set_title("Hebbian learning: mistakes per epoch")
    axis.grid(alpha=0.3)
    axis.legend()
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    names = [args.dataset] + ([] if args.contrast_dataset == "none" else [args.contrast_dataset])
    splits = {name: load_splits(name, args) for name in names}
    run = cli.run_directory(args)

    """
    ## Search eta, then train on each dataset
    """
    build_model = make_build_model(splits[args.dataset]["train"][0].shape[1], args.learning_rate)
    tuner = tuning.make_tuner(
        args.tuner,
        build_model,
        objective="val_accuracy",
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    main_splits = splits[args.dataset]
    if tuner is not None:
        keras.utils.set_random_seed(args.seed)
        tuner.search(
            one_epoch_batches(*main_splits["train"], args.seed),
            validation_data=data.from_arrays(*main_splits["validation"], batch_size=4096),
            epochs=args.epochs,
            verbose=0,
        )
        print(tuning.summary(tuner))
    hp = tuning.best_hyperparameters(tuner, build_model)

    results, histories, rows = {}, {}, []
    for name, split in splits.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build_model(hp)
        history = run.fit(
            name,
            model,
            one_epoch_batches(*split["train"], args.seed),
            epochs=args.epochs,
            validation_data=data.from_arrays(*split["validation"], batch_size=4096),
            verbose=0,
        )
        test = model.evaluate(*split["test"], batch_size=4096, verbose=0, return_dict=True)
        histories[name] = history
        results[name] = {
            "model": model,
            "train": split["train"],
            "mistakes": history["mistakes"],
            "test_accuracy": float(test["accuracy"]),
        }
        rows.append(
            {
                "dataset": name,
                "eta": hp.get("learning_rate"),
                "first_epoch_without_mistakes": first_converged_epoch(history["mistakes"]),
                "last_epoch_mistakes": int(history["mistakes"][-1]),
                "test_accuracy": float(test["accuracy"]),
            }
        )

    """
    ## Report
    """
    plot_mistakes(results, run.plot_path("mistakes_per_epoch"))
    plot_boundaries(results, run.plot_path("decision_boundary"))
    run.plot_history(histories, metrics=("mistakes", "accuracy"))
    run.write_history(histories)
    run.save_model(results[args.dataset]["model"])
    print(reporting.format_table(rows))
    run.write_metrics(
        {
            "recipe": "perceptron",
            "dataset": args.dataset,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "test": {"accuracy": results[args.dataset]["test_accuracy"]},
            "best_hyperparameters": hp.values,
            "datasets": {
                row["dataset"]: {**row, "mistakes_per_epoch": results[row["dataset"]]["mistakes"]}
                for row in rows
            },
            "weights": {
                name: {
                    "kernel": keras.ops.convert_to_numpy(result["model"].kernel),
                    "bias": float(keras.ops.convert_to_numpy(result["model"].bias)),
                }
                for name, result in results.items()
            },
            "trials": tuning.trials(tuner),
        }
    )
    return rows


if __name__ == "__main__":
    main()
