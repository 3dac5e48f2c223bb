"""
Title: Convolutional networks: LeNet-5, a small VGG and a small Inception net against an MLP
Course section: "Convolutional Neural Networks" (with "Convolutional Layers", "Pooling Layers",
"Relevant CNN Architectures", "Receptive Field")
Description: Train three classic CNN designs on the same images — LeNet-5 (5x5 convolutions,
average pooling, tanh), a VGG (blocks of 3x3 convolutions closed by max pooling) whose filters,
depth and dropout the tuner searches, and an Inception-style net (parallel 1x1/3x3/5x5 branches
with 1x1 reductions) — plus a fully connected network with as many parameters as the VGG.
One table compares test accuracy, parameters, epoch time and receptive field.
How to run:
    python recipes/cnn.py                                   # kerasnn_digits, offline, < 3 minutes
    python recipes/cnn.py --dataset kerasnn_shapes/classify
    python recipes/cnn.py --dataset mnist --epochs 10       # online
    python recipes/cnn.py --smoke                           # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, metrics, models, plots, recipe
from kerasnn.ops import geometry

# ## The VGG hypermodel
#
# Filters double from block to block, as in VGG16; each block is `convs_per_block` 3x3
# convolutions and a 2x2 max pooling. The tuner chooses the first block's filters, the number of
# blocks and convolutions per block, and the dropout before the classifier.

LEARNING_RATE = 1e-3


def vgg_builder(input_shape, num_classes):
    def build_model(hp):
        filters = hp.Choice("filters", [16, 32, 64], default=32)
        blocks = hp.Int("blocks", 1, 3, default=2)
        convs_per_block = hp.Int("convs_per_block", 1, 2, default=2)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.25, default=0.25)
        model = models.vgg(input_shape, num_classes,
                           filters=[filters * 2**i for i in range(blocks)],
                           convs_per_block=convs_per_block, dense_units=(128,), dropout=dropout)
        return recipe.compile_classifier(model, LEARNING_RATE)

    return build_model


# ## An MLP with the VGG's parameter budget
#
# One hidden layer of h units on the d unrolled pixels has (d + 1) h + (h + 1) L parameters; h is
# solved for the VGG's count, so the comparison is about structure (local connections, weight
# sharing), not size.


def matching_mlp(input_shape, num_classes, num_params):
    pixels = int(np.prod(input_shape))
    hidden = max(1, round((num_params - num_classes) / (pixels + 1 + num_classes)))
    return models.mlp(input_shape, num_classes, hidden_units=(hidden,), dropout=0.25,
                      name="mlp_same_size")


def build_networks(input_shape, num_classes, build_vgg, hp):
    """The four networks, compiled alike: LeNet-5, the searched VGG, Inception, the MLP."""
    networks = {
        "lenet5": models.lenet5(input_shape, num_classes),
        "vgg": build_vgg(hp),
        "inception": models.inception_net(input_shape, num_classes),
    }
    networks["mlp_same_size"] = matching_mlp(input_shape, num_classes,
                                             networks["vgg"].count_params())
    return {name: recipe.compile_classifier(model, LEARNING_RATE)
            for name, model in networks.items()}


# ## Receptive field, read from the built networks
#
# `geometry.model_receptive_field` walks every path of a network's graph from the input to the
# feature maps before the classifier, applying r_l = r_{l-1} + (F_l - 1) j_{l-1} along each. A
# chain (LeNet-5, VGG) has one path; the Inception net has one per branch and module, and its
# units see the largest branch's window. LeNet-5 first resizes small images to 32x32: its field is
# counted in those pixels. The MLP's units see every pixel.


def receptive_field(model):
    if model.name == "mlp_same_size":
        return None
    field, _ = geometry.model_receptive_field(model)
    return field.size[0]


def flags(parser):
    parser.add_argument("--search-epochs", type=cli.positive_int, default=8,
                        help="epochs per tuner trial (default: 8)")
    parser.add_argument("--patience", type=cli.positive_int, default=6,
                        help="early-stopping patience on validation loss (default: 6)")


def smoke(args):
    args.search_epochs = 1


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("cnn", __doc__, argv, dataset="kerasnn_digits", epochs=20, max_trials=3,
                     flags=flags, smoke=smoke)
    spec = run.spec
    train, validation, test = run.splits()
    run.open()

    # ## Search the VGG's filters, depth and dropout
    build_vgg = vgg_builder(spec.input_shape, spec.num_classes)
    hp = run.search(build_vgg, train, validation_data=validation, epochs=run.args.search_epochs)

    # ## Train every network the same way
    #
    # Same data, optimizer, epochs and early stopping on the validation loss (best weights kept).
    networks = build_networks(spec.input_shape, spec.num_classes, build_vgg, hp)
    for name, model in networks.items():
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=run.args.patience,
                                             restore_best_weights=True)
        run.fit(name, model, train, validation_data=validation, callbacks=[stop], verbose=0)
    seconds = run.epoch_seconds()
    rows = []
    for name, model in networks.items():
        history = run.histories[name]
        _, test_accuracy = model.evaluate(test, verbose=0)
        print(f"{name}: test accuracy {test_accuracy:.4f}")
        rows.append({"model": name, "params": model.count_params(),
                     "val_accuracy": max(history["val_accuracy"]),
                     "val_loss": min(history["val_loss"]), "test_accuracy": float(test_accuracy),
                     "epoch_seconds": seconds[name], "epochs": len(history["loss"]),
                     "receptive_field": receptive_field(model)})

    # ## Report: the best CNN is chosen on validation accuracy, never on the test split
    best = max((row for row in rows if row["model"] != "mlp_same_size"),
               key=lambda row: (row["val_accuracy"], -row["val_loss"]))
    best_model = networks[best["model"]]
    images, labels = zip(*test.as_numpy_iterator())
    matrix = metrics.confusion_matrix(np.concatenate(labels),
                                      best_model.predict(np.concatenate(images), verbose=0),
                                      spec.num_classes)
    plots.plot_confusion_matrix(matrix, run.plot_path("confusion_matrix"),
                                class_names=spec.class_names,
                                title=f"{best['model']} (best CNN on validation), test split")
    recipe.table(rows)
    print(f"best CNN (validation): {best['model']}, test accuracy {best['test_accuracy']:.4f}")
    test_figures = {f"{row['model']}_accuracy": row["test_accuracy"] for row in rows}
    return run.finish(
        test={**test_figures, "best_cnn": best["model"],
              "best_cnn_accuracy": best["test_accuracy"]},
        model=best_model, models=rows, confusion_matrix=matrix)


if __name__ == "__main__":
    main()
