"""
Title: The linear classifier s = Wx + b and its class templates
Course section: "Linear Classifier" (with "Training a Linear Classifier", "Geometric Interpretation")
Description: Unroll each image into a vector x, score the classes with s = Wx + b, predict the
largest score, and learn W and b by minimising softmax cross-entropy (or the multiclass hinge
loss) with weight decay. Each row of W, reshaped to an image, is the template the class matches.
How to run:
    python recipes/linear_classifier.py                     # kerasnn_digits, offline, < 1 minute
    python recipes/linear_classifier.py --loss hinge        # the multiclass SVM (hinge) loss
    python recipes/linear_classifier.py --dataset kerasnn_shapes/classify
    python recipes/linear_classifier.py --smoke             # seconds-long end-to-end check
"""

import time

import keras
from keras import ops

from kerasnn import cli, data, models, plots, reporting, tuning

"""
## Two losses for the same scores

The scores ``s = Wx + b`` are not normalised. Cross-entropy turns them into posteriors with a
softmax; the multiclass hinge (SVM) loss asks the correct class to beat every other class by a
margin of 1: ``L = sum_{j != y} max(0, s_j - s_y + 1)``.
"""


@keras.saving.register_keras_serializable(package="kerasnn_recipes")
def multiclass_hinge(labels, scores):
    """The multiclass SVM loss on integer labels and raw scores."""
    num_classes = ops.shape(scores)[-1]
    target = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), num_classes, dtype=scores.dtype)
    correct = ops.sum(scores * target, axis=-1, keepdims=True)
    return ops.sum(ops.maximum(scores - correct + 1.0, 0.0) * (1.0 - target), axis=-1)


LOSSES = {
    "crossentropy": lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    "hinge": lambda: multiclass_hinge,
}


def make_build_model(input_shape, num_classes, loss):
    """The hypermodel: learning rate and weight decay (L2 on W) are searched."""

    def build_model(hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log", default=1e-2)
        l2 = hp.Choice("l2", [0.0, 1e-4, 1e-3], default=1e-4)
        model = models.linear_classifier(input_shape, num_classes, l2=l2)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=LOSSES[loss](),
                      metrics=["accuracy"])
        return model

    return build_model


def parse(argv):
    parser = cli.recipe_parser(
        "linear_classifier",
        __doc__,
        dataset="kerasnn_digits", epochs=30, batch_size=32, max_trials=4, tuner="random",
    )
    parser.add_argument("--loss", choices=sorted(LOSSES), default="crossentropy",
                        help="training loss on the scores (default: crossentropy)")
    return cli.parse_args(parser, argv)


def load_splits(args):
    """Train, validation and test datasets (tiny slices under --smoke)."""
    splits = data.standard_splits(args.dataset, args.data_dir)
    take = "[:64]" if args.smoke else ""
    return [data.load(args.dataset, splits[name] + take, data_dir=args.data_dir,
                      batch_size=args.batch_size, seed=args.seed)
            for name in ("train", "validation", "test")]


"""
## Templates: the rows of W as images

Keras keeps ``W`` transposed (kernel of shape ``(d, L)``); column ``i`` reshaped to the image
shape is the template of class ``i``: positive weights where class ``i`` expects ink.
"""


def class_templates(model, input_shape):
    kernel = ops.convert_to_numpy(model.get_layer("scores").kernel)
    return kernel.T.reshape(-1, *input_shape)


@cli.recipe_main
def main(argv=None):
    args = parse(argv)
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    spec = data.describe(args.dataset, args.data_dir)
    train, validation, test = load_splits(args)
    run = cli.run_directory(args)

    build_model = make_build_model(spec.input_shape, spec.num_classes, args.loss)
    tuner = tuning.make_tuner(args.tuner, build_model, objective="val_accuracy", max_trials=args.max_trials,
                              max_epochs=args.epochs, directory=run.tuner_dir, overwrite=args.overwrite,
                              seed=args.seed)
    hp = tuning.search(tuner, build_model, train, validation_data=validation, epochs=args.epochs,
                       seed=args.seed)
    model = build_model(hp)
    fit_started = time.time()
    history = run.fit("train", model, train, epochs=args.epochs, validation_data=validation)
    fit_seconds = time.time() - fit_started
    test_loss, test_accuracy = model.evaluate(test, verbose=0)

    """
    ## Report
    """
    images, labels = zip(*test.as_numpy_iterator())
    predictions = model.predict(ops.concatenate(images), verbose=0)
    matrix = plots.confusion_matrix(ops.concatenate(labels), predictions, spec.num_classes)
    plots.plot_confusion_matrix(matrix, run.plot_path("confusion_matrix"), class_names=spec.class_names)
    plots.plot_image_grid(class_templates(model, spec.input_shape), run.plot_path("class_templates"),
                          titles=spec.class_names, columns=min(spec.num_classes, 10), symmetric=True,
                          title="Rows of W as images (red: positive weight)")
    run.plot_history({"train": history})
    run.write_history({"train": history})
    run.save_model(model)
    row = {"model": "linear Wx+b", "loss": args.loss, "params": model.count_params(),
           "test_accuracy": float(test_accuracy), "train_seconds": fit_seconds}
    print(reporting.format_table([row]))
    run.write_metrics({
        "recipe": "linear_classifier",
        "dataset": args.dataset,
        "seed": args.seed,
        "wall_seconds": time.time() - started,
        "loss": args.loss,
        "test": {"accuracy": float(test_accuracy), "loss": float(test_loss)},
        "params": model.count_params(),
        "confusion_matrix": matrix,
        "best_hyperparameters": hp.values,
        "trials": tuning.trials(tuner),
    })
    return row


if __name__ == "__main__":
    main()
