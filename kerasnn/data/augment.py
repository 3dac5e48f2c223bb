"""Reusable data-augmentation pipelines made of Keras preprocessing layers.

Course section "Data Augmentation": geometric transformations (shift, rotation, flip, scaling,
shear) and photometric ones (noise, average intensity, contrast) that preserve the label.

Each function returns a ``keras.Sequential`` that is random when called with ``training=True``
and the identity otherwise, so it can go in a ``tf.data`` pipeline
(``data.load(..., augment=augment.geometric(seed=0))``), at the top of a model, or into a
test-time-augmentation predictor (``kerasnn.data.tta``). Images are floats in ``[0, 1]``.
Every strength is a fraction; 0 (or ``None``) leaves that transformation out.
"""

import keras

from kerasnn import arguments

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _check_fraction(name, value):
    if value is not None:
        arguments.probability(name, value)


def geometric(
    *,
    shift=0.1,
    rotation=0.04,
    zoom=0.1,
    shear=0.1,
    flip=None,
    fill_mode="nearest",
    interpolation="bilinear",
    seed=None,
    name="geometric_augmentation",
):
    """Random geometric transformations.

    Args:
        shift: largest translation, as a fraction of height and width.
        rotation: largest rotation, as a fraction of a full turn (0.04 is about 14 degrees).
        zoom: largest zoom in or out, as a fraction of the size.
        shear: largest shear factor along x and y.
        flip: ``None`` (no flip: digits and text change meaning when mirrored), ``"horizontal"``,
            ``"vertical"`` or ``"horizontal_and_vertical"``.
        fill_mode: how pixels moved in from outside are filled (``"nearest"``, ``"constant"``
            (zeros), ``"reflect"``, ``"wrap"``).
        interpolation: ``"bilinear"`` or ``"nearest"``. On tiny images (8x8 digits) every
            bilinear resampling blurs; ``"nearest"`` keeps whole-pixel moves sharp.
        seed: seed of the random transformations (each layer gets ``seed + i``).
    """
    for argument, value in dict(shift=shift, rotation=rotation, zoom=zoom, shear=shear).items():
        _check_fraction(argument, value)
    arguments.one_of("flip", flip, (None,) + FLIP_MODES)
    seeds = _seeds(seed)
    steps = []
    if flip:
        steps.append(keras.layers.RandomFlip(flip, seed=next(seeds), name="flip"))
    resample = dict(fill_mode=fill_mode, interpolation=interpolation)
    if rotation:
        steps.append(
            keras.layers.RandomRotation(rotation, **resample, seed=next(seeds), name="rotation")
        )
    if shear:
        steps.append(
            keras.layers.RandomShear(shear, shear, **resample, seed=next(seeds), name="shear")
        )
    if zoom:
        steps.append(keras.layers.RandomZoom(zoom, zoom, **resample, seed=next(seeds), name="zoom"))
    if shift:
        steps.append(
            keras.layers.RandomTranslation(shift, shift, **resample, seed=next(seeds), name="shift")
        )
    return _sequential(steps, name)


def photometric(
    *, noise=0.03, brightness=0.1, contrast=0.2, seed=None, name="photometric_augmentation"
):
    """Random photometric transformations of images in ``[0, 1]``.

    Args:
        noise: standard deviation of additive Gaussian noise.
        brightness: largest change of the average intensity (fraction of the value range).
        contrast: largest relative change of the contrast around the mean.
        seed: seed of the random transformations.
    """
    for argument, value in dict(noise=noise, brightness=brightness, contrast=contrast).items():
        _check_fraction(argument, value)
    seeds = _seeds(seed)
    steps = []
    if brightness:
        steps.append(
            keras.layers.RandomBrightness(
                brightness, value_range=(0.0, 1.0), seed=next(seeds), name="brightness"
            )
        )
    if contrast:
        steps.append(
            keras.layers.RandomContrast(
                contrast, value_range=(0.0, 1.0), seed=next(seeds), name="contrast"
            )
        )
    if noise:
        steps.append(keras.layers.GaussianNoise(noise, seed=next(seeds), name="noise"))
    return _sequential(steps, name)


def combined(*, geometric_options=None, photometric_options=None, seed=None, name="augmentation"):
    """Geometric then photometric augmentation; ``*_options`` are keyword arguments of each."""
    steps = [
        geometric(**(geometric_options or {}), seed=seed),
        photometric(**(photometric_options or {}), seed=None if seed is None else seed + 100),
    ]
    return keras.Sequential(steps, name=name)


def _seeds(seed):
    index = 0
    while True:
        yield None if seed is None else seed + index
        index += 1


def _sequential(steps, name):
    # An empty keras.Sequential cannot be built; the identity keeps "all strengths 0" usable.
    return keras.Sequential(steps or [keras.layers.Identity()], name=name)


def with_masks(augmentation, images, *masks, training=True):
    """Apply a ``geometric`` augmentation to ``images`` and their ``masks`` with the *same*
    random parameters (issue: segmentation targets move with the image).

    The masks go through Keras' ``segmentation_masks`` path of each preprocessing layer: the
    same transformation as the images, resampled nearest-neighbour (a class or instance id is
    never blended with its neighbour). Use a geometric pipeline only: photometric changes must
    touch the image alone (apply them to the returned images afterwards).

    Args:
        augmentation: e.g. ``geometric(flip="horizontal_and_vertical", seed=0)``.
        images: ``(batch, H, W, C)`` floats.
        masks: any number of ``(batch, H, W)`` or ``(batch, H, W, 1)`` integer maps (semantic
            mask, instance ids, ...).
        training: ``False`` returns the inputs unchanged (the pipeline is the identity).

    Returns:
        ``(images, *masks)``, each mask with its input's shape and dtype.
    """
    images, moved_masks, _ = _transform(augmentation, images, masks, None, training)
    return (images, *moved_masks)


def with_boxes(augmentation, images, boxes, labels, *masks, training=True, min_size=1.0):
    """Apply a ``geometric`` augmentation to ``images``, their object ``boxes`` and any
    ``masks`` with the *same* random parameters (detection targets move with the image).

    The boxes go through Keras' ``bounding_boxes`` path of each preprocessing layer (flips,
    shifts, zooms, rotations and shears move the corners; a rotated or sheared box becomes the
    box around its moved corners), the same geometry as :func:`with_masks`. Then every box is
    clipped to the image, and a box whose clipped height or width is below ``min_size`` pixels
    (it left the image) is **dropped**: label ``-1`` and box ``0``, the padding of
    ``kerasnn.data.detection``. Padding rows (label ``< 0``) stay padding.

    Args:
        augmentation: a ``geometric`` pipeline (each layer's ``bounding_box_format`` is set to
            pixel ``"yxyx"`` when it has none).
        images: ``(batch, H, W, C)`` floats.
        boxes: ``(batch, max_boxes, 4)`` pixel ``[y1, x1, y2, x2]``.
        labels: ``(batch, max_boxes)`` integer class ids, ``-1`` for padding.
        masks: optional ``(batch, H, W)`` or ``(batch, H, W, 1)`` integer maps.
        training: ``False`` returns the inputs unchanged.
        min_size: smallest height and width, in pixels, of a box that is kept.

    Returns:
        ``(images, boxes, labels, *masks)`` with the inputs' shapes and dtypes.
    """
    boxes = keras.ops.convert_to_tensor(boxes, "float32")
    labels = keras.ops.convert_to_tensor(labels)
    if len(boxes.shape) != 3 or boxes.shape[-1] != 4:
        arguments.shape_error("boxes", "(batch, max_boxes, 4)", boxes.shape)
    if tuple(labels.shape) != tuple(boxes.shape[:2]):
        arguments.shape_error("labels", f"{tuple(boxes.shape[:2])}", labels.shape)
    arguments.non_negative_number("min_size", min_size)
    for layer in getattr(augmentation, "layers", [augmentation]):
        if getattr(layer, "bounding_box_format", "yxyx") is None:
            layer.bounding_box_format = "yxyx"
    images, moved_masks, moved = _transform(
        augmentation, images, masks, {"boxes": boxes, "labels": labels}, training)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:  # dynamic image size (inside tf.data)
        height, width = keras.ops.shape(images)[1], keras.ops.shape(images)[2]
    limits = keras.ops.cast(keras.ops.stack([height, width, height, width]), "float32")
    moved_boxes = keras.ops.clip(moved["boxes"], 0.0, limits)
    keep = keras.ops.logical_and(
        labels >= 0,
        keras.ops.logical_and(moved_boxes[..., 2] - moved_boxes[..., 0] >= min_size,
                              moved_boxes[..., 3] - moved_boxes[..., 1] >= min_size))
    moved_boxes = keras.ops.where(keep[..., None], moved_boxes, 0.0)
    moved_labels = keras.ops.cast(keras.ops.where(keep, labels, -1), labels.dtype)
    return (images, moved_boxes, moved_labels, *moved_masks)


def _transform(augmentation, images, masks, bounding_boxes, training):
    """The one geometric path of images, masks and boxes (Keras' preprocessing-layer dict)."""
    images = keras.ops.convert_to_tensor(images, "float32")
    arrays = [keras.ops.convert_to_tensor(mask) for mask in masks]
    for mask in arrays:
        if tuple(mask.shape[:3]) != tuple(images.shape[:3]):
            arguments.shape_error("masks", f"{tuple(images.shape[:3])} (+ (1,))", mask.shape)
    inputs = {"images": images}
    if arrays:
        inputs["segmentation_masks"] = keras.ops.concatenate(
            [keras.ops.reshape(keras.ops.cast(m, "float32"), (*images.shape[:3], 1))
             for m in arrays], axis=-1)
    if bounding_boxes is not None:
        inputs["bounding_boxes"] = bounding_boxes
    outputs = augmentation(inputs, training=training)
    moved_masks = []
    if arrays:
        moved = keras.ops.round(outputs["segmentation_masks"])
        moved_masks = [keras.ops.cast(keras.ops.reshape(moved[..., i], mask.shape), mask.dtype)
                       for i, mask in enumerate(arrays)]
    return outputs["images"], moved_masks, outputs.get("bounding_boxes")
