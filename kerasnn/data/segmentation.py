"""Segmentation arrays: image, per-pixel class ids and instance ids, from the embedded
``kerasnn_shapes`` masks or from ``oxford_iiit_pet``'s trimaps (course notes, "Image
Segmentation": pairs ``(I, GT)``, GT a pixel-wise annotated image over the categories in Lambda),
and the patches of patch-based training ("Training a CNN", "Patch Based").

- ``kerasnn_shapes`` (``mask``: 0 background, ``label + 1`` on each object; ``instances`` in the
  ``segment`` configuration): the classes are the background and the dataset's labels;
- ``oxford_iiit_pet`` (online): its trimap ``segmentation_mask`` (1 pet, 2 background, 3 the
  unclassified band around the pet) becomes the classes background 0, pet 1, border 2; the pet
  is the one instance. Its images differ in size: both are resized (the mask nearest-neighbour,
  an id is never blended with its neighbour).
"""

import numpy as np
import tensorflow as tf

from kerasnn import arguments
from kerasnn import data as data_module

PET_CLASSES = ("background", "pet", "border")
# trimap value -> class id: 1 pet -> 1, 2 background -> 0, 3 border -> 2 (index 0 is unused)
_TRIMAP_CLASSES = np.array([0, 1, 0, 2], dtype=np.int32)


def class_names(name, data_dir=None):
    """The segmentation classes of dataset ``name``, background first; ``ValueError`` when it
    has no mask feature (``mask`` or ``segmentation_mask``)."""
    features = data_module.get_builder(name, data_dir).info.features
    if "segmentation_mask" in features:
        return PET_CLASSES
    if "mask" in features and "label" in features:
        return ("background", *features["label"].names)
    arguments.fail("dataset", "a dataset with a `mask` or `segmentation_mask` feature", None,
                   received=f"{name!r} with features {', '.join(sorted(features))}")


def resolve(name, image_size=None, multiple=1, data_dir=None, default_size=64):
    """What a segmentation recipe needs to know before reading dataset ``name``: its classes
    (``class_names``) and the image side, ``image_size`` if given, else the dataset's stored
    side, else ``default_size`` (images of different sizes). ``ValueError`` when the dataset has
    no mask or the side is not a multiple of ``multiple`` (what the network can take).

    Returns:
        ``(class_names, size, resize)``: ``resize`` is ``size``, or ``None`` when the stored
        images already have it (``arrays(dataset, resize)``).
    """
    names = class_names(name, data_dir)
    stored = data_module.describe(name, data_dir).input_shape[0]
    size = image_size or stored or default_size
    if size % multiple:
        arguments.fail("image_size", f"a multiple of {multiple}", size)
    return names, size, None if size == stored else size


def arrays(dataset, image_size=None):
    """``(images, masks, instances)`` NumPy arrays of a dataset of feature dicts
    (``data.load(..., supervised=False)``, any batch size; batches of one for images of
    different sizes).

    Args:
        image_size: resize every image (bilinear) and its masks (nearest neighbour) to
            ``image_size x image_size``; needed when the images differ in size.

    Returns:
        ``images`` ``(N, H, W, C)`` float32 in [0, 1]; ``masks`` ``(N, H, W)`` int32 class ids;
        ``instances`` ``(N, H, W)`` int32 ids (0 background, 1..n), ``None`` when the dataset
        has none.
    """
    if image_size is not None:
        image_size = arguments.positive_int("image_size", image_size)
    spec = dataset.element_spec
    if "segmentation_mask" in spec:
        mask_key, trimap = "segmentation_mask", True
    elif "mask" in spec:
        mask_key, trimap = "mask", False
    else:
        arguments.fail("dataset", "feature dicts with a `mask` or `segmentation_mask`", None,
                       received=f"features {', '.join(sorted(spec))}")
    keys = [key for key in ("image", mask_key, "instances") if key in spec]

    def resized(example):
        example = {key: example[key] for key in keys}
        if image_size is None:
            return example
        size = (image_size, image_size)
        return {key: tf.image.resize(value, size) if key == "image" else
                tf.cast(tf.image.resize(value, size, method="nearest"), value.dtype)
                for key, value in example.items()}

    dataset = dataset.unbatch().map(resized, num_parallel_calls=tf.data.AUTOTUNE).batch(256)
    features = data_module.feature_arrays(dataset)
    images = features["image"].astype("float32")
    masks = features[mask_key][..., 0].astype("int32")
    if trimap:
        masks = _TRIMAP_CLASSES[masks]
        instances = (masks == PET_CLASSES.index("pet")).astype("int32")
    else:
        instances = features.get("instances")
        instances = None if instances is None else instances[..., 0].astype("int32")
    return images, masks, instances


def pad_for_patches(images, patch_size):
    """Images reflect-padded by ``patch_size // 2`` before and ``patch_size - patch_size // 2``
    after, so that a patch centred on any pixel lies inside: the patch whose top-left corner is
    at padded ``(r, c)`` has its centre ``(patch_size // 2)`` on the original pixel ``(r, c)``."""
    patch_size = arguments.positive_int("patch_size", patch_size)
    images = np.asarray(images)
    if images.ndim != 4:
        arguments.shape_error("images", "(batch, height, width, channels)", images.shape)
    half = patch_size // 2
    return np.pad(images, ((0, 0), (half, patch_size - half), (half, patch_size - half), (0, 0)),
                  mode="reflect")


def center_patches(images, masks, patch_size, count, seed=0, balanced=True):
    """``count`` training patches of patch-based segmentation ("Patch Based", step 2): crops of
    ``patch_size x patch_size`` from ``images`` (``pad_for_patches``), each labelled with the class
    of its centre pixel.

    Args:
        balanced: draw the centre's class uniformly among the classes present, then a pixel of
            that class ("patch resampling for correcting imbalance", section "Full Image");
            ``False``: centres uniform over all pixels.

    Returns:
        ``(patches, labels)``: ``(count, patch_size, patch_size, C)`` and ``(count,)`` int32.
    """
    count = arguments.positive_int("count", count)
    masks = np.asarray(masks)
    images = np.asarray(images)
    if masks.shape != images.shape[:3]:
        arguments.shape_error("masks", f"{images.shape[:3]} (the images' batch, H, W)",
                              masks.shape)
    rng = np.random.default_rng(seed)
    flat = masks.reshape(-1)
    if balanced:
        classes = np.unique(flat)
        chosen = rng.choice(classes, count)
        centers = np.empty(count, dtype=np.int64)
        for label in classes:  # a loop over the few classes, not over the patches
            where = chosen == label
            centers[where] = rng.choice(np.flatnonzero(flat == label), where.sum())
    else:
        centers = rng.integers(flat.size, size=count)
    index, row, col = np.unravel_index(centers, masks.shape)
    padded = pad_for_patches(images, patch_size)
    offsets = np.arange(patch_size)
    patches = padded[index[:, None, None], (row[:, None] + offsets)[:, :, None],
                     (col[:, None] + offsets)[:, None, :]]
    return patches, flat[centers].astype("int32")
