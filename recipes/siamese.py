"""
Title: Siamese networks: identify and verify classes never seen in training
Course section: "Siamese Networks", "Triplet Loss", "When a new image has to be verified"
(with "Object Detection with Distances")
Description: Train one embedding network f, shared by the branches of a siamese model, with the
contrastive loss on pairs and with the triplet loss, on half of the classes (digits 0-4). Then,
without retraining, identify images of the other classes (digits 5-9) from a few templates each:
î = argmin_u mean_j ||f(I) - f(T_u,j)||, accepted only below a threshold γ chosen on validation
data. Queries are augmented (shifted, rotated, zoomed), the notes' "manipulated images" on which
comparing raw pixels fails. One table: pixels vs contrastive vs triplet latent distances,
one-shot and few-template identification, verification ROC AUC and accuracy at γ.
How to run:
    python recipes/siamese.py                                  # kerasnn_digits, offline
    python recipes/siamese.py --triplets random                # random triplets, not semi-hard
    python recipes/siamese.py --dataset kerasnn_shapes/source  # unseen: kerasnn_shapes/target
    python recipes/siamese.py --dataset omniglot               # online (tfds download)
    python recipes/siamese.py --smoke                          # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, data, losses, metrics, models, plots, recipe
from kerasnn.data import augment, pairs

# Datasets whose unseen classes come from another dataset, or from a split of their own
# (omniglot's test split holds other alphabets: its images are shared out per class, by rank, to
# templates, validation and test queries); any other is cut into the first half of its classes
# (training) and the second half (unseen).
UNSEEN_DATASETS = {"kerasnn_shapes/source": "kerasnn_shapes/target"}
UNSEEN_SPLITS = {"omniglot": "test"}
PAIRS_PER_IMAGE = 4  # pairs (or triplets) per training image and epoch


def flags(parser):
    parser.add_argument("--margin", type=cli.positive_float, default=0.5,
                        help="margin m of both losses; embeddings have unit length (default 0.5)")
    parser.add_argument("--templates", type=cli.positive_int, default=5,
                        help="templates per unseen class for few-shot identification (default 5)")
    parser.add_argument("--episodes", type=cli.positive_int, default=20,
                        help="random template draws averaged per accuracy (default 20)")
    parser.add_argument("--manipulation", type=cli.positive_float, default=1.0,
                        help="strength of the geometric augmentation of training pairs and of "
                        "the queries, 1 = shifts up to 1/8 of the side (default 1)")
    parser.add_argument("--triplets", choices=("semi_hard", "random"), default="semi_hard",
                        help="triplet selection: mined in class-balanced batches, or random")


def smoke(args):
    args.templates, args.episodes = min(args.templates, 2), min(args.episodes, 2)


def manipulation(strength, seed):
    """Random shifts, rotations, zooms and shears ("manipulated images"), scaled by strength."""
    return augment.geometric(shift=min(0.125 * strength, 1.0), rotation=0.03 * strength,
                             zoom=min(0.1 * strength, 1.0), shear=min(0.1 * strength, 1.0),
                             seed=seed)


def seen_and_unseen(run):
    """``(seen, unseen)``: dicts ``{split: (images, labels)}`` of disjoint classes."""
    limit = run.smoke_examples if run.args.smoke else None
    if run.args.dataset in UNSEEN_SPLITS:
        x, y = data.load_arrays(run.args.dataset, UNSEEN_SPLITS[run.args.dataset],
                                data_dir=run.args.data_dir, limit=limit)
        rank = np.zeros(len(y), int)
        for label in np.unique(y):
            rank[y == label] = np.arange(np.sum(y == label))
        share = {"train": rank % 4 < 2, "validation": rank % 4 == 2, "test": rank % 4 == 3}
        train, validation = run.arrays(("train", "validation"))
        seen = {"train": train, "validation": validation, "test": validation}
        return seen, {split: (x[keep], y[keep]) for split, keep in share.items()}
    x_splits = dict(zip(("train", "validation", "test"), run.arrays()))
    other = UNSEEN_DATASETS.get(run.args.dataset)
    if other is not None:
        return x_splits, data.load_splits(other, data_dir=run.args.data_dir, limit=limit)
    first_unseen = run.spec.num_classes // 2
    if first_unseen < 2:
        raise cli.UserError(f"--dataset {run.args.dataset} has fewer than 4 classes to split.")

    def part(keep):
        return {split: (x[keep(y)], y[keep(y)]) for split, (x, y) in x_splits.items()}

    return part(lambda y: y < first_unseen), part(lambda y: y >= first_unseen)


# ## Two ways to train the same embedding
#
# Contrastive: a two-branch siamese model sees pairs, y = 0 (same class) or 1, and pays
# (1-y)/2 d + y/2 max(0, m - d). Triplet: max(0, m + d(I, P) - d(I, N)) (the notes print the sign
# the other way round; `kerasnn.losses.triplet` explains), over the semi-hard triplets of
# class-balanced batches or over random triplets fed to a three-branch siamese model.


def make_build_contrastive(input_shape, margin):
    def build_model(hp):
        embedding = models.embedding_network(
            input_shape, hp.Choice("embedding_dim", [16, 32, 64], default=32))
        model = models.siamese_network(embedding, branches=2)
        model.compile(keras.optimizers.Adam(
            hp.Float("learning_rate", 3e-4, 3e-3, sampling="log", default=1e-3)),
            loss=losses.Contrastive(margin))
        return model

    return build_model


def train_triplet(run, hp, train, validation, augmenter):
    (x, y), (x_val, y_val) = train, validation
    embedding = models.embedding_network(x.shape[1:], hp["embedding_dim"])
    optimizer = keras.optimizers.Adam(hp["learning_rate"])
    seed, margin, size = run.args.seed, run.args.margin, run.args.batch_size
    if run.args.triplets == "random":
        model = models.siamese_network(embedding, branches=3)
        model.compile(optimizer, loss=losses.Triplet(margin))
        batches = pairs.triplet_dataset(x, y, batch_size=size, augment=augmenter, seed=seed,
                                        num_triplets=PAIRS_PER_IMAGE * len(y))
        validation_batches = pairs.triplet_dataset(x_val, y_val, batch_size=size, seed=seed + 1)
    else:
        model = embedding
        model.compile(optimizer, loss=losses.SemiHardTriplet(margin))

        def balanced(images, labels, **kwargs):
            classes, counts = np.unique(labels, return_counts=True)
            per_class = int(min(max(2, size // len(classes)), counts.min()))
            return pairs.class_balanced_batches(images, labels, classes_per_batch=len(classes),
                                                examples_per_class=per_class, **kwargs)

        batches = balanced(x, y, augment=augmenter, seed=seed,
                           num_batches=max(1, PAIRS_PER_IMAGE * len(y) // size))
        validation_batches = balanced(x_val, y_val, seed=seed + 1)
    run.fit("triplet", model, batches, validation_data=validation_batches)
    return embedding


# ## Identification and verification of unseen classes
#
# Nothing is retrained: the unseen classes exist only as templates (their training images) and
# queries (their validation and test images, augmented). Pixel-space identification is the same
# rule with f the identity.


def identification_accuracy(pool, queries, templates_per_class, episodes, rule="mean"):
    (pool_x, pool_y), (query_x, query_y) = pool, queries
    scores = []
    for episode in range(episodes):
        chosen = data.per_class_subset(pool_y, templates_per_class, seed=episode)
        predicted, _ = metrics.identify(query_x, pool_x[chosen], pool_y[chosen], rule=rule)
        scores.append(np.mean(predicted == query_y))
    return float(np.mean(scores))


def evaluate(method, features, labels, args):
    """One row of the table: ``features[split]`` are f(images) of the unseen classes (and of
    the training classes under ``seen_train`` and ``seen_test``)."""
    pool = (features["train"], labels["train"])
    test = (features["test"], labels["test"])
    templates = data.per_class_subset(labels["train"], args.templates, seed=args.seed)
    claims = {split: metrics.verification_claims(features[split], labels[split],
                                                 features["train"][templates],
                                                 labels["train"][templates])
              for split in ("validation", "test")}
    gamma = metrics.choose_threshold(*claims["validation"])
    distances, genuine = claims["test"]
    return {
        "method": method,
        "one_shot_accuracy": identification_accuracy(pool, test, 1, args.episodes),
        "one_shot_accuracy_seen_classes": identification_accuracy(
            (features["seen_train"], labels["seen_train"]),
            (features["seen_test"], labels["seen_test"]), 1, args.episodes),
        "one_shot_accuracy_clean": identification_accuracy(
            pool, (features["test_clean"], labels["test"]), 1, args.episodes),
        f"{args.templates}_template_mean": identification_accuracy(
            pool, test, args.templates, args.episodes),
        f"{args.templates}_template_nearest": identification_accuracy(
            pool, test, args.templates, args.episodes, rule="nearest"),
        "validation_auc": metrics.roc_auc(claims["validation"][1], -claims["validation"][0]),
        "verification_auc": metrics.roc_auc(genuine, -distances),
        "gamma": gamma,
        "verification_accuracy": metrics.balanced_accuracy(distances, genuine, gamma),
    }


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("siamese", __doc__, argv, dataset="kerasnn_digits", epochs=15,
                     batch_size=64, tuner="none", max_trials=4, flags=flags, smoke=smoke)
    seen, unseen = seen_and_unseen(run)
    if np.min(np.unique(unseen["train"][1], return_counts=True)[1]) < run.args.templates:
        raise cli.UserError(f"--templates {run.args.templates} exceeds the training images of an "
                            "unseen class.")
    run.open()
    input_shape = seen["train"][0].shape[1:]
    augmenter = manipulation(run.args.manipulation, run.args.seed)
    seed, size = run.args.seed, run.args.batch_size
    train_pairs = pairs.pair_dataset(*seen["train"], batch_size=size, augment=augmenter, seed=seed,
                                     num_pairs=PAIRS_PER_IMAGE * len(seen["train"][1]))
    validation_pairs = pairs.pair_dataset(*seen["validation"], batch_size=size, seed=seed + 1)
    build_contrastive = make_build_contrastive(input_shape, run.args.margin)
    hp = run.search(build_contrastive, train_pairs, validation_data=validation_pairs,
                    objective="val_loss")
    contrastive_model = build_contrastive(hp)
    run.fit("contrastive", contrastive_model, train_pairs, validation_data=validation_pairs)
    contrastive_embedding = contrastive_model.get_layer("embedding")
    triplet_embedding = train_triplet(run, hp, seen["train"], seen["validation"], augmenter)

    # ## The unseen classes, queries manipulated once with a fixed seed
    images = {split: x for split, (x, _) in unseen.items()}
    labels = {split: y for split, (_, y) in unseen.items()}
    query_augmenter = manipulation(run.args.manipulation, seed + 1000)
    images["test_clean"] = images["test"]
    for split in ("train", "test"):  # the training classes, for comparison
        images[f"seen_{split}"], labels[f"seen_{split}"] = seen[split]
    for split in ("validation", "test", "seen_test"):
        images[split] = keras.ops.convert_to_numpy(query_augmenter(images[split], training=True))
    methods = {"pixels": lambda x: x,
               "contrastive": lambda x: contrastive_embedding.predict(x, verbose=0),
               "triplet": lambda x: triplet_embedding.predict(x, verbose=0)}
    features = {name: {split: f(x) for split, x in images.items()} for name, f in methods.items()}
    rows = recipe.table([evaluate(name, features[name], labels, run.args) for name in methods])
    by_method = {row["method"]: row for row in rows}
    verifier = max(("contrastive", "triplet"), key=lambda name: by_method[name]["validation_auc"])

    # ## Report
    plots.plot_embeddings_2d(
        {f"{name} (PCA)": features[name]["test_clean"] for name in methods}, labels["test"],
        run.plot_path("embeddings"), title="Unseen classes, test images")
    plots.plot_image_grid(np.concatenate([images["test_clean"][:8], images["test"][:8]]),
                          run.plot_path("queries"), columns=8,
                          title="Test queries: clean (top) and augmented (bottom)")
    final = triplet_embedding if verifier == "triplet" else contrastive_embedding
    return run.finish(
        test={"one_shot_accuracy_pixels": by_method["pixels"]["one_shot_accuracy"],
              "one_shot_accuracy_contrastive": by_method["contrastive"]["one_shot_accuracy"],
              "one_shot_accuracy_triplet": by_method["triplet"]["one_shot_accuracy"],
              "verification_auc": by_method[verifier]["verification_auc"],
              "verification_accuracy": by_method[verifier]["verification_accuracy"]},
        model=final, curves=("loss",), comparison=rows, verification_method=verifier,
        seen_classes=np.unique(seen["train"][1]), unseen_classes=np.unique(labels["train"]),
        margin=run.args.margin, triplets=run.args.triplets, templates=run.args.templates)


if __name__ == "__main__":
    main()
