"""
Title: The perceptron and Hebbian learning
Course section: "NEURAL NETWORKS - THE PERCEPTRON"
Description: A single neuron with a step output, y = 1 if w.x + b > 0 else -1, trained online by
the Hebbian rule: samples are visited one at a time and the weights change only on a mistake,
by Delta w = eta * x * t (and Delta b = eta * t). On linearly separable data (kerasnn_blobs) the
mistakes per epoch fall to zero; on XOR (kerasnn_xor) no line separates the classes and the rule
never stops making mistakes. The tuner searches eta on the validation split, and a study shows
what eta really changes with this rule: from zero weights nothing but the scale of w.
How to run:
    python recipes/perceptron.py                              # blobs vs XOR, offline, seconds
    python recipes/perceptron.py --tuner none --learning-rate 1.0
    python recipes/perceptron.py --dataset kerasnn_moons --contrast-dataset none
    python recipes/perceptron.py --smoke                      # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, models, plots, recipe

# ## The model
#
# `models.Perceptron` keeps w and b as non-trainable weights and replaces Keras' gradient step by
# the Hebbian rule: each `fit` step runs one online pass over its batch, so a batch that holds the
# whole (reshuffled) training set gives exactly one textbook epoch. Its `mistakes` metric counts
# the updates of the epoch: zero means every training sample is already right.


def make_build_model(num_features, default_learning_rate):
    def build_model(hp):
        eta = hp.Float("learning_rate", 1e-3, 1.0, sampling="log", default=default_learning_rate)
        model = models.Perceptron(learning_rate=eta)
        model.build((None, num_features))
        model.compile()
        return model

    return build_model


def flags(parser):
    parser.add_argument("--contrast-dataset", default="kerasnn_xor",
                        help="second dataset trained with the chosen eta ('none' to skip; "
                             "default: kerasnn_xor)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=0.1,
                        help="eta when no tuner runs, and the tuner's first guess (default: 0.1)")


def load_splits(name, args):
    """Whole splits as arrays (a few hundred 2-D points); 64 per split under --smoke."""
    splits = data.load_splits(name, data_dir=args.data_dir, limit=64 if args.smoke else None)
    if splits["train"][0].ndim != 2 or len(np.unique(splits["train"][1])) > 2:
        raise cli.UserError(
            f"The perceptron needs 2-class feature vectors; {name!r} is not such a dataset.")
    return splits


def one_epoch_batches(x, y, seed):
    """The whole split as one batch, reshuffled every epoch: one online pass per `fit` step."""
    return data.from_arrays(x, y, batch_size=len(x), shuffle=True, seed=seed)


def first_converged_epoch(mistakes):
    zero = [epoch for epoch, count in enumerate(mistakes, start=1) if count == 0]
    return zero[0] if zero else None


# ## What eta changes
#
# The notes say the rule "can not converge because the solution does not exist, or eta is too
# large". For this rule the second half does not hold. Starting from w = 0, b = 0 every update
# adds eta * (x, 1) * t, so (w, b) is eta times a sum that does not depend on eta: the sign of
# w.x + b, hence every prediction and every mistake, is the same for every eta, and eta only
# scales the final weights. Starting from nonzero weights w0, (w, b) = (w0, 0) + eta * sum: a
# larger eta just forgets w0 sooner, a smaller one needs more updates to overcome it. On separable
# data the rule converges for every eta > 0 (the perceptron convergence theorem); a too-large
# step is a problem of gradient descent on a smooth loss, not of this rule.

STUDY_ETAS = (0.01, 0.1, 1.0, 10.0)
STUDY_STARTS = ("w0 = 0", "w0 ~ N(0, 1)")


def initializer_of(start, seed):
    if start == "w0 = 0":
        return "zeros"
    return keras.initializers.RandomNormal(stddev=1.0, seed=seed)  # the same w0 for every eta


def eta_study(x, y, epochs, seed):
    rows = []
    for start in STUDY_STARTS:
        for eta in STUDY_ETAS:
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            model = models.Perceptron(learning_rate=eta,
                                      initializer=initializer_of(start, seed))
            model.build((None, x.shape[1]))
            model.compile()
            mistakes = model.fit(one_epoch_batches(x, y, seed), epochs=epochs, verbose=0,
                                 shuffle=False).history["mistakes"]
            weights = np.append(keras.ops.convert_to_numpy(model.kernel),
                                keras.ops.convert_to_numpy(model.bias))
            converged = first_converged_epoch(mistakes)
            rows.append({"start": start, "eta": eta, "first_epoch_without_mistakes": converged,
                         "updates": int(sum(mistakes)),
                         "norm_w_over_eta": float(np.linalg.norm(weights) / eta),
                         "mistakes_per_epoch": [int(m) for m in mistakes]})
    return rows


# ## Plots
#
# The decision boundary is the line w1 x1 + w2 x2 + b = 0; the background shows the predicted
# class.


def plot_boundaries(results, path):
    figure, axes = plots.pyplot().subplots(1, len(results), figsize=(4.5 * len(results), 4),
                                           squeeze=False)
    for axis, (name, result) in zip(axes[0], results.items()):
        x, y = result["train"]
        low, high = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
        grid = np.stack(np.meshgrid(np.linspace(low[0], high[0], 200),
                                    np.linspace(low[1], high[1], 200)), -1)
        regions = result["model"].predict(grid.reshape(-1, 2).astype("float32"), verbose=0,
                                          batch_size=40000)
        axis.contourf(grid[..., 0], grid[..., 1], regions.reshape(200, 200), levels=[-2, 0, 2],
                      colors=["#cfe0f3", "#f7d4c8"])
        axis.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=8, edgecolors="none")
        axis.set_title(f"{name}: {int(result['mistakes'][-1])} mistakes in the last epoch",
                       fontsize=9)
        axis.set(xlabel="x1", ylabel="x2")
    plots.save_figure(figure, path)


def plot_mistakes(curves, path, title):
    figure, axis = plots.pyplot().subplots(figsize=(6, 3.6))
    for name, mistakes in curves.items():
        axis.plot(np.arange(1, len(mistakes) + 1), mistakes, marker=".", label=name)
    axis.set(xlabel="epoch", ylabel="training mistakes (= updates)", title=title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("perceptron", __doc__, argv, dataset="kerasnn_blobs", epochs=30,
                     max_trials=4, flags=flags)
    args = run.args
    names = [args.dataset] + ([] if args.contrast_dataset == "none" else [args.contrast_dataset])
    splits = {name: load_splits(name, args) for name in names}
    run.open()

    # ## Search eta, then train on each dataset
    main_splits = splits[args.dataset]
    build_model = make_build_model(main_splits["train"][0].shape[1], args.learning_rate)
    hp = run.search(build_model, one_epoch_batches(*main_splits["train"], args.seed),
                    validation_data=data.from_arrays(*main_splits["validation"], batch_size=4096))
    results, rows = {}, []
    for name, split in splits.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build_model(hp)
        history = run.fit(name, model, one_epoch_batches(*split["train"], args.seed),
                          validation_data=data.from_arrays(*split["validation"], batch_size=4096),
                          verbose=0)
        test = model.evaluate(*split["test"], batch_size=4096, verbose=0, return_dict=True)
        results[name] = {"model": model, "train": split["train"], "mistakes": history["mistakes"]}
        rows.append({"dataset": name, "eta": hp.get("learning_rate"),
                     "first_epoch_without_mistakes": first_converged_epoch(history["mistakes"]),
                     "last_epoch_mistakes": int(history["mistakes"][-1]),
                     "test_accuracy": float(test["accuracy"])})
    recipe.table(rows)

    # ## What eta changes, measured on the training split of --dataset
    study = eta_study(*main_splits["train"], args.epochs, args.seed)
    recipe.table([{k: v for k, v in row.items() if k != "mistakes_per_epoch"} for row in study])

    # ## Report
    plot_mistakes({name: r["mistakes"] for name, r in results.items()},
                  run.plot_path("mistakes_per_epoch"), "Hebbian learning: mistakes per epoch")
    plot_mistakes({f"{r['start']}, eta {r['eta']:g}": r["mistakes_per_epoch"] for r in study},
                  run.plot_path("eta_study"), f"{args.dataset}: mistakes per epoch for each eta")
    plot_boundaries(results, run.plot_path("decision_boundary"))
    weights = {name: {"kernel": keras.ops.convert_to_numpy(r["model"].kernel),
                      "bias": float(keras.ops.convert_to_numpy(r["model"].bias))}
               for name, r in results.items()}
    return run.finish(
        test={"accuracy": rows[0]["test_accuracy"]}, model=results[args.dataset]["model"],
        curves=("mistakes", "accuracy"),
        datasets={row["dataset"]: {**row, "mistakes_per_epoch": results[row["dataset"]]["mistakes"]}
                  for row in rows},
        weights=weights, eta_study=study)


if __name__ == "__main__":
    main()
