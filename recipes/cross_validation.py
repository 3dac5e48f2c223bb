"""
Title: Holdout, k-fold and leave-one-out estimates, and a k-fold KerasTuner search
Course section: "Cross-Validation" (with "Training and Overfitting", "Hyperparameters")
Description: Estimate the error of one small MLP three ways on the training data: holdout (one
random validation split, repeated to show how much it varies), k-fold (k trainings, each fold
held out once) and leave-one-out (N trainings on a small subset). Then search hyperparameters with
kerasnn.tuning.CrossValidationTuner, whose trial score is the mean validation accuracy over k
folds; retrain the best configuration on all training data and assess it once on the test set.
How to run:
    python recipes/cross_validation.py                         # kerasnn_moons, offline, < 2 minutes
    python recipes/cross_validation.py --folds 10 --loo-size 50
    python recipes/cross_validation.py --dataset kerasnn_digits --tuner bayesian --max-trials 6
    python recipes/cross_validation.py --smoke                 # seconds-long end-to-end check
"""

import time

import keras
import numpy as np

from kerasnn import cli, data, models, plots, reporting, tuning

"""
## The model and its search space

A one- or two-layer MLP (``models.mlp``) with a softmax output; the search covers width,
depth, activation and learning rate. Its defaults are "the model" whose error we estimate.
"""


def make_build_model(input_shape, num_classes):
    def build_model(hp):
        units = hp.Choice("units", [8, 32, 64], default=32)
        depth = hp.Int("depth", 1, 2, default=1)
        activation = hp.Choice("activation", ["relu", "tanh"], default="relu")
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=1e-2)
        model = models.mlp(
            input_shape,
            num_classes,
            hidden_units=(units,) * depth,
            activation=activation,
            output_activation="softmax",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    return build_model


def parse(argv):
    parser = cli.recipe_parser(
        "cross_validation",
        __doc__,
        dataset="kerasnn_moons",
        epochs=20,
        batch_size=32,
        max_trials=3,
        tuner="random",
    )
    parser.add_argument(
        "--folds", type=cli.positive_int, default=5, help="k of k-fold (default: 5)"
    )
    parser.add_argument(
        "--holdout-repeats",
        type=cli.positive_int,
        default=5,
        help="random holdout splits to show its variance (default: 5)",
    )
    parser.add_argument(
        "--holdout-fraction",
        type=cli.positive_float,
        default=0.2,
        help="share of the training data held out (default: 0.2)",
    )
    parser.add_argument(
        "--loo-size",
        type=cli.positive_int,
        default=12,
        help="examples of the leave-one-out subset (default: 12)",
    )
    args = cli.parse_args(parser, argv)
    if args.smoke:
        args.folds, args.holdout_repeats, args.loo_size = 2, 2, 4
    if args.folds < 2:
        raise cli.UserError(f"--folds must be at least 2, received {args.folds}")
    if not args.holdout_fraction < 1:
        raise cli.UserError(f"--holdout-fraction must be below 1, received {args.holdout_fraction}")
    if args.loo_size < 2:
        raise cli.UserError(f"--loo-size must be at least 2, received {args.loo_size}")
    return args


def load_training_pool(args):
    """Train and validation splits together: cross-validation makes its own validation folds."""
    splits = data.load_splits(
        args.dataset, data_dir=args.data_dir, limit=64 if args.smoke else None
    )
    (x_train, y_train), (x_validation, y_validation), (x_test, y_test) = (
        splits[part] for part in ("train", "validation", "test")
    )
    if args.loo_size > len(x_train) + len(x_validation):
        raise cli.UserError(
            f"--loo-size {args.loo_size} exceeds the {len(x_train) + len(x_validation)} "
            "training examples"
        )
    return (np.concatenate([x_train, x_validation]), np.concatenate([y_train, y_validation])), (
        x_test,
        y_test,
    )


"""
## Three estimates of the same model's error

Each estimate is a list of held-out error rates, one per training; its mean is the estimate, its
spread says how much to trust it, and the number of trainings is its cost.
"""


def holdout_splits(num_examples, fraction, repeats, seed):
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(repeats):
        order = rng.permutation(num_examples)
        held_out = max(1, int(round(fraction * num_examples)))
        splits.append((np.sort(order[held_out:]), np.sort(order[:held_out])))
    return splits


def estimate(name, build, x, y, folds, args):
    started = time.time()
    accuracies = tuning.cross_validate(
        build,
        x,
        y,
        folds,
        metric="accuracy",
        seed=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    errors = 1.0 - np.array(accuracies)
    return {
        "method": name,
        "examples": len(x),
        "trainings": len(folds),
        "error": float(errors.mean()),
        "error_std": float(errors.std()),
        "seconds": time.time() - started,
        "errors": errors.tolist(),
    }


def plot_estimates(rows, path):
    plt = plots.pyplot()

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for index, row in enumerate(rows):
        jitter = np.random.default_rng(index).uniform(-0.12, 0.12, len(row["errors"]))
        left.scatter(index + jitter, row["errors"], s=12, alpha=0.6, color=f"C{index}")
        left.errorbar(index, row["error"], yerr=row["error_std"], fmt="o", color="black", capsize=5)
    left.set_xticks(range(len(rows)), [row["method"] for row in rows])
    left.set_ylabel("held-out error (dots: one training each)")
    left.set_title("Estimate and spread")
    left.grid(alpha=0.3)
    right.bar(
        [row["method"] for row in rows],
        [row["seconds"] for row in rows],
        color=[f"C{i}" for i in range(len(rows))],
    )
    for index, row in enumerate(rows):
        right.annotate(
            f"{row['trainings']} fits", (index, row["seconds"]), ha="center", va="bottom"
        )
    right.set_ylabel("seconds")
    right.set_title("Cost")
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    (x, y), (x_test, y_test) = load_training_pool(args)
    num_classes = int(max(y.max(), y_test.max())) + 1
    run = cli.run_directory(args)
    build_model = make_build_model(x.shape[1:], num_classes)
    default_hp = tuning.default_hyperparameters(build_model)

    def build_default():
        return build_model(default_hp.copy())

    rng = np.random.default_rng(args.seed)
    loo_subset = np.sort(rng.choice(len(x), args.loo_size, replace=False))
    estimates = [
        estimate(
            "holdout",
            build_default,
            x,
            y,
            holdout_splits(len(x), args.holdout_fraction, args.holdout_repeats, args.seed),
            args,
        ),
        estimate(
            f"{args.folds}-fold",
            build_default,
            x,
            y,
            tuning.kfold_indices(len(x), args.folds, seed=args.seed, labels=y),
            args,
        ),
        estimate(
            "leave-one-out",
            build_default,
            x[loo_subset],
            y[loo_subset],
            tuning.kfold_indices(args.loo_size, args.loo_size, seed=args.seed),
            args,
        ),
    ]
    print(
        reporting.format_table(
            [{k: v for k, v in row.items() if k != "errors"} for row in estimates]
        )
    )

    """
    ## k-fold KerasTuner search, then one assessment on the test set
    """
    tuner = tuning.make_cross_validation_tuner(
        args.tuner,
        build_model,
        num_folds=args.folds,
        objective="val_accuracy",
        max_trials=args.max_trials,
        max_epochs=args.epochs,
        directory=run.tuner_dir,
        overwrite=args.overwrite,
        seed=args.seed,
    )
    if tuner is not None:
        tuner.search(x, y, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        print(tuning.summary(tuner))
        best_trial = tuner.oracle.get_best_trials(1)[0]
        best_fold_scores = tuning.fold_scores(best_trial, "val_accuracy")
    else:
        best_fold_scores = []
    hp = tuning.best_hyperparameters(tuner, build_model)

    keras.backend.clear_session()
    keras.utils.set_random_seed(args.seed)
    model = build_model(hp)
    history = run.fit(
        "final",
        model,
        data.from_arrays(x, y, args.batch_size, shuffle=True, seed=args.seed),
        epochs=args.epochs,
        verbose=0,
    )
    test = model.evaluate(x_test, y_test, verbose=0, return_dict=True)

    """
    ## Report
    """
    plot_estimates(estimates, run.plot_path("error_estimates"))
    run.plot_history({"final": history})
    run.write_history({"final": history})
    run.save_model(model)
    final_row = {
        "model": "best (retrained on all training data)",
        "cv_accuracy": float(np.mean(best_fold_scores)) if best_fold_scores else None,
        "test_accuracy": float(test["accuracy"]),
        "test_error": 1.0 - float(test["accuracy"]),
    }
    print(reporting.format_table([final_row]))
    run.write_metrics(
        {
            "recipe": "cross_validation",
            "dataset": args.dataset,
            "seed": args.seed,
            "wall_seconds": time.time() - started,
            "test": {"accuracy": float(test["accuracy"]), "loss": float(test["loss"])},
            "best_hyperparameters": hp.values,
            "best_fold_scores": best_fold_scores,
            "estimates": {row["method"]: row for row in estimates},
            "trials": tuning.trials(tuner),
        }
    )
    return estimates, final_row


if __name__ == "__main__":
    main()
