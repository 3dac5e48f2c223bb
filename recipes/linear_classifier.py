"""
Title: The linear classifier s = Wx + b and its class templates
Course section: "Linear Classifier" ("Training a Linear Classifier", "Geometric Interpretation")
Description: Unroll each image into a vector x, score the classes with s = Wx + b, predict the
largest score, and learn W and b by minimising softmax cross-entropy (or the multiclass hinge
loss) with weight decay. Each row of W, reshaped to an image, is the template the class matches.
How to run:
    python recipes/linear_classifier.py                     # kerasnn_digits, offline, < 1 minute
    python recipes/linear_classifier.py --loss hinge        # the multiclass SVM (hinge) loss
    python recipes/linear_classifier.py --dataset kerasnn_shapes/classify
    python recipes/linear_classifier.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import numpy as np
from keras import ops

from kerasnn import cli, losses, metrics, models, plots, recipe

# ## Two losses for the same scores
#
# The scores s = Wx + b are not normalised. Cross-entropy turns them into posteriors with a
# softmax; the multiclass hinge (SVM) loss asks the correct class to beat every other class by a
# margin of 1: L = sum_{j != y} max(0, s_j - s_y + 1) (`kerasnn.losses.MulticlassHinge`).

LOSSES = {"crossentropy": lambda: None, "hinge": losses.MulticlassHinge}


def make_build_model(input_shape, num_classes, loss):
    """The hypermodel: learning rate and weight decay (L2 on W) are searched."""

    def build_model(hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log", default=1e-2)
        l2 = hp.Choice("l2", [0.0, 1e-4, 1e-3], default=1e-4)
        model = models.linear_classifier(input_shape, num_classes, l2=l2)
        return recipe.compile_classifier(model, learning_rate, loss=LOSSES[loss](),
                                         from_logits=True)

    return build_model


def flags(parser):
    parser.add_argument("--loss", choices=sorted(LOSSES), default="crossentropy",
                        help="training loss on the scores (default: crossentropy)")


# ## Templates: the rows of W as images
#
# Keras keeps W transposed (kernel of shape (d, L)); column i reshaped to the image shape is the
# template of class i: positive weights where class i expects ink.


def class_templates(model, input_shape):
    kernel = ops.convert_to_numpy(model.get_layer("scores").kernel)
    return kernel.T.reshape(-1, *input_shape)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("linear_classifier", __doc__, argv, dataset="kerasnn_digits", epochs=30,
                     max_trials=4, flags=flags)
    spec = run.spec
    train, validation, test = run.splits()
    run.open()

    build_model = make_build_model(spec.input_shape, spec.num_classes, run.args.loss)
    hp = run.search(build_model, train, validation_data=validation)
    model = build_model(hp)
    run.fit("train", model, train, validation_data=validation)
    test_loss, test_accuracy = model.evaluate(test, verbose=0)

    # ## Report
    images, labels = zip(*test.as_numpy_iterator())
    predictions = model.predict(np.concatenate(images), verbose=0)
    matrix = metrics.confusion_matrix(np.concatenate(labels), predictions, spec.num_classes)
    plots.plot_confusion_matrix(matrix, run.plot_path("confusion_matrix"),
                                class_names=spec.class_names)
    plots.plot_image_grid(class_templates(model, spec.input_shape),
                          run.plot_path("class_templates"), titles=spec.class_names,
                          columns=min(spec.num_classes, 10), symmetric=True,
                          title="Rows of W as images (red: positive weight)")
    recipe.table([{"model": "linear Wx+b", "loss": run.args.loss, "params": model.count_params(),
                   "test_accuracy": float(test_accuracy)}])
    return run.finish(test={"accuracy": float(test_accuracy), "loss": float(test_loss)},
                      model=model, loss=run.args.loss, params=model.count_params(),
                      confusion_matrix=matrix)


if __name__ == "__main__":
    main()
