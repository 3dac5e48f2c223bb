"""Pairs, triplets and class-balanced batches for siamese training, as ``tf.data`` pipelines.

Sections "Siamese Networks" and "Triplet Loss": the network is fed pairs ``(I_i, I_j)`` labelled
``y = 0`` (same identity) or ``y = 1`` (different identities), or triplets ``(I, P, N)``. "The
selection of triplets for training is a matter of study": ``triplet_dataset`` draws them at
random; ``class_balanced_batches`` gives batches of ``P`` classes x ``K`` examples in which
``kerasnn.losses.SemiHardTriplet`` mines the semi-hard triplets.

Every draw is a stateless function of the seed and the element's random value
(``tf.data.Dataset.random``, re-drawn each epoch): the same seed gives the same epochs, and the
pipelines hold only index tables besides the images.

- an example is never its own partner: a positive is another member of its class (so every class
  needs two examples), a negative comes from another class (so there must be two classes);
- ``pair_dataset`` makes exactly ``positive_fraction`` of every batch positive (the positives are
  spread evenly, not drawn by a coin), and negative classes are uniform over the other classes.
"""

import numpy as np
import tensorflow as tf

from kerasnn import arguments


class _ClassIndex:
    """Index tables of a labelled set: examples grouped by class, and each one's place there."""

    def __init__(self, images, labels, *, min_per_class=2, min_classes=2):
        labels = np.asarray(labels).reshape(-1)
        if len(images) != len(labels):
            arguments.fail("labels", f"one label per image ({len(images)} images)", len(labels))
        classes, class_of = np.unique(labels, return_inverse=True)
        if len(classes) < min_classes:
            arguments.fail(
                "labels", f"labels of at least {min_classes} classes", classes.tolist()
            )
        counts = np.bincount(class_of, minlength=len(classes))
        if counts.min() < min_per_class:
            arguments.fail(
                "labels",
                f"labels with at least {min_per_class} examples per class",
                dict(zip(classes.tolist(), counts.tolist())),
            )
        order = np.argsort(class_of, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        place = np.empty(len(labels), np.int64)
        place[order] = np.arange(len(labels)) - starts[class_of[order]]
        self.num_examples = len(labels)
        self.num_classes = len(classes)
        self.min_count = int(counts.min())
        self.order = tf.constant(order, tf.int64)
        self.starts = tf.constant(starts, tf.int64)
        self.counts = tf.constant(counts, tf.int64)
        self.class_of = tf.constant(class_of, tf.int64)
        self.place = tf.constant(place, tf.int64)

    def _pick(self, uniform, count):
        return tf.minimum(tf.cast(uniform * tf.cast(count, tf.float32), tf.int64), count - 1)

    def anchor(self, uniform):
        return self._pick(uniform, self.num_examples)

    def positive(self, anchor, uniform):
        """Another member of ``anchor``'s class, uniformly: a place among the ``n - 1`` others,
        shifted past the anchor's own place."""
        label = self.class_of[anchor]
        place = self._pick(uniform, self.counts[label] - 1)
        place += tf.cast(place >= self.place[anchor], tf.int64)
        return self.order[self.starts[label] + place]

    def negative(self, anchor, class_uniform, uniform):
        """A member of another class: the class uniform over the other ``C - 1``, then a member."""
        label = (self.class_of[anchor] + 1 + self._pick(class_uniform, self.num_classes - 1)) % (
            self.num_classes
        )
        return self.order[self.starts[label] + self._pick(uniform, self.counts[label])]


def _draws(seed, count):
    """``(index, uniforms)`` per element: ``count`` stateless U[0, 1) draws, new each epoch."""
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip(tf.data.Dataset.range(2**62), randoms).map(
        lambda index, value: (
            index,
            tf.random.stateless_uniform([count], seed=tf.stack([value, index])),
        )
    )


def _augmented(dataset, augment, images_of):
    # Sequential: Keras' random layers advance a seed state per call, and parallel calls would
    # take the states in a varying order (the same seed would not give the same epochs).
    return dataset.map(images_of(lambda x: augment(x, training=True)))


def _finish(dataset, batch_size, augment, images_of):
    dataset = dataset.batch(batch_size)
    if augment is not None:
        dataset = _augmented(dataset, augment, images_of)
    return dataset.prefetch(tf.data.AUTOTUNE)


def pair_dataset(images, labels, *, batch_size=32, num_pairs=None, positive_fraction=0.5,
                 augment=None, seed=0):
    """Batches ``((first, second), y)`` of pairs: ``y = 0`` same class, ``y = 1`` different.

    Args:
        images: ``(N, ...)`` array.
        labels: ``(N,)`` identities; at least two classes of at least two examples each.
        batch_size: pairs per batch.
        num_pairs: pairs per epoch (default ``N``: each image is an anchor once on average).
        positive_fraction: the fraction of same-class pairs, exact in every batch (up to
            rounding when ``batch_size * positive_fraction`` is not an integer).
        augment: a callable applied (``training=True``) to each side of every batch.
        seed: seed of the draws.
    """
    index = _ClassIndex(images, labels)
    batch_size = arguments.positive_int("batch_size", batch_size)
    num_pairs = arguments.positive_int("num_pairs", num_pairs or index.num_examples)
    positive_fraction = arguments.probability("positive_fraction", positive_fraction)
    images = tf.constant(images)

    def pair(number, uniform):
        anchor = index.anchor(uniform[0])
        within_batch = number % batch_size
        # Exactly floor((k + 1) p) - floor(k p) positives at position k: evenly spread.
        position = tf.cast(within_batch, tf.float64)
        is_positive = tf.floor((position + 1) * positive_fraction) > tf.floor(
            position * positive_fraction)
        partner = tf.cond(
            is_positive,
            lambda: index.positive(anchor, uniform[1]),
            lambda: index.negative(anchor, uniform[2], uniform[1]),
        )
        label = 1 - tf.cast(is_positive, tf.int64)
        return (tf.gather(images, anchor), tf.gather(images, partner)), label

    dataset = _draws(seed, 3).take(num_pairs).map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(dataset, batch_size, augment,
                   lambda f: lambda pairs, y: ((f(pairs[0]), f(pairs[1])), y))


def triplet_dataset(images, labels, *, batch_size=32, num_triplets=None, augment=None, seed=0):
    """Batches ``((anchor, positive, negative), 0)`` of random triplets.

    The anchor is uniform over the examples, the positive uniform over the other members of its
    class, the negative from a class uniform over the others. The constant label 0 is what
    ``keras.Model.fit`` needs; ``kerasnn.losses.Triplet`` ignores it.

    Args: as ``pair_dataset`` (``num_triplets`` triplets per epoch, default ``N``).
    """
    index = _ClassIndex(images, labels)
    batch_size = arguments.positive_int("batch_size", batch_size)
    num_triplets = arguments.positive_int("num_triplets", num_triplets or index.num_examples)
    images = tf.constant(images)

    def draw(number, uniform):
        del number
        anchor = index.anchor(uniform[0])
        positive = index.positive(anchor, uniform[1])
        negative = index.negative(anchor, uniform[2], uniform[3])
        chosen = tf.gather(images, tf.stack([anchor, positive, negative]))
        return (chosen[0], chosen[1], chosen[2]), tf.constant(0, tf.int64)

    dataset = _draws(seed, 4).take(num_triplets).map(draw, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(dataset, batch_size, augment,
                   lambda f: lambda triple, y: (tuple(f(x) for x in triple), y))


def class_balanced_batches(images, labels, *, classes_per_batch, examples_per_class,
                           num_batches=None, augment=None, seed=0):
    """Batches ``(images, labels)`` of ``classes_per_batch`` distinct classes x
    ``examples_per_class`` distinct examples each: every example has positives and negatives in
    its batch, for in-batch triplet mining (``kerasnn.losses.SemiHardTriplet``).

    Args:
        classes_per_batch: ``P``, at least 2 and at most the number of classes.
        examples_per_class: ``K``, at least 2 and at most the smallest class size.
        num_batches: batches per epoch (default: about one pass, ``N // (P K)``, at least 1).
    """
    index = _ClassIndex(images, labels)
    classes_per_batch = arguments.positive_int("classes_per_batch", classes_per_batch)
    examples_per_class = arguments.positive_int("examples_per_class", examples_per_class)
    if not 2 <= classes_per_batch <= index.num_classes:
        arguments.fail("classes_per_batch", f"between 2 and the {index.num_classes} classes",
                       classes_per_batch)
    if not 2 <= examples_per_class <= index.min_count:
        arguments.fail("examples_per_class",
                       f"between 2 and the smallest class size, {index.min_count}",
                       examples_per_class)
    batch_size = classes_per_batch * examples_per_class
    num_batches = arguments.positive_int(
        "num_batches", num_batches or max(1, index.num_examples // batch_size))
    labels = tf.constant(np.asarray(labels).reshape(-1))
    images = tf.constant(images)

    def draw(number, uniform):
        del number
        # One random key per class and per example: the P classes of smallest key, and in each
        # class the K members of smallest key (sorting by class + key shuffles within classes).
        chosen_classes = tf.argsort(uniform[: index.num_classes])[:classes_per_batch]
        keys = tf.cast(index.class_of, tf.float64) + tf.cast(
            uniform[index.num_classes:], tf.float64)
        shuffled = tf.argsort(keys)
        places = tf.gather(index.starts, chosen_classes)[:, None] + tf.range(
            examples_per_class, dtype=tf.int64)[None, :]
        members = tf.gather(shuffled, tf.reshape(places, [-1]))
        return tf.gather(images, members), tf.gather(labels, members)

    dataset = _draws(seed, index.num_classes + index.num_examples).take(num_batches).map(
        draw, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        dataset = _augmented(dataset, augment, lambda f: lambda x, y: (f(x), y))
    return dataset.prefetch(tf.data.AUTOTUNE)
