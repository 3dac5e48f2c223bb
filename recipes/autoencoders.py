"""
Title: Autoencoders: compression, denoising, sparse codes, pretraining, and generation
Course section: "Autoencoders" (with "Noise Reduction", "Weight Initialization", "Generative
Models", "Train an autoencoder on S;", "Neural Autoencoder Recall")
Description: Train autoencoders D(E(s)) to reconstruct their input through a code of n < d
values: the reconstruction error against n for a dense and a convolutional (transpose-conv)
autoencoder; a denoising autoencoder (noise added in the tf.data pipeline, the clean image as
target) at several noise levels; the sparse penalty lambda * sum_j |h_j| against the fraction of
near-zero code units; the notes' pretraining (autoencoder on all unlabelled training images,
decoder dropped, FC classifier on the code, 10 labels per class) against the same classifier
from a random start; and decoding random codes z ~ N(0, I), scored by a digit classifier, to show
that the distribution of the codes is unknown.
How to run:
    python recipes/autoencoders.py                         # kerasnn_digits, offline
    python recipes/autoencoders.py --tuner random          # search code size, lambda, noise, lr
    python recipes/autoencoders.py --dataset kerasnn_shapes/classify
    python recipes/autoencoders.py --smoke                 # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, data, models, plots, recipe
from kerasnn.data import noise

TEST_NOISE_LEVELS = (0.1, 0.2, 0.3, 0.5)
NEAR_ZERO = 1e-3  # a code unit |h_j| below this counts as off
ARCHITECTURES = {"dense": models.dense_autoencoder, "conv": models.conv_autoencoder}


def flags(parser):
    parser.add_argument("--labels-per-class", type=cli.positive_int, default=10,
                        help="labelled training images per class for fine-tuning (default 10)")
    parser.add_argument("--few-label-epochs", type=cli.positive_int, default=100,
                        help="epochs of the few-label classifiers (default 100)")
    parser.add_argument("--code-sizes", type=cli.positive_int, nargs="+", default=[2, 8, 32],
                        help="code sizes n of the reconstruction table (default 2 8 32)")
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.0, 1e-3, 1e-2],
                        help="lambdas of the sparse-code table (default 0 0.001 0.01)")


def smoke(args):
    args.labels_per_class, args.few_label_epochs = 2, 1
    args.code_sizes, args.sparsities = [8], [0.0, 1e-2]


def compile_autoencoder(model, learning_rate):
    # "mse" as a metric too: the loss also holds the sparse penalty, the metric only the error.
    model.compile(keras.optimizers.Adam(learning_rate), loss="mse", metrics=["mse"])
    return model


def mse(reconstructed, images):
    return float(np.mean((np.asarray(reconstructed) - images) ** 2))


# ## The searched autoencoder: code size, sparsity, noise level, learning rate
#
# The noise level belongs to the data pipeline, not to the model, so the hypermodel's `fit`
# builds the noisy training pipeline of each trial. Trials are compared on clean validation
# images by the reconstruction error alone (`val_mse`, without the sparse penalty).


class DenoisingAutoencoder(keras_tuner.HyperModel):
    def __init__(self, input_shape, batch_size, seed):
        super().__init__()
        self.input_shape, self.batch_size, self.seed = input_shape, batch_size, seed

    def build(self, hp):
        sparsity = hp.Choice("sparsity", [0.0, 1e-4, 1e-3], default=0.0)
        model = models.conv_autoencoder(
            self.input_shape, hp.Choice("code_size", [8, 16, 32], default=16), sparsity=sparsity,
            code_activation="relu" if sparsity else None)
        hp.Choice("noise_stddev", [0.1, 0.2, 0.3], default=0.2)
        return compile_autoencoder(
            model, hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3))

    def pipeline(self, hp, images):
        return noise.denoising_dataset(images, noise_stddev=hp["noise_stddev"],
                                       batch_size=self.batch_size, seed=self.seed)

    def fit(self, hp, model, images, **kwargs):
        kwargs.pop("shuffle", None)  # the pipeline shuffles
        return model.fit(self.pipeline(hp, images), **kwargs)


def train_plain(run, phase, model, x_train, x_val, learning_rate=3e-3):
    """An autoencoder on clean images (no noise), for the code-size and sparsity tables."""
    compile_autoencoder(model, learning_rate)
    run.fit(phase, model, noise.denoising_dataset(x_train, noise_stddev=0.0,
                                                  batch_size=run.args.batch_size,
                                                  seed=run.args.seed),
            validation_data=(x_val, x_val))
    return model


def few_label_accuracy(run, phase, classifier, labelled, test):
    recipe.compile_classifier(classifier, 3e-3)
    (x, y), (x_test, y_test) = labelled, test
    run.fit(phase, classifier, x, y=y, batch_size=len(y), epochs=run.args.few_label_epochs,
            verbose=0)
    return float(classifier.evaluate(x_test, y_test, verbose=0)[1])


def fresh_encoder(input_shape, code_size):
    return models.conv_autoencoder(input_shape, code_size).get_layer("encoder")


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("autoencoders", __doc__, argv, dataset="kerasnn_digits", epochs=20,
                     batch_size=64, tuner="none", max_trials=6, flags=flags, smoke=smoke)
    spec = run.spec
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = run.arrays()
    if min(run.args.sparsities) < 0:
        raise cli.UserError("--sparsities must be non-negative.")
    try:
        labelled = data.per_class_subset(y_train, run.args.labels_per_class, seed=run.args.seed)
    except ValueError as error:
        raise cli.UserError(f"--labels-per-class {run.args.labels_per_class}: {error}") from None
    run.open()
    shape, seed = spec.input_shape, run.args.seed

    # ## Reconstruction error against the code size n < d
    rows = []
    for kind, builder in ARCHITECTURES.items():
        for code_size in run.args.code_sizes:
            model = train_plain(run, f"code_size/{kind}/{code_size}",
                                builder(shape, code_size), x_train, x_val)
            rows.append({"autoencoder": kind, "code_size": code_size, "input_size": x_train[0].size,
                         "test_mse": mse(model.predict(x_test, verbose=0), x_test)})
    recipe.table(rows)

    # ## Sparse codes: lambda * sum_j |h_j| switches code units off
    sparse_rows = []
    for sparsity in run.args.sparsities:
        model = train_plain(run, f"sparsity/{sparsity:g}", models.dense_autoencoder(
            shape, 32, sparsity=sparsity, code_activation="relu"), x_train, x_val)
        codes = model.get_layer("encoder").predict(x_test, verbose=0)
        sparse_rows.append({"sparsity": sparsity,
                            "near_zero_fraction": float(np.mean(np.abs(codes) < NEAR_ZERO)),
                            "mean_abs_code": float(np.mean(np.abs(codes))),
                            "test_mse": mse(model.predict(x_test, verbose=0), x_test)})
    recipe.table(sparse_rows)

    # ## The searched denoising autoencoder, trained on every (unlabelled) training image
    hypermodel = DenoisingAutoencoder(shape, run.args.batch_size, seed)
    hp = run.search(hypermodel, x_train, validation_data=(x_val, x_val), objective="val_mse")
    autoencoder = hypermodel.build(hp)
    run.fit("denoising", autoencoder, hypermodel.pipeline(hp, x_train),
            validation_data=(x_val, x_val))
    reconstructions = autoencoder.predict(x_test, verbose=0)
    noise_rows = []
    for level in sorted({*TEST_NOISE_LEVELS, hp["noise_stddev"]}):
        noisy = noise.add_noise(x_test, level, seed=(seed, 7)).numpy()
        denoised = autoencoder.predict(noisy, verbose=0)
        noise_rows.append({"noise_stddev": level, "trained_at": hp["noise_stddev"],
                           "mse_noisy": mse(noisy, x_test), "mse_denoised": mse(denoised, x_test)})
        if level == hp["noise_stddev"]:
            shown = np.concatenate([x_test[:8], noisy[:8], denoised[:8]])
    recipe.table(noise_rows)
    at_training_level = next(r for r in noise_rows if r["noise_stddev"] == hp["noise_stddev"])

    # ## Pretraining: drop the decoder, FC on the code, a few labels per class
    #
    # "pretrained": the autoencoder's encoder initializes the classifier, all of it fine-tuned
    # ("Weight Initialization"); "pretrained_frozen": only the FC layer trained on the code;
    # "scratch": the same classifier from a random start, all of it trained.
    few = (x_train[labelled], y_train[labelled])
    encoder = autoencoder.get_layer("encoder")
    tuned = fresh_encoder(shape, hp["code_size"])
    tuned.set_weights(encoder.get_weights())
    accuracies = {
        "pretrained_frozen": few_label_accuracy(run, "few_labels/pretrained_frozen",
                                                models.encoder_classifier(
                                                    encoder, spec.num_classes),
                                                few, (x_test, y_test)),
        "pretrained": few_label_accuracy(
            run, "few_labels/pretrained",
            models.encoder_classifier(tuned, spec.num_classes, trainable_encoder=True),
            few, (x_test, y_test)),
        "scratch": few_label_accuracy(run, "few_labels/scratch", models.encoder_classifier(
            fresh_encoder(shape, hp["code_size"]), spec.num_classes, trainable_encoder=True),
            few, (x_test, y_test)),
    }
    recipe.table([{"classifier": name, "labelled_images": len(few[1]), "test_accuracy": value}
                  for name, value in accuracies.items()])

    # ## Generation: decode random codes (the code distribution is unknown)
    judge = models.encoder_classifier(fresh_encoder(shape, 32), spec.num_classes,
                                      trainable_encoder=True, name="judge")
    recipe.compile_classifier(judge, 3e-3)
    run.fit("judge", judge, x_train, y=y_train, validation_data=(x_val, y_val))
    codes = encoder.predict(x_train, verbose=0)
    rng = np.random.default_rng(seed)
    random_codes = {"N(0, I)": rng.standard_normal((64, codes.shape[1])),
                    "N(mean, cov) of the codes": rng.multivariate_normal(
                        codes.mean(axis=0), np.cov(codes, rowvar=False), 64)}
    samples = {name: autoencoder.get_layer("decoder").predict(z, verbose=0)
               for name, z in random_codes.items()}
    judged = {"test images": x_test, "reconstructions": reconstructions, **samples}
    generation_rows = recipe.table([
        {"images": name, "judge_confidence": float(judge.predict(x, verbose=0).max(-1).mean())}
        for name, x in judged.items()])

    # ## Report
    plots.plot_image_grid(np.concatenate([x_test[:8], reconstructions[:8]]),
                          run.plot_path("reconstructions"), columns=8,
                          title="Test images (top) and their reconstructions")
    plots.plot_image_grid(shown, run.plot_path("denoising"), columns=8,
                          title=f"Clean, noisy (sigma {hp['noise_stddev']:g}), denoised")
    plots.plot_image_grid(np.concatenate([x[:16] for x in samples.values()]),
                          run.plot_path("samples"), columns=8,
                          title="Decoded codes: N(0, I) (top), N(mean, cov) (bottom)")
    return run.finish(
        test={"few_label_accuracy_pretrained": accuracies["pretrained"],
              "few_label_accuracy_pretrained_frozen": accuracies["pretrained_frozen"],
              "few_label_accuracy_scratch": accuracies["scratch"],
              "reconstruction_mse": mse(reconstructions, x_test),
              "denoising_mse_noisy": at_training_level["mse_noisy"],
              "denoising_mse_denoised": at_training_level["mse_denoised"]},
        model=autoencoder, curves=("loss", "mse"), code_size_table=rows,
        sparsity_table=sparse_rows, denoising_table=noise_rows, few_label_accuracies=accuracies,
        generation_table=generation_rows, labelled_images=len(few[1]))


if __name__ == "__main__":
    main()
