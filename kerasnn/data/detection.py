"""Detection batches: images with a variable number of objects, padded to a fixed box count.

Course notes, "CNN for Object Detection": an image maps to a *varying* number of outputs
``{(x, y, h, w, l)_1, ..., (x, y, h, w, l)_N}``. A batch needs fixed shapes, so every image's
objects are padded to ``max_boxes``:

- ``"boxes"``: ``(max_boxes, 4)`` float32 pixel boxes ``[y1, x1, y2, x2]`` of the (resized) image,
  converted once here from the tfds normalized ``[ymin, xmin, ymax, xmax]``
  (``kerasnn.ops.boxes`` documents the conventions); padding rows are ``0``;
- ``"labels"``: ``(max_boxes,)`` int32 class ids, ``-1`` for padding (the value
  ``kerasnn.metrics`` and ``kerasnn.ops.targets`` ignore);
- ``"num_objects"``: int32, the number of real objects (``0`` for an image without objects);
- ``"image"``: float32 in ``[0, 1]``, resized to ``image_size`` when given.

An image with more than ``max_boxes`` objects is an error (``tf.errors.InvalidArgumentError``
when the example is read), never a silent truncation: dropping objects would make mAP lie.
"""

import tensorflow as tf

from kerasnn import arguments
from kerasnn import data as data_module

# ``kerasnn_shapes/detect`` draws 1 to 3 objects per image; most VOC images have fewer than 42.
DEFAULT_MAX_BOXES = 100


def pad_objects(example, max_boxes=DEFAULT_MAX_BOXES, image_size=None):
    """One tfds detection example to fixed-shape detection features (see the module docstring).

    Args:
        example: a dict with ``"image"`` (``(height, width, channels)`` uint8) and ``"objects"``,
            a dict with ``"bbox"`` ``(num_objects, 4)`` normalized boxes and ``"label"``
            ``(num_objects,)`` class ids (the tfds ``Sequence`` of ``BBoxFeature`` + label).
        max_boxes: positive int, the padded number of boxes.
        image_size: resize the image to ``(image_size, image_size)``; the pixel boxes are those
            of the resized image. ``None`` keeps the stored size.

    Returns:
        dict with ``"image"``, ``"boxes"``, ``"labels"`` and ``"num_objects"``.
    """
    max_boxes = arguments.positive_int("max_boxes", max_boxes)
    objects = example["objects"]
    image = data_module.scale_image(example["image"], image_size)
    bbox = tf.cast(tf.reshape(objects["bbox"], (-1, 4)), tf.float32)
    labels = tf.cast(tf.reshape(objects["label"], (-1,)), tf.int32)
    count = tf.shape(bbox)[0]
    check = tf.debugging.assert_less_equal(
        count,
        max_boxes,
        message=f"An image has more objects than `max_boxes`={max_boxes}; raise `max_boxes`.",
    )
    with tf.control_dependencies([check]):
        count = tf.identity(count)
    # kerasnn.ops.boxes.normalized_to_pixels needs a static image shape; images of tfds
    # catalogue datasets (VOC) have a dynamic one, so the same product is written in tf here.
    height = tf.cast(tf.shape(image)[0], tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    boxes = bbox * tf.stack([height, width, height, width])
    padding = max_boxes - count
    boxes = tf.pad(boxes, [[0, padding], [0, 0]])
    labels = tf.pad(labels, [[0, padding]], constant_values=-1)
    return {
        "image": image,
        "boxes": tf.ensure_shape(boxes, (max_boxes, 4)),
        "labels": tf.ensure_shape(labels, (max_boxes,)),
        "num_objects": count,
    }


def _check_detection_features(name, features):
    names = list(features.keys())
    objects = features["objects"] if "image" in names and "objects" in names else None
    if objects is None or "bbox" not in objects or "label" not in objects:
        raise ValueError(
            f"Detection needs `image` and `objects` with `bbox` and `label` features; dataset "
            f"{name!r} has: {', '.join(sorted(names))}"
        )


def load(
    name,
    split="train",
    *,
    data_dir=None,
    batch_size=32,
    max_boxes=DEFAULT_MAX_BOXES,
    image_size=None,
    shuffle=None,
    augment=None,
    cache=None,
    seed=0,
):
    """A batched ``tf.data.Dataset`` of padded detection feature dicts (:func:`pad_objects`).

    The detection counterpart of ``kerasnn.data.load`` (same arguments and defaults for
    shuffling, caching and augmentation; a geometric ``augment`` moves the boxes with the
    images, ``kerasnn.data.augment.with_boxes``: clipped, and dropped when they leave the image,
    ``num_objects`` recounted). Datasets whose
    images differ in size (VOC) need ``image_size`` to batch.

    Example: ``load("kerasnn_shapes/detect", "train", max_boxes=3)`` gives batches with
    ``image`` ``(32, 64, 64, 3)``, ``boxes`` ``(32, 3, 4)``, ``labels`` ``(32, 3)`` and
    ``num_objects`` ``(32,)``.
    """
    max_boxes = arguments.positive_int("max_boxes", max_boxes)
    builder = data_module.get_builder(name, data_dir)
    _check_detection_features(name, builder.info.features)
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    if cache is None:
        # Variable-length objects make the decoded size unknown; the images dominate it.
        image_info = builder.info.features["image"]
        cache = None not in image_info.shape and data_module.CACHE_LIMIT_BYTES > (
            builder.info.splits[split].num_examples * int(tf.reduce_prod(image_info.shape))
        )
    if cache:
        dataset = dataset.cache()
    dataset = dataset.map(
        lambda example: pad_objects(example, max_boxes, image_size),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if shuffle is None:
        shuffle = split == "train" or split.startswith("train[:")
    return data_module.batch(dataset, batch_size, shuffle=shuffle, augment=augment, seed=seed)


def with_proposals(dataset, proposals):
    """Add the same ``"proposals"`` ``(batch, P, 4)`` to every batch of a detection dataset:
    image-independent proposals (sliding windows) for R-CNN and Fast R-CNN.

    Args:
        dataset: batches of :func:`load`.
        proposals: ``(P, 4)`` pixel boxes ``[y1, x1, y2, x2]``.
    """
    proposals = tf.convert_to_tensor(proposals, tf.float32)
    if proposals.shape.rank != 2 or proposals.shape[-1] != 4:
        arguments.shape_error("proposals", "(num_proposals, 4)", proposals.shape)

    def add(batch):
        count = tf.shape(batch["image"])[0]
        return {**batch, "proposals": tf.tile(proposals[None], [count, 1, 1])}

    return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE)


def object_class_names(name, data_dir=None):
    """The names of a detection dataset's object classes (``objects/label``), e.g. VOC's 20."""
    builder = data_module.get_builder(name, data_dir)
    _check_detection_features(name, builder.info.features)
    return tuple(builder.info.features["objects"]["label"].names)
