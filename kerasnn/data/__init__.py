"""tf.data pipelines over tensorflow-datasets, with embedded datasets that need no download.

``load(name, split)`` accepts two kinds of names:

- an embedded dataset (``kerasnn_digits``, ``kerasnn_shapes/classify``, ...; see
  ``embedded_names()``), generated locally and deterministically into the tfds data directory the
  first time it is used (tfds shows a progress bar);
- any tfds catalogue name (``mnist``, ``cifar10``, ``tf_flowers``, ...), downloaded by tfds when the
  machine is online. Offline, such a name fails within seconds with ``DatasetUnavailableError``
  instead of waiting on tfds' network retries.

Images come out as ``float32`` in ``[0, 1]`` (optionally resized); labels as ``int64`` class ids.
Set the environment variable ``KERASNN_OFFLINE=1`` to forbid any download attempt.
"""

import contextlib
import dataclasses
import errno
import functools
import os
import random
import re
import shutil
import socket
import sys
import threading

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasnn.data import builders

# Datasets whose decoded examples are smaller than this are cached in memory (decoding
# dominates the epochs of small datasets).
CACHE_LIMIT_BYTES = 256 * 2**20

# The host most tfds catalogue datasets download from; used only to decide "online" quickly.
_PROBE_ADDRESS = ("storage.googleapis.com", 443)


class UnknownDatasetError(ValueError):
    """The name is neither an embedded dataset nor in the tfds catalogue."""


class DatasetUnavailableError(RuntimeError):
    """The dataset needs a download and the network cannot be reached."""


def embedded_names():
    """Every embedded dataset name, with its config where the builder has several."""
    names = []
    for name, builder_class in builders.EMBEDDED.items():
        configs = builder_class.BUILDER_CONFIGS
        names.extend([f"{name}/{config.name}" for config in configs] if configs else [name])
    return names


def is_online(timeout=3.0):
    """Whether downloads can work: False when ``KERASNN_OFFLINE`` is set or the probe fails.

    The probe (a TCP connection to the host most tfds datasets download from, name lookup
    included) is bounded by ``timeout`` seconds and its answer is remembered for the process.
    """
    if os.environ.get("KERASNN_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    return _probe(_PROBE_ADDRESS, timeout)


@functools.lru_cache(maxsize=None)
def _probe(address, timeout):
    reached = []

    def connect():  # in a thread: socket timeouts do not bound the name lookup
        try:
            socket.create_connection(address, timeout=timeout).close()
            reached.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(reached)


def _offline_message(name):
    return (
        f"Dataset {name!r} must be downloaded by tfds, but the network is unreachable; "
        f"use an embedded dataset instead: {', '.join(embedded_names())}."
    )


# A tfds name: ``dataset``, ``dataset/config``, ``dataset:version`` (no path may hide in one).
_DATASET_NAME = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_-][\w.-]*)?(:[0-9][0-9.*]*)?")


def get_builder(name, data_dir=None):
    """A prepared tfds builder for ``name``: embedded ones are generated here on first use, and
    rebuilt once if their files are damaged (``DatasetUnavailableError`` if that fails too)."""
    base = name.split("/")[0].split(":")[0]
    if not _DATASET_NAME.fullmatch(name):
        raise UnknownDatasetError(
            f"Unknown dataset {name!r} (not a dataset name); embedded datasets are: "
            f"{', '.join(embedded_names())}; or a tfds catalogue name such as 'mnist'."
        )
    if base in builders.EMBEDDED:
        builder = _embedded_builder(name, data_dir)
        if not builder.is_prepared():
            _prepare(builder, name)
        damage = _verified(builder)
        if damage is not None:
            print(f"dataset {name}: damaged files in {builder.data_dir} ({damage}); rebuilding "
                  "them", file=sys.stderr, flush=True)
            shutil.rmtree(builder.data_dir, ignore_errors=True)
            builder = _embedded_builder(name, data_dir)
            _prepare(builder, name)
            damage = _verified(builder)
            if damage is not None:
                raise DatasetUnavailableError(
                    f"Dataset {name!r} cannot be read from {builder.data_dir} ({damage}); "
                    "delete that directory and run again."
                )
        return builder

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}: neither embedded ({', '.join(embedded_names())}) "
            "nor in the tfds catalogue."
        ) from error
    if not builder.is_prepared():
        # Checked before tfds starts: offline, its downloader retries for many minutes.
        if not is_online():
            raise DatasetUnavailableError(_offline_message(name))
        _prepare(builder, name)
    return builder


def _prepare(builder, name):
    """Build ``name`` into its data directory; one that cannot be written is a user error."""
    try:
        with _caller_random_state_kept():
            builder.download_and_prepare()
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
            raise
        raise DatasetUnavailableError(
            f"Dataset {name!r} cannot be written under {builder.data_dir} ({error.strerror}); "
            "choose another --data-dir."
        ) from None


def _embedded_builder(name, data_dir):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}; embedded datasets are: {', '.join(embedded_names())}."
        ) from error


_VERIFIED = set()  # data directories of embedded datasets read back whole in this process


def _verified(builder):
    """``None`` when every record file of ``builder`` reads back whole (checksums and record
    counts; an embedded dataset is small), else what is wrong, in a few words."""
    if builder.data_dir in _VERIFIED:
        return None
    for split in builder.info.splits.values():
        for path, expected in zip(split.filepaths, split.shard_lengths):
            try:
                found = sum(1 for _ in tf.data.TFRecordDataset(os.fspath(path)))
            except (tf.errors.DataLossError, tf.errors.NotFoundError, OSError) as error:
                return f"{os.path.basename(os.fspath(path))}: {type(error).__name__}"
            if found != expected:
                return (f"{os.path.basename(os.fspath(path))}: {found} records of "
                        f"{expected}")
    _VERIFIED.add(builder.data_dir)
    return None


@contextlib.contextmanager
def _caller_random_state_kept():
    """Preparing a dataset draws from Python's and NumPy's global generators; a seeded run must
    give the same results whether or not its datasets had to be built first."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a model builder needs to know about a dataset (``num_classes`` is ``None`` for
    regression targets)."""

    name: str
    input_shape: tuple
    num_classes: int
    class_names: tuple
    split_sizes: dict


def describe(name, data_dir=None):
    """The ``DatasetSpec`` of a (prepared) dataset: input shape, classes, split sizes."""
    info = get_builder(name, data_dir).info
    # Without supervised keys (a text corpus): no input shape and no classes, split sizes only.
    input_key, label_key = info.supervised_keys or (None, None)
    label = info.features[label_key] if label_key else None
    classified = isinstance(label, tfds.features.ClassLabel)  # else a regression target
    return DatasetSpec(
        name=name,
        input_shape=tuple(info.features[input_key].shape) if input_key else None,
        num_classes=label.num_classes if classified else None,
        class_names=tuple(label.names) if classified else (),
        split_sizes={split: info.splits[split].num_examples for split in info.splits},
    )


def standard_splits(name, data_dir=None):
    """tfds split strings for ``train``, ``validation`` and ``test``.

    Datasets that lack a split get it sliced from ``train``: without ``validation`` the last 10%
    of ``train`` is held out, without ``test`` the last 15%; with ``train`` alone
    (``tf_flowers``) it is cut 70% / 15% / 15%. Training parts are always prefixes of ``train``
    (``train`` or ``train[:N%]``), which is what ``load`` shuffles by default.
    """
    available = describe(name, data_dir).split_sizes
    if "validation" in available and "test" in available:
        return {"train": "train", "validation": "validation", "test": "test"}
    if "test" in available:
        return {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
    if "validation" in available:
        return {"train": "train[:85%]", "validation": "validation", "test": "train[85%:]"}
    return {"train": "train[:70%]", "validation": "train[70%:85%]", "test": "train[85%:]"}


def first_examples(name, split, count, data_dir=None):
    """A tfds split string of the first ``count`` examples of ``split`` (which may itself be a
    slice such as ``train[70%:85%]``: tfds cannot slice a slice, so it is made absolute)."""
    info = get_builder(name, data_dir).info
    (instruction,) = tfds.core.ReadInstruction.from_spec(split).to_absolute(info.splits)
    start = instruction.from_ or 0
    end = info.splits[instruction.splitname].num_examples if instruction.to is None else (
        instruction.to)
    end = min(end, start + count)
    # A prefix stays a prefix (``train[:64]``): ``load`` shuffles training prefixes.
    return f"{instruction.splitname}[{start if start else ''}:{end}]"


def scale_image(image, image_size=None):
    """uint8 image(s) to float32 in [0, 1], resized to ``(image_size, image_size)`` if given."""
    image = tf.cast(image, tf.float32) / 255.0
    if image_size is not None:
        image = tf.image.resize(image, (image_size, image_size))
    return image


def load(
    name,
    split="train",
    *,
    data_dir=None,
    batch_size=32,
    image_size=None,
    supervised=True,
    shuffle=None,
    augment=None,
    cache=None,
    seed=0,
):
    """A batched, prefetched ``tf.data.Dataset`` of ``name``'s ``split``.

    Args:
        name: embedded dataset (see ``embedded_names()``) or tfds catalogue name.
        split: tfds split, slicing allowed (``"train[:64]"``).
        data_dir: tfds data directory (default: tfds' own, ``~/tensorflow_datasets``).
        batch_size: examples per batch.
        image_size: resize square images to this side (``None`` keeps the stored size).
        supervised: ``(image, label)`` pairs; ``False`` gives the full feature dicts (boxes,
            masks, ...), with ``"image"`` scaled like the supervised input.
        shuffle: shuffle examples every epoch (default: only for training parts, i.e. ``train``
            and its prefixes ``train[:N]``, never for held-out slices such as ``train[85%:]``).
        augment: a callable (e.g. a ``keras.Sequential`` of random preprocessing layers) applied
            to each batch of images with ``training=True``; pass it for training data only.
        cache: keep the decoded (uint8) examples in memory; default: when they take less than
            256 MiB.
        seed: shuffle seed.
    """
    builder = get_builder(name, data_dir)
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if cache is None:
        cache = _decoded_bytes(builder.info, split) < CACHE_LIMIT_BYTES
    if cache:
        dataset = dataset.cache()
    if supervised:
        input_key, label_key = builder.info.supervised_keys
        dataset = dataset.map(
            lambda example: (_scale_input(example[input_key], image_size), example[label_key]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    elif "image" in builder.info.features:
        dataset = dataset.map(
            lambda example: {**example, "image": scale_image(example["image"], image_size)},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if shuffle is None:
        shuffle = split == "train" or split.startswith("train[:")
    return batch(dataset, batch_size, shuffle=shuffle, augment=augment, seed=seed)


def _decoded_bytes(info, split):
    """Memory the decoded examples of ``split`` take (infinite when a shape is not fixed)."""
    per_example = 0
    for feature in tf.nest.flatten(info.features.get_tensor_info()):
        if feature.shape is None or None in feature.shape:
            return float("inf")
        per_example += (
            int(np.prod(feature.shape, dtype=np.int64)) * np.dtype(feature.np_dtype).itemsize
        )
    return per_example * info.splits[split].num_examples


def _scale_input(value, image_size):
    # Images are stored as uint8; tabular inputs are already floating point.
    return scale_image(value, image_size) if value.dtype == tf.uint8 else value


def batch(dataset, batch_size, *, shuffle=False, augment=None, cache=False, seed=0):
    """Cache, shuffle, batch, augment and prefetch a dataset of examples, in that order.

    ``augment`` applies to the images: the first element of ``(image, label)`` pairs, or the
    ``"image"`` entry of feature dicts.
    """
    return _batch(dataset, batch_size, shuffle=shuffle, augment=augment, cache=cache, seed=seed)


def _batch(examples, batch_size, *, shuffle, augment, cache, seed, order=None):
    dataset = examples.cache() if cache else examples
    if order is not None:
        # The seed of each pass is read when the pass starts (its iterator evaluates this
        # function), from the variable ``order`` that the caller sets before every epoch.
        examples_per_pass = int(dataset.cardinality())
        dataset = tf.data.Dataset.from_tensors(0).flat_map(
            functools.partial(_one_pass, dataset, order)
        )
        if examples_per_pass >= 0:  # known: Keras then knows the batches per epoch
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(examples_per_pass))
    elif shuffle:
        dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augment is not None:
        dataset = dataset.map(
            lambda *batch: _augment_images(augment, batch), num_parallel_calls=tf.data.AUTOTUNE
        )
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    if shuffle and order is None:
        # The order of the k-th pass of this pipeline depends on how many passes were made
        # before (one more each time Keras makes an iterator); ``reseeded`` makes a copy whose
        # order is set per epoch instead.
        dataset.kerasnn_remake = functools.partial(
            _batch, examples, batch_size, shuffle=True, augment=augment, cache=cache, seed=seed
        )
    return dataset


def _one_pass(examples, order, _):
    # shuffle() mixes its seed with the graph seed of this function, inherited from whatever
    # global seed was set when it was traced (and a graph seed of 0 cannot be compared with a
    # tensor seed): the pass's seed is ``order``'s value alone.
    tf.compat.v1.get_default_graph().seed = None
    return examples.shuffle(10_000, seed=order.read_value(), reshuffle_each_iteration=False)


def reseeded(dataset, seed):
    """A copy of a shuffled pipeline of ``batch``/``load`` whose data order is set per epoch:
    after ``set_epoch(copy, epoch)``, the next pass is shuffled from ``(seed, epoch)`` alone,
    whatever passes were made before (the runner calls it at the start of every epoch, so a
    resumed run sees the order of an uninterrupted one). Other datasets are returned as they
    are. Without ``set_epoch`` every pass of the copy has the order of epoch 0."""
    remake = getattr(dataset, "kerasnn_remake", None)
    if remake is None:
        return dataset
    order = tf.Variable(_epoch_seed(seed, 0), dtype=tf.int64, trainable=False)
    copy = remake(order=order)
    copy.kerasnn_set_epoch = lambda epoch: order.assign(_epoch_seed(seed, epoch))
    return copy


def set_epoch(dataset, epoch):
    """Shuffle the next pass of a ``reseeded`` dataset for ``epoch``; a no-op for others."""
    setter = getattr(dataset, "kerasnn_set_epoch", None)
    if setter is not None:
        setter(epoch)


def _epoch_seed(seed, epoch):
    from kerasnn.reporting import derive_seed  # the run's one seed-mixing function

    return derive_seed(seed, "epoch", epoch)


def _augment_images(augment, batch):
    if len(batch) == 1 and isinstance(batch[0], dict):
        features = batch[0]
        if "boxes" in features and "labels" in features:  # detection batches: boxes move too
            from kerasnn.data import augment as augment_module

            image, boxes, labels = augment_module.with_boxes(
                augment, features["image"], features["boxes"], features["labels"])
            moved = {"image": image, "boxes": boxes, "labels": labels}
            if "num_objects" in features:
                moved["num_objects"] = tf.reduce_sum(tf.cast(labels >= 0, tf.int32), axis=-1)
            return {**features, **moved}
        return {**features, "image": augment(features["image"], training=True)}
    return (augment(batch[0], training=True), *batch[1:])


def from_arrays(inputs, labels, batch_size=32, **kwargs):
    """The same pipeline as ``load`` over in-memory arrays (``batch``'s keyword arguments)."""
    return batch(tf.data.Dataset.from_tensor_slices((inputs, labels)), batch_size, **kwargs)


def load_arrays(name, split="train", *, data_dir=None, image_size=None, limit=None):
    """A split as NumPy arrays ``(inputs, labels)``: for small data and non-Keras methods.

    ``limit`` keeps only the first examples (``--smoke`` runs).
    """
    dataset = load(
        name, split, data_dir=data_dir, batch_size=4096, image_size=image_size, shuffle=False
    )
    if limit is not None:
        dataset = dataset.unbatch().take(limit).batch(4096)
    inputs, labels = zip(*dataset.as_numpy_iterator())
    return np.concatenate(inputs), np.concatenate(labels)


def load_splits(name, *, data_dir=None, image_size=None, limit=None):
    """``{"train", "validation", "test"}`` -> ``(inputs, labels)`` arrays, each part taken from
    ``standard_splits`` (so datasets without a validation or test split work too)."""
    return {
        part: load_arrays(name, split, data_dir=data_dir, image_size=image_size, limit=limit)
        for part, split in standard_splits(name, data_dir).items()
    }


def per_class_subset(labels, per_class, seed=0):
    """Indices of ``per_class`` examples of every class, chosen at random with ``seed``.

    Raises ``ValueError`` when a class has fewer than ``per_class`` examples.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(
                f"Class {label} has {len(members)} examples; expected at least "
                f"per_class={per_class}."
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def from_splits(splits, batch_size=32, *, parts=("train", "validation"), seed=0):
    """Cached pipelines of array splits (``load_splits``' ``{part: (inputs, labels)}``), one per
    name in ``parts``: training parts (``train...``) reshuffled every epoch with ``seed``, the
    others in order. Small arrays train several times faster this way than as NumPy inputs."""
    return [
        from_arrays(*splits[part], batch_size, shuffle=part.startswith("train"), cache=True,
                    seed=seed)
        for part in parts
    ]


def per_class_arrays(
    name, split="train", per_class=10, *, data_dir=None, image_size=None, seed=0, at_most=False
):
    """A few labelled examples of every class of ``split`` as arrays ``(inputs, labels)``.

    The few-shot training sets of the data-augmentation and transfer-learning recipes: the whole
    split is read, then ``per_class_subset`` keeps ``per_class`` examples of each class (chosen
    with ``seed``, in split order).

    Args:
        at_most: a class with fewer examples keeps all of them instead of raising.

    Raises:
        ValueError: a class has fewer than ``per_class`` examples (without ``at_most``).
    """
    inputs, labels = load_arrays(name, split, data_dir=data_dir, image_size=image_size)
    if at_most:
        present = np.bincount(labels)[np.unique(labels)]
        per_class = min(per_class, int(present.min()))
    keep = per_class_subset(labels, per_class, seed=seed)
    return inputs[keep], labels[keep]


def feature_arrays(dataset, keys=None):
    """A batched dataset of feature dicts (``load(..., supervised=False)``) as one dict of
    concatenated NumPy arrays (nested dicts such as ``objects`` flattened to ``"objects/bbox"``);
    ``keys`` keeps only those entries."""
    batches = [_flatten_features(batch) for batch in dataset.as_numpy_iterator()]
    names = [name for name in batches[0] if keys is None or name in keys] if batches else []
    return {name: np.concatenate([batch[name] for batch in batches]) for name in names}


def _flatten_features(features, prefix=""):
    flat = {}
    for name, value in features.items():
        if isinstance(value, dict):
            flat.update(_flatten_features(value, f"{prefix}{name}/"))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def localization_arrays(features):
    """What localization needs from ``feature_arrays``: ``image``, ``label``, ``box`` (normalized
    ``[ymin, xmin, ymax, xmax]`` of the largest object, from ``objects/bbox`` or ``bbox``) and
    ``mask`` (``(N, height, width)`` booleans, the object's pixels; ``None`` when the dataset has
    no ``mask`` of the images' size). Raises ``ValueError`` when there is no box."""
    if "objects/bbox" in features:
        boxes = features["objects/bbox"]
        areas = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
        box = boxes[np.arange(len(boxes)), np.argmax(areas, axis=1)]
    elif "bbox" in features:
        box = features["bbox"]
    else:
        raise ValueError(
            "Localization needs a box per image (an `objects/bbox` or `bbox` feature). "
            f"Received features: {', '.join(sorted(features))}"
        )
    image = features["image"]
    mask = features.get("mask")
    if mask is not None:
        mask = mask[..., 0] != 0 if mask.ndim == 4 else mask != 0
        if mask.shape != image.shape[:3]:
            mask = None
    return {"image": image, "label": features["label"], "box": box.astype(np.float32),
            "mask": mask}
