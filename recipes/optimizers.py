"""
Title: Gradient descent and its variants: batch, stochastic, mini-batch, momentum, adaptive rates
Course section: "GRADIENT DESCENT AND BACKPROPAGATION" (with "Batch Gradient Descent", "Stochastic
Gradient Descent", "Mini-Batch Gradient Descent", "Learning Rate Optimization")
Description: The same MLP, data and initial weights trained by batch gradient descent (one step per
epoch on the whole set), stochastic gradient descent (one sample per step), mini-batch gradient
descent, momentum, Nesterov, Adagrad, Adadelta, RMSprop, Adam, Adamax and Nadam. The training
losses go on one plot; a table gives the epochs and seconds each needed to reach a target loss.
How to run:
    python recipes/optimizers.py                          # kerasnn_moons, offline, about a minute
    python recipes/optimizers.py --target-loss 0.1 --epochs 60
    python recipes/optimizers.py --tuner random           # also search optimizer and learning rate
    python recipes/optimizers.py --smoke                  # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, models, plots, recipe, reporting

# ## The contenders
#
# Each entry is (optimizer factory, batch size); `None` as batch size means the whole training set
# (batch gradient descent), 1 means one sample per step (stochastic). The learning rates are
# common choices for this small problem, not tuned per optimizer (`--tuner` does that).

OPTIMIZERS = {
    "batch GD": (lambda: keras.optimizers.SGD(0.5), None),
    "stochastic GD": (lambda: keras.optimizers.SGD(0.01), 1),
    "mini-batch GD": (lambda: keras.optimizers.SGD(0.1), 32),
    "momentum": (lambda: keras.optimizers.SGD(0.05, momentum=0.9), 32),
    "Nesterov": (lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), 32),
    "Adagrad": (lambda: keras.optimizers.Adagrad(0.1), 32),
    "Adadelta": (lambda: keras.optimizers.Adadelta(1.0), 32),
    "RMSprop": (lambda: keras.optimizers.RMSprop(0.01), 32),
    "Adam": (lambda: keras.optimizers.Adam(0.01), 32),
    "Adamax": (lambda: keras.optimizers.Adamax(0.02), 32),
    "Nadam": (lambda: keras.optimizers.Nadam(0.01), 32),
}


def build(input_shape, optimizer, steps_per_execution=1):
    return models.task_mlp(input_shape, "binary", hidden_units=(16, 16), activation="tanh",
                           optimizer=optimizer, steps_per_execution=steps_per_execution)


def flags(parser):
    parser.add_argument("--target-loss", type=cli.positive_float, default=0.15,
                        help="training loss counted as reached (default: 0.15)")
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS),
                        default=list(OPTIMIZERS), metavar="NAME",
                        help=f"which to compare (default: all of {', '.join(OPTIMIZERS)})")


def load(args):
    splits = data.load_splits(args.dataset, data_dir=args.data_dir,
                              limit=64 if args.smoke else None)
    labels = splits["train"][1]
    if np.issubdtype(labels.dtype, np.floating) or labels.max() > 1:
        raise cli.UserError(
            f"This recipe trains a binary classifier; {args.dataset!r} is not a 2-class dataset.")
    return splits


# ## Same start for everyone
#
# The initial weights are drawn once and copied into every model, so the curves differ only by the
# optimizer (and batch size). One compiled call per epoch: stochastic GD's hundreds of steps are
# not slowed by Python. `reporting.EpochTimer` logs the seconds of every epoch.


def race(args, splits):
    x, y = splits["train"]
    keras.utils.set_random_seed(args.seed)
    initial_weights = build(x.shape[1:], "sgd").get_weights()
    results = {}
    for name in args.optimizers:
        make_optimizer, batch_size = OPTIMIZERS[name]
        batch_size = batch_size or len(x)
        steps_per_epoch = -(-len(x) // batch_size)
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        model = build(x.shape[1:], make_optimizer(), steps_per_execution=steps_per_epoch)
        model.set_weights(initial_weights)
        initial_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
        (batches,) = data.from_splits({"train": (x, y)}, batch_size, parts=("train",),
                                      seed=args.seed)
        history = model.fit(batches, epochs=args.epochs, verbose=0, shuffle=False,
                            callbacks=[reporting.EpochTimer()]).history
        seconds = np.cumsum(history["seconds"]).tolist()  # since the start of training
        reached = [epoch for epoch, loss in enumerate(history["loss"]) if loss <= args.target_loss]
        test = model.evaluate(*splits["test"], verbose=0, return_dict=True)
        results[name] = {
            "optimizer": name, "batch_size": batch_size, "steps": steps_per_epoch * args.epochs,
            "initial_loss": float(initial_loss), "final_loss": history["loss"][-1],
            "epochs_to_target": reached[0] + 1 if reached else None,
            "seconds_to_target": seconds[reached[0]] if reached else None,
            "total_seconds": seconds[-1], "test_accuracy": float(test["accuracy"]),
            "losses": history["loss"], "seconds": seconds, "epoch_seconds": history["seconds"],
        }
    return results


def plot_curves(results, target, path):
    figure, (by_epoch, by_time) = plots.pyplot().subplots(1, 2, figsize=(12, 4.2))
    for index, (name, result) in enumerate(results.items()):
        style = dict(color=f"C{index % 10}", linestyle="-" if index < 10 else "--", label=name)
        by_epoch.plot(np.arange(1, len(result["losses"]) + 1), result["losses"], **style)
        by_time.plot(result["seconds"], result["losses"], **style)
    for axis, label in ((by_epoch, "epoch"), (by_time, "seconds")):
        axis.axhline(target, color="gray", linestyle=":", linewidth=1)
        axis.set(yscale="log", xlabel=label, ylabel="training loss (binary cross-entropy)")
        axis.grid(alpha=0.3)
    by_time.legend(fontsize=7, ncol=2)
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("optimizers", __doc__, argv, dataset="kerasnn_moons", epochs=30,
                     max_trials=4, tuner="none", flags=flags)
    args = run.args
    splits = load(args)
    run.open()

    results = race(args, splits)
    plot_curves(results, args.target_loss, run.plot_path("loss_curves"))
    recipe.table(list(results.values()), ["optimizer", "batch_size", "steps", "epochs_to_target",
                                          "seconds_to_target", "final_loss", "test_accuracy"])

    # ## Optional: let the tuner pick the optimizer and its learning rate

    def build_model(hp):
        name = hp.Choice("optimizer", ["SGD", "RMSprop", "Adam", "Nadam"], default="Adam")
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log", default=1e-2)
        optimizer = keras.optimizers.get({"class_name": name,
                                          "config": {"learning_rate": learning_rate}})
        return build(splits["train"][0].shape[1:], optimizer)

    train, validation = data.from_splits(splits, args.batch_size, seed=args.seed)
    hp = run.search(build_model, train, validation_data=validation, objective="val_loss")
    model = build_model(hp)
    run.fit("best", model, train, validation_data=validation, verbose=0)
    test = model.evaluate(*splits["test"], verbose=0, return_dict=True)

    # ## Report
    run.histories.update({name: {"loss": r["losses"], "seconds": r.pop("epoch_seconds")}
                          for name, r in results.items()})
    return run.finish(test=test, model=model, target_loss=args.target_loss, optimizers=results)


if __name__ == "__main__":
    main()
