"""
Title: k-nearest neighbours on raw pixels, against the linear classifier
Course section: "Nearest Neighbor Classifiers" (with "Linear Classifier")
Description: Label a test image with the majority label of its k closest training images, the
distance being the L1 or L2 norm of the pixel-wise difference. The grid tuner picks k and the
distance on the validation split. Training is free, testing is not: the recipe measures the
time per test image against a linear classifier trained on the same data.
How to run:
    python recipes/nearest_neighbor.py                      # kerasnn_digits, offline, < 1 minute
    python recipes/nearest_neighbor.py --dataset kerasnn_shapes/classify
    python recipes/nearest_neighbor.py --smoke              # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras_tuner
import numpy as np

from kerasnn import cli, data, metrics, models, plots, recipe, tuning

# ## k-NN as a (weightless) Keras model
#
# `models.nearest_neighbor_classifier` stores the training set inside the model and votes among
# the k nearest stored images. There is nothing to fit, so the hypermodel's `fit` only scores the
# candidate on the validation split: that is all the tuner needs.

K_VALUES = (1, 3, 5, 7, 9)


class NearestNeighborHyperModel(keras_tuner.HyperModel):
    def __init__(self, train_inputs, train_labels, num_classes):
        super().__init__()
        self.train_inputs, self.train_labels = train_inputs, train_labels
        self.num_classes = num_classes

    def build(self, hp):
        k = hp.Choice("k", [k for k in K_VALUES if k <= len(self.train_labels)], default=1)
        distance = hp.Choice("distance", ["l1", "l2"], default="l2")
        return models.nearest_neighbor_classifier(
            self.train_inputs, self.train_labels, self.num_classes, k=k, distance=distance
        )

    def fit(self, hp, model, *args, validation_data=None, **kwargs):
        inputs, labels = validation_data
        return {"val_accuracy": accuracy(model, inputs, labels)}


def accuracy(model, inputs, labels, batch_size=256):
    predictions = model.predict(inputs, batch_size=batch_size, verbose=0)
    return float(np.mean(predictions.argmax(-1) == labels))


# ## Training is free, testing is not
#
# k-NN computes N distances of d pixels for every test image; the linear classifier one product
# with W (L x d multiply-adds) whatever the training-set size. Timed as the best of three passes
# over the test split (the first call also builds the graph).


def seconds_per_image(model, inputs, repeats=3, batch_size=256):
    model.predict(inputs[:batch_size], batch_size=batch_size, verbose=0)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(inputs, batch_size=batch_size, verbose=0)
        best = min(best, time.perf_counter() - started)
    return best / len(inputs)


def plot_validation_accuracy(trials, path):
    """Validation accuracy against k, one line per distance."""
    figure, axis = plots.pyplot().subplots(figsize=(5, 3.4))
    for distance in ("l1", "l2"):
        points = sorted((t["k"], t["score"]) for t in trials
                        if t.get("distance") == distance and t["score"] is not None)
        if points:
            axis.plot(*zip(*points), marker="o", label=distance.upper())
    axis.set_xlabel("k (neighbours that vote)")
    axis.set_ylabel("validation accuracy")
    axis.grid(alpha=0.3)
    axis.legend()
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("nearest_neighbor", __doc__, argv, dataset="kerasnn_digits", epochs=30,
                     max_trials=2 * len(K_VALUES), tuner="grid")
    spec = run.spec
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = run.arrays()
    run.open()

    # ## Choose k and the distance on validation data
    hypermodel = NearestNeighborHyperModel(x_train, y_train, spec.num_classes)
    hp = run.search(hypermodel, x_train, y_train, validation_data=(x_val, y_val), epochs=1)
    knn = hypermodel.build(hp)
    knn_accuracy = accuracy(knn, x_test, y_test)
    knn_time = seconds_per_image(knn, x_test)

    # ## The linear classifier on the same data
    linear = recipe.compile_classifier(
        models.linear_classifier(spec.input_shape, spec.num_classes, l2=1e-4), 1e-2,
        from_logits=True)
    train = data.from_arrays(x_train, y_train, run.args.batch_size, shuffle=True,
                             seed=run.args.seed)
    run.fit("linear", linear, train, validation_data=(x_val, y_val))
    linear_accuracy = accuracy(linear, x_test, y_test)
    linear_time = seconds_per_image(linear, x_test)

    # ## Report
    pixels = int(np.prod(spec.input_shape))
    rows = recipe.table([
        {"model": f"{hp['k']}-NN ({hp['distance']})", "test_accuracy": knn_accuracy,
         "multiply_adds_per_image": len(x_train) * pixels, "stored_values": knn.count_params(),
         "us_per_test_image": 1e6 * knn_time},
        {"model": "linear Wx+b", "test_accuracy": linear_accuracy,
         "multiply_adds_per_image": spec.num_classes * pixels,
         "stored_values": linear.count_params(), "us_per_test_image": 1e6 * linear_time},
    ])
    print(f"k-NN test time / linear test time: {knn_time / linear_time:.1f}x")
    matrix = metrics.confusion_matrix(y_test, knn.predict(x_test, verbose=0), spec.num_classes)
    plots.plot_confusion_matrix(matrix, run.plot_path("confusion_matrix"),
                                class_names=spec.class_names,
                                title=f"{hp['k']}-NN ({hp['distance']}), test split")
    trials = tuning.trials(run.tuner)
    if trials:
        plot_validation_accuracy(trials, run.plot_path("validation_accuracy_vs_k"))
    return run.finish(
        test={"knn_accuracy": knn_accuracy, "linear_accuracy": linear_accuracy,
              "knn_seconds_per_image": knn_time, "linear_seconds_per_image": linear_time,
              "knn_over_linear_time": knn_time / linear_time},
        model=knn, comparison=rows, confusion_matrix=matrix)


if __name__ == "__main__":
    main()
