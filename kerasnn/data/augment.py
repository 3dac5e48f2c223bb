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
    images = keras.ops.convert_to_tensor(images, "float32")
    arrays = [keras.ops.convert_to_tensor(mask) for mask in masks]
    for mask in arrays:
        if tuple(mask.shape[:3]) != tuple(images.shape[:3]):
            arguments.shape_error("masks", f"{tuple(images.shape[:3])} (+ (1,))", mask.shape)
    stacked = keras.ops.concatenate(
        [keras.ops.reshape(keras.ops.cast(m, "float32"), (*images.shape[:3], 1)) for m in arrays],
        axis=-1,
    )
    outputs = augmentation({"images": images, "segmentation_masks": stacked}, training=training)
    moved = keras.ops.round(outputs["segmentation_masks"])
    return (outputs["images"], *(
        keras.ops.cast(keras.ops.reshape(moved[..., i], mask.shape), mask.dtype)
        for i, mask in enumerate(arrays)
    ))
