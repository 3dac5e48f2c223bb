"""Instance-segmentation batches: detection batches with one binary mask per object.

Course notes, "CNN for Object Detection": an image maps to ``{(x, y, h, w, l, S)_i}``, ``S`` the
set of the object's pixels. On top of ``kerasnn.data.detection``'s padded boxes and labels, each
example gets ``"masks"``: ``(max_boxes, height, width)`` uint8, mask ``k`` the pixels of object
``k`` (in ``objects``' order), all 0 for padding. They come from an ``instances`` feature of
instance ids (0 background, ``k + 1`` on object ``k``'s visible pixels), as
``kerasnn_shapes/segment`` stores it.
"""

import tensorflow as tf
import tensorflow_datasets as tfds

from kerasnn import arguments
from kerasnn import data as data_module
from kerasnn.data import builders, detection


def pad_instances(example, max_boxes, image_size=None):
    """One tfds example to :func:`kerasnn.data.detection.pad_objects`' features plus
    ``"masks"`` ``(max_boxes, height, width)`` uint8 (resized with nearest neighbours)."""
    features = detection.pad_objects(example, max_boxes, image_size)
    ids = example["instances"]
    if image_size is not None:
        ids = tf.image.resize(ids, (image_size, image_size), method="nearest")
    ids = tf.cast(ids[..., 0], tf.int32)
    numbers = tf.range(1, max_boxes + 1, dtype=tf.int32)[:, None, None]
    features["masks"] = tf.cast(tf.equal(ids[None], numbers), tf.uint8)
    return features


def _check_instance_features(name, features):
    detection._check_detection_features(name, features)
    if "instances" not in features.keys():
        raise ValueError(
            f"Instance segmentation needs an `instances` feature (instance ids per pixel, as "
            f"kerasnn_shapes/segment has); dataset {name!r} has: "
            f"{', '.join(sorted(features.keys()))}"
        )


def load(name, split="train", *, data_dir=None, batch_size=32,
         max_boxes=detection.DEFAULT_MAX_BOXES, image_size=None, shuffle=None, seed=0):
    """Batches of :func:`pad_instances` features (``"image"``, ``"boxes"``, ``"labels"``,
    ``"num_objects"``, ``"masks"``); the arguments are ``kerasnn.data.detection.load``'s.

    Raises:
        ValueError: the dataset has no boxes or no ``instances`` feature.
    """
    max_boxes = arguments.positive_int("max_boxes", max_boxes)
    base = name.split("/")[0].split(":")[0]
    if base not in builders.EMBEDDED and data_module.is_online():
        # A catalogue dataset's features are known before its (large) download: check first.
        # tfds' coco/2017 has boxes but no instance masks.
        _check_instance_features(name, tfds.builder(name, data_dir=data_dir).info.features)
    builder = data_module.get_builder(name, data_dir)  # offline: fails fast, naming the others
    _check_instance_features(name, builder.info.features)
    dataset = builder.as_dataset(split=split, shuffle_files=False).cache()
    dataset = dataset.map(lambda example: pad_instances(example, max_boxes, image_size),
                          num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle is None:
        shuffle = split == "train" or split.startswith("train[:")
    return data_module.batch(dataset, batch_size, shuffle=shuffle, seed=seed)


def load_splits(name, splits, *, masks, data_dir=None, batch_size=32, evaluation_batch_size=50,
                max_boxes=None, image_size=None, seed=0):
    """The training split (shuffled, ``batch_size``) and evaluation splits (in order,
    ``evaluation_batch_size``) of a detection (``masks=False``: ``kerasnn.data.detection.load``)
    or instance-segmentation (``masks=True``: :func:`load`) dataset, and the images' static
    ``(height, width)``.

    ``max_boxes`` defaults to the largest object count of the embedded ``kerasnn_shapes``
    configs (5) and to ``detection.DEFAULT_MAX_BOXES`` for catalogue datasets.

    Raises:
        ValueError: a dataset without the needed features, or images of different sizes
            without ``image_size``.
    """
    if max_boxes is None:
        max_boxes = 5 if name.startswith("kerasnn_") else detection.DEFAULT_MAX_BOXES
    loader = load if masks else detection.load
    settings = dict(data_dir=data_dir, max_boxes=max_boxes, image_size=image_size)
    datasets = [loader(name, splits[0], batch_size=batch_size, seed=seed, **settings)]
    datasets += [loader(name, split, batch_size=evaluation_batch_size, shuffle=False, **settings)
                 for split in splits[1:]]
    image_shape = tuple(datasets[0].element_spec["image"].shape[1:3])
    if None in image_shape:
        raise ValueError("its images differ in size: give an `image_size` (--image-size)")
    return datasets, image_shape
