"""
Title: GANs as the course trains them: k ascent steps on D, one step on G, and why -log D(G(z))
Course section: "GAN", "GAN - Adversary Nets", "GAN Training", "Alternate:"
Description: A generator G(z) and a discriminator D(s) trained by the notes' alternating
procedure on handwritten digits. First the reason for the non-saturating generator loss: with
the same weights, the gradient of log(1 - D(G(z))) against that of -log D(G(z)) while D still
rejects the samples. Then the generator trained with each loss and with k = 1 or k > 1
discriminator steps, its samples scored by a digit classifier trained on the real images:
mean confidence, classes covered (mode collapse) and the distance to the nearest training image
(memorization).
How to run:
    python recipes/gan.py                     # kerasnn_digits, offline, a few minutes
    python recipes/gan.py --epochs 400        # longer training
    python recipes/gan.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, models, plots, recipe
from kerasnn.models import gan

LATENT_DIM = 16
SAMPLES = 1000


def flags(parser):
    parser.add_argument("--discriminator-steps", type=cli.positive_int, default=2,
                        help="k: discriminator steps per generator step in the k > 1 run "
                             "(default: 2)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=1e-3,
                        help="Adam learning rate of both networks (default: 1e-3)")


def build(args, input_shape, discriminator_steps, generator_loss):
    keras.utils.set_random_seed(args.seed)  # every variant starts from the same weights
    model = gan.GAN(gan.mlp_generator(LATENT_DIM, input_shape, hidden_units=(128, 256)),
                    gan.mlp_discriminator(input_shape, hidden_units=(256, 128)),
                    discriminator_steps=discriminator_steps, generator_loss=generator_loss,
                    seed=args.seed)
    # beta_1 = 0.5: the usual GAN setting (DCGAN paper), momentum makes the game oscillate.
    model.compile(keras.optimizers.Adam(args.learning_rate, beta_1=0.5),
                  keras.optimizers.Adam(args.learning_rate, beta_1=0.5))
    return model


# ## Why the notes switch to -log D(G(z))
#
# d/dl log(1 - sigmoid(l)) = -D and d/dl [-log sigmoid(l)] = -(1 - D): while D(G(z)) is near 0
# (a discriminator that rejects the first, poor samples), the minimax loss gives the generator
# almost no gradient and the non-saturating one almost all of it. Measured: the same generator
# and a discriminator trained for a few steps on real against generated images.


def initial_gradient_norms(args, train, input_shape):
    model = build(args, input_shape, 1, "non_saturating")
    model.generator.trainable = False  # only D learns here
    model.fit(train.take(2 if args.smoke else -1), epochs=3, verbose=0, shuffle=False)
    model.generator.trainable = True
    norms = {}
    for kind in ("minimax", "non_saturating"):
        model.generator_loss = kind
        keras.utils.set_random_seed(args.seed)
        norms[kind] = model.generator_gradient_norm(256)
    fake = model.discriminate(model.sample(256))
    return norms, float(np.mean(keras.ops.convert_to_numpy(fake)))


# ## Scoring samples: a digit classifier trained on the real images


def train_scorer(args, run, train_images, train_labels, test_images, test_labels, input_shape):
    scorer = recipe.compile_classifier(models.mlp(input_shape, 10, hidden_units=(128,)), 1e-3)
    train = data.from_arrays(train_images, train_labels, 64, shuffle=True, seed=args.seed)
    run.fit("scorer", scorer, train, epochs=1 if args.smoke else 30)
    return scorer, float(scorer.evaluate(test_images, test_labels, verbose=0)[1])


def score_samples(scorer, samples, train_images):
    """Mean confidence, classes covered (>= 2% of the samples each), nearest-neighbour distance."""
    posteriors = scorer.predict((samples + 1.0) / 2.0, verbose=0)
    counts = np.bincount(posteriors.argmax(-1), minlength=10)
    flat, reference = samples.reshape(len(samples), -1), (2 * train_images - 1).reshape(
        len(train_images), -1)
    distances = np.sqrt(((flat[:, None, :] - reference[None]) ** 2).sum(-1)).min(axis=1)
    return {"classifier_confidence": float(posteriors.max(-1).mean()),
            "classes_covered": int((counts >= 0.02 * len(samples)).sum()),
            "nearest_training_distance": float(distances.mean())}


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("gan", __doc__, argv, dataset="kerasnn_digits", epochs=300, batch_size=64,
                     tuner="none", max_trials=1, flags=flags, smoke_examples=128)
    args = run.args
    (train_images, train_labels), _, (test_images, test_labels) = run.arrays()
    input_shape = train_images.shape[1:]
    run.open()

    def real_batches(batch_size):
        # Images in [-1, 1], the generator's tanh range; whole batches (k minibatches each).
        pipeline = data.from_arrays(2 * train_images - 1, train_labels, batch_size, shuffle=True,
                                    seed=args.seed)
        return pipeline.unbatch().batch(batch_size, drop_remainder=True)

    norms, d_of_fake = initial_gradient_norms(args, real_batches(args.batch_size), input_shape)
    print(f"D(G(z)) = {d_of_fake:.3f}: ||grad theta_g|| minimax {norms['minimax']:.3g}, "
          f"non-saturating {norms['non_saturating']:.3g}")
    scorer, scorer_accuracy = train_scorer(args, run, train_images, train_labels, test_images,
                                           test_labels, input_shape)

    # ## The notes' training procedure, three ways
    variants = {"non_saturating_k1": (1, "non_saturating"),
                f"non_saturating_k{args.discriminator_steps}": (args.discriminator_steps,
                                                                 "non_saturating"),
                "minimax_k1": (1, "minimax")}
    rows, snapshots, main_model = [], {}, None
    for name, (steps, loss) in variants.items():
        model = build(args, input_shape, steps, loss)
        run.fit(name, model, real_batches(args.batch_size * steps))
        keras.utils.set_random_seed(args.seed)
        samples = keras.ops.convert_to_numpy(model.sample(SAMPLES))
        rows.append({"variant": name, **score_samples(scorer, samples, train_images)})
        snapshots[name] = samples[:20]
        main_model = main_model or model
    recipe.table(rows)

    # ## Report
    grid = np.concatenate([snapshots[name] for name in variants])
    plots.plot_image_grid((grid + 1) / 2, run.plot_path("samples"), columns=20, cmap="gray",
                          title="Samples: " + " / ".join(variants) + " (one row each)")
    best = rows[0]
    return run.finish(
        test={"classifier_confidence": best["classifier_confidence"],
              "classes_covered": best["classes_covered"],
              "initial_generator_grad_norm_saturating": norms["minimax"],
              "initial_generator_grad_norm_non_saturating": norms["non_saturating"]},
        model=main_model.generator,
        curves=("discriminator_loss", "generator_loss", "real_accuracy", "fake_accuracy"),
        variants=rows, scorer_test_accuracy=scorer_accuracy, initial_d_of_fake=d_of_fake,
        test_nearest_training_distance=float(score_samples(
            scorer, 2 * test_images - 1, train_images)["nearest_training_distance"]))


if __name__ == "__main__":
    main()
