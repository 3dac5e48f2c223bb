"""
Title: Anomaly detection with a GAN (inverted) and a BiGAN, against an autoencoder
Course section: "GAN for Anomaly Detections", "Bi-GANs" (with "Autoencoders")
Description: Train on normal images only — the four source shapes (circle, square, triangle,
cross) — and score a test mix of normal images and anomalies (stars, rings, crescents, ellipses,
never seen). Scores, larger = more anomalous: the GAN inverted by gradient descent on z
(residual ||G(z*) - s|| and latent likelihood of z*), the BiGAN's prior likelihood of E(s), its
discriminator posterior D(s, E(s)) and its reconstruction ||s - G(E(s))||, and, as the baseline
everyone tries first, an autoencoder's reconstruction error. Each is judged by its ROC AUC.
How to run:
    python recipes/anomaly_detection.py               # kerasnn_shapes, offline, a few minutes
    python recipes/anomaly_detection.py --smoke       # seconds-long end-to-end check
    # online: one class of any tfds image dataset is normal, the others anomalous
    python recipes/anomaly_detection.py --dataset mnist --normal-classes 0 --image-size 28
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, metrics, models, plots, recipe
from kerasnn.models import gan

LATENT_DIM = 32


def flags(parser):
    parser.add_argument("--anomaly-dataset", default="kerasnn_shapes/target",
                        help="dataset whose test images are the anomalies when --normal-classes "
                             "is not given (default: kerasnn_shapes/target)")
    parser.add_argument("--normal-classes", default=None,
                        help="comma-separated classes of --dataset that are normal; the others "
                             "are the anomalies (default: all of --dataset is normal)")
    parser.add_argument("--image-size", type=cli.positive_int, default=16,
                        help="side the images are resized to (default: 16)")
    parser.add_argument("--inversion-steps", type=cli.positive_int, default=300,
                        help="gradient steps of the GAN inversion (default: 300)")
    parser.add_argument("--test-examples", type=cli.positive_int, default=400,
                        help="test images of each kind, normal and anomalous (default: 400)")


def smoke(args):
    args.inversion_steps, args.test_examples = 5, 16


# ## Normal training images; a test mix with labels (1 = anomaly)


def split_data(run):
    args = run.args
    load = dict(image_size=args.image_size)
    (train, train_labels), _, (test, test_labels) = run.arrays(**load)
    if args.normal_classes is None:
        anomalies, _ = data.load_arrays(args.anomaly_dataset, "test", data_dir=args.data_dir,
                                        limit=args.test_examples, **load)
        normal_test = test[: args.test_examples]
    else:
        try:
            normal = np.array([int(c) for c in args.normal_classes.split(",")])
        except ValueError:
            raise cli.UserError(f"--normal-classes must be integers, received "
                                f"{args.normal_classes!r}") from None
        train = train[np.isin(train_labels, normal)]
        is_normal = np.isin(test_labels, normal)
        normal_test = test[is_normal][: args.test_examples]
        anomalies = test[~is_normal][: args.test_examples]
    if anomalies.shape[1:] != train.shape[1:]:
        raise cli.UserError(f"anomalies of {args.anomaly_dataset} are {anomalies.shape[1:]}, "
                            f"normal images {train.shape[1:]}")
    mix = np.concatenate([normal_test, anomalies])
    labels = np.r_[np.zeros(len(normal_test)), np.ones(len(anomalies))]
    return 2 * train - 1, 2 * mix - 1, labels  # the generators' tanh range


def real_batches(images, args):
    pipeline = data.from_arrays(images, np.zeros(len(images)), args.batch_size, shuffle=True,
                                seed=args.seed)
    return pipeline.unbatch().batch(args.batch_size, drop_remainder=True)


def adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)  # the DCGAN paper's setting


# ## Three models of the normal images


def train_gan(run, train, shape):
    keras.utils.set_random_seed(run.args.seed)
    model = gan.GAN(gan.conv_generator(LATENT_DIM, shape, filters=(64, 32)),
                    gan.conv_discriminator(shape, filters=(32, 64)), seed=run.args.seed)
    model.compile(adam(), adam())
    run.fit("gan", model, real_batches(train, run.args))
    return model


def train_bigan(run, train, shape):
    keras.utils.set_random_seed(run.args.seed)
    model = gan.BiGAN(gan.conv_generator(LATENT_DIM, shape, filters=(64, 32)),
                      gan.mlp_encoder(shape, LATENT_DIM, hidden_units=(256,)),
                      gan.pair_discriminator(shape, LATENT_DIM, hidden_units=(256, 128)),
                      seed=run.args.seed)
    model.compile(adam(), adam())
    run.fit("bigan", model, real_batches(train, run.args))
    return model


def train_autoencoder(run, train, shape):
    """The baseline: a dense autoencoder with a LATENT_DIM code, trained on MSE."""
    keras.utils.set_random_seed(run.args.seed)
    size = int(np.prod(shape))
    model = models.mlp(shape, size, hidden_units=(256, LATENT_DIM, 256), output_activation="tanh",
                       name="autoencoder")
    model.compile(keras.optimizers.Adam(1e-3), loss="mean_squared_error")
    run.fit("autoencoder", model, data.from_arrays(train, train.reshape(len(train), -1),
                                                   run.args.batch_size, shuffle=True,
                                                   seed=run.args.seed))
    return model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("anomaly_detection", __doc__, argv, dataset="kerasnn_shapes/source",
                     epochs=30, batch_size=64, tuner="none", max_trials=1, flags=flags,
                     smoke=smoke)
    train, mix, labels = split_data(run)
    shape = train.shape[1:]
    run.open()

    gan_model = train_gan(run, train, shape)
    bigan_model = train_bigan(run, train, shape)
    autoencoder = train_autoencoder(run, train, shape)

    # ## Scores of the test mix, larger = more anomalous
    codes, residuals = gan.invert(gan_model.generator, mix, steps=run.args.inversion_steps,
                                  seed=run.args.seed)
    reconstructed = autoencoder.predict(mix, verbose=0)
    scores = {"gan_residual": residuals,
              "gan_latent_likelihood": -gan.latent_log_likelihood(codes),
              **{f"bigan_{name}": value
                 for name, value in gan.bigan_scores(bigan_model, mix).items()},
              "autoencoder": np.sqrt(((reconstructed - mix.reshape(len(mix), -1)) ** 2).sum(-1))}
    auc = {f"auc_{name}": metrics.roc_auc(labels, value) for name, value in scores.items()}
    recipe.table([{"score": name[4:], "roc_auc": value} for name, value in auc.items()])

    # ## Report
    plot_roc(run, labels, scores)
    best = max(auc, key=auc.get)[4:]
    order = np.argsort(scores[best])
    extremes = np.concatenate([mix[order[-8:]], mix[order[:8]]])
    plots.plot_image_grid((extremes + 1) / 2, run.plot_path("most_and_least_anomalous"),
                          columns=8, title=f"{best}: most anomalous (top) and least (bottom)")
    plots.plot_image_grid((gan_model.sample(16).numpy() + 1) / 2, run.plot_path("gan_samples"),
                          columns=8, title="GAN samples of the normal images")
    return run.finish(test=auc, model=gan_model.generator,
                      curves=("discriminator_loss", "generator_loss", "loss"),
                      best_score=best, test_normal=int((labels == 0).sum()),
                      test_anomalies=int(labels.sum()))


def plot_roc(run, labels, scores):
    figure, axis = plots.pyplot().subplots(figsize=(5, 4.5))
    for name, value in scores.items():
        order = np.argsort(-value)
        hits = labels[order]
        axis.plot(np.r_[0, np.cumsum(1 - hits) / (1 - hits).sum()],
                  np.r_[0, np.cumsum(hits) / hits.sum()], label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.legend(fontsize=7)
    plots.save_figure(figure, run.plot_path("roc_curves"))


if __name__ == "__main__":
    main()
