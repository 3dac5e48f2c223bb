"""
Title: Holdout, k-fold and leave-one-out estimates, and a k-fold KerasTuner search
Course section: "Cross-Validation" (with "Training and Overfitting", "Hyperparameters")
Description: Estimate the error of one small MLP three ways: holdout (one random validation
split, repeated to show how much it varies), k-fold (k trainings, each fold held out once) and
leave-one-out (N trainings, one example held out each). Holdout and k-fold run on the whole
training pool; leave-one-out costs one training per example, so it runs on a small random subset,
and holdout and k-fold run on that same subset too: the three estimates are compared on the same
examples. Then search hyperparameters with kerasnn.tuning.CrossValidationTuner, whose trial score
is the mean validation accuracy over k folds; retrain the best configuration on all training data
and assess it once on the test set.
How to run:
    python recipes/cross_validation.py                         # kerasnn_moons, offline, < 2 minutes
    python recipes/cross_validation.py --folds 10 --loo-size 50
    python recipes/cross_validation.py --dataset kerasnn_digits --tuner bayesian --max-trials 6
    python recipes/cross_validation.py --smoke                 # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import numpy as np

from kerasnn import cli, data, models, plots, recipe, tuning

# ## The model and its search space
#
# A one- or two-layer MLP (`models.mlp`) with a softmax output; the search covers width, depth,
# activation and learning rate. Its defaults are "the model" whose error we estimate.


def make_build_model(input_shape, num_classes):
    def build_model(hp):
        units = hp.Choice("units", [8, 32, 64], default=32)
        depth = hp.Int("depth", 1, 2, default=1)
        activation = hp.Choice("activation", ["relu", "tanh"], default="relu")
        learning_rate = hp.Float("learning_rate", 1e-3, 3e-2, sampling="log", default=1e-2)
        model = models.mlp(input_shape, num_classes, hidden_units=(units,) * depth,
                           activation=activation, output_activation="softmax")
        return recipe.compile_classifier(model, learning_rate)

    return build_model


def flags(parser):
    parser.add_argument("--folds", type=cli.positive_int, default=5,
                        help="k of k-fold (default: 5)")
    parser.add_argument("--holdout-repeats", type=cli.positive_int, default=5,
                        help="random holdout splits to show its variance (default: 5)")
    parser.add_argument("--holdout-fraction", type=cli.positive_float, default=0.2,
                        help="share of the training data held out (default: 0.2)")
    parser.add_argument("--loo-size", type=cli.positive_int, default=12,
                        help="examples of the subset on which leave-one-out, holdout and k-fold "
                             "are compared (default: 12)")


def smoke(args):
    args.folds, args.holdout_repeats, args.loo_size = 2, 2, 4


def check(args, pool_size):
    if args.folds < 2:
        raise cli.UserError(f"--folds must be at least 2, received {args.folds}")
    if not args.holdout_fraction < 1:
        raise cli.UserError(f"--holdout-fraction must be below 1, received {args.holdout_fraction}")
    if args.loo_size < 2:
        raise cli.UserError(f"--loo-size must be at least 2, received {args.loo_size}")
    if args.loo_size > pool_size:
        raise cli.UserError(
            f"--loo-size {args.loo_size} exceeds the {pool_size} training examples")
    if args.folds > args.loo_size:
        raise cli.UserError(f"--folds {args.folds} exceeds --loo-size {args.loo_size}")


# ## Three estimates of the same model's error
#
# Each estimate is a list of held-out error rates, one per training; its mean is the estimate,
# its spread says how much to trust it, and the number of trainings is its cost.


def holdout_splits(num_examples, fraction, repeats, seed):
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(repeats):
        order = rng.permutation(num_examples)
        held_out = max(1, int(round(fraction * num_examples)))
        splits.append((np.sort(order[held_out:]), np.sort(order[:held_out])))
    return splits


def estimate(method, build, x, y, folds, args):
    started = time.time()
    accuracies = tuning.cross_validate(build, x, y, folds, metric="accuracy", seed=args.seed,
                                       epochs=args.epochs, batch_size=args.batch_size)
    errors = 1.0 - np.array(accuracies)
    return {"method": method, "examples": len(x), "trainings": len(folds),
            "error": float(errors.mean()), "error_std": float(errors.std()),
            "seconds": time.time() - started, "errors": errors.tolist()}


def estimates(build, x, y, args, leave_one_out):
    """Holdout and k-fold on ``(x, y)``, and leave-one-out when asked."""
    methods = {
        "holdout": holdout_splits(len(x), args.holdout_fraction, args.holdout_repeats, args.seed),
        f"{args.folds}-fold": tuning.kfold_indices(len(x), args.folds, seed=args.seed, labels=y),
    }
    if leave_one_out:
        methods["leave-one-out"] = tuning.kfold_indices(len(x), len(x), seed=args.seed)
    return {method: estimate(method, build, x, y, folds, args) for method, folds in methods.items()}


def plot_estimates(rows, path):
    labels = [f"{row['method']}\n({row['examples']} ex.)" for row in rows]
    figure, (left, right) = plots.pyplot().subplots(1, 2, figsize=(12, 3.8))
    for index, row in enumerate(rows):
        jitter = np.random.default_rng(index).uniform(-0.12, 0.12, len(row["errors"]))
        left.scatter(index + jitter, row["errors"], s=12, alpha=0.6, color=f"C{index}")
        left.errorbar(index, row["error"], yerr=row["error_std"], fmt="o", color="black", capsize=5)
    left.set_xticks(range(len(rows)), labels, fontsize=8)
    left.set(ylabel="held-out error (dots: one training each)", title="Estimate and spread")
    left.grid(alpha=0.3)
    right.bar(labels, [row["seconds"] for row in rows], color=[f"C{i}" for i in range(len(rows))])
    for index, row in enumerate(rows):
        right.annotate(f"{row['trainings']} fits", (index, row["seconds"]), ha="center",
                       va="bottom")
    right.tick_params(axis="x", labelsize=8)
    right.set(ylabel="seconds", title="Cost")
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("cross_validation", __doc__, argv, dataset="kerasnn_moons", epochs=20,
                     max_trials=3, flags=flags, smoke=smoke)
    args = run.args
    # Train and validation splits together: cross-validation makes its own validation folds.
    (x_train, y_train), (x_validation, y_validation), (x_test, y_test) = run.arrays()
    x, y = np.concatenate([x_train, x_validation]), np.concatenate([y_train, y_validation])
    check(args, len(x))
    run.open()
    num_classes = int(max(y.max(), y_test.max())) + 1
    build_model = make_build_model(x.shape[1:], num_classes)
    default_hp = tuning.default_hyperparameters(build_model)

    def build_default():
        return build_model(default_hp.copy())

    # ## The estimates: on the whole pool, then all three on the same small subset
    subset = np.sort(np.random.default_rng(args.seed).choice(len(x), args.loo_size, replace=False))
    pool = estimates(build_default, x, y, args, leave_one_out=False)
    same = estimates(build_default, x[subset], y[subset], args, leave_one_out=True)
    rows = [*pool.values(), *same.values()]
    recipe.table([{k: v for k, v in row.items() if k != "errors"} for row in rows])

    # ## k-fold KerasTuner search, then one assessment on the test set
    hp = run.search(build_model, x, y, num_folds=args.folds, batch_size=args.batch_size)
    best_fold_scores = []
    if run.tuner is not None:
        best_trial = run.tuner.oracle.get_best_trials(1)[0]
        best_fold_scores = tuning.fold_scores(best_trial, "val_accuracy")
    model = build_model(hp)
    run.fit("final", model,
            data.from_arrays(x, y, args.batch_size, shuffle=True, seed=args.seed), verbose=0)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

    # ## Report
    plot_estimates(rows, run.plot_path("error_estimates"))
    recipe.table([{"model": "best (retrained on all training data)",
                   "cv_accuracy": float(np.mean(best_fold_scores)) if best_fold_scores else None,
                   "test_accuracy": float(test_accuracy), "test_error": 1.0 - test_accuracy}])
    return run.finish(test={"accuracy": float(test_accuracy), "loss": float(test_loss)},
                      model=model, best_fold_scores=best_fold_scores,
                      estimates={"training pool": pool, "same subset": same},
                      subset=subset)


if __name__ == "__main__":
    main()
