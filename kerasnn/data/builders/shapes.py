"""`kerasnn_shapes`: procedurally drawn RGB images of geometric shapes, generated locally.

Every example carries what the course's vision chapters need, so one dataset serves
classification, localization, CAM, segmentation and detection:

- ``image``: ``(size, size, 3)`` uint8, one or more filled shapes on a noisy, textured background;
- ``label``: the class of the largest object (the image-level label used for classification);
- ``objects``: a sequence of ``{"bbox", "label"}``, boxes in the tfds ``BBoxFeature`` convention
  (normalized ``[ymin, xmin, ymax, xmax]``, ``ymax``/``xmax`` exclusive pixel edges divided by
  size);
- ``mask``: ``(size, size, 1)`` uint8 semantic mask, ``0`` background and ``label + 1`` on each
  object's visible pixels;
- ``instances`` (the ``segment`` configuration only): ``(size, size, 1)`` uint8 instance mask,
  ``0`` background and ``1..n`` on each object's visible pixels, in ``objects``' order. Its
  objects touch and overlap objects of the same class (what the U-Net weight map separates).

Examples are a pure function of ``(config, split, index)``: building twice gives the same bytes.
"""

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

# Every shape the generator can draw. Each config picks its class set from these; the source and
# target configs are disjoint so that transfer learning moves to genuinely new classes.
SHAPES = (
    "circle",
    "square",
    "triangle",
    "cross",
    "star",
    "ring",
    "crescent",
    "ellipse",
)


@dataclasses.dataclass(frozen=True)
class ShapesSpec:
    classes: tuple
    image_size: int
    min_objects: int
    max_objects: int
    split_sizes: tuple  # (train, validation, test)
    seed: int
    touching: bool = False  # objects placed against objects of the same class; instance masks


class ShapesConfig(tfds.core.BuilderConfig):
    def __init__(self, *, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec


def _config(name, description, **spec):
    return ShapesConfig(name=name, description=description, spec=ShapesSpec(**spec))


CONFIGS = (
    _config(
        "source",
        "Source task of the transfer-learning recipe: 4 classes, many examples, one object, 32x32.",
        classes=("circle", "square", "triangle", "cross"),
        image_size=32,
        min_objects=1,
        max_objects=1,
        split_sizes=(3000, 500, 500),
        seed=1,
    ),
    _config(
        "target",
        "Target task of the transfer-learning recipe: 4 classes disjoint from `source`, 32x32.",
        classes=("star", "ring", "crescent", "ellipse"),
        image_size=32,
        min_objects=1,
        max_objects=1,
        split_sizes=(800, 400, 800),
        seed=2,
    ),
    _config(
        "classify",
        "All 8 classes, one object per image, 32x32: classification, localization and CAM.",
        classes=SHAPES,
        image_size=32,
        min_objects=1,
        max_objects=1,
        split_sizes=(4000, 500, 1000),
        seed=3,
    ),
    _config(
        "detect",
        "All 8 classes, 1 to 3 objects per image, 64x64: detection and segmentation.",
        classes=SHAPES,
        image_size=64,
        min_objects=1,
        max_objects=3,
        split_sizes=(1500, 250, 250),
        seed=4,
    ),
    _config(
        "pretrain",
        "Richer source task of the transfer-learning recipe: the 4 `source` classes and 5 shapes "
        "no other config draws, disjoint from `target`; one object, 32x32.",
        classes=("circle", "square", "triangle", "cross", "pentagon", "hexagon", "arrow", "tee",
                 "hourglass"),
        image_size=32,
        min_objects=1,
        max_objects=1,
        split_sizes=(4500, 500, 500),
        seed=5,
    ),
    _config(
        "segment",
        "Segmentation with instances, 64x64: 3 classes, 2 to 5 objects, most of them touching or "
        "overlapping an object of the same class; an `instances` mask beside the semantic one.",
        classes=("circle", "square", "triangle"),
        image_size=64,
        min_objects=2,
        max_objects=5,
        split_sizes=(1200, 200, 200),
        seed=6,
        touching=True,
    ),
)

SPLITS = ("train", "validation", "test")


def shape_mask(shape, yy, xx, radius, angle):
    """Boolean mask of ``shape`` centred at the origin of the coordinate grids ``yy, xx``."""
    cos, sin = np.cos(angle), np.sin(angle)
    u = cos * xx + sin * yy  # coordinates in the shape's rotated frame
    v = -sin * xx + cos * yy
    rho = np.hypot(u, v)
    phi = np.arctan2(v, u)
    if shape == "circle":
        return rho <= radius
    if shape == "square":
        half = radius * 0.8
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == "triangle":
        return _regular_polygon(u, v, radius, 3)
    if shape == "cross":
        arm = radius * 0.35
        return ((np.abs(u) <= arm) & (np.abs(v) <= radius)) | (
            (np.abs(v) <= arm) & (np.abs(u) <= radius)
        )
    if shape == "star":
        # Radius alternates linearly between the outer tips and the inner notches of 5 points.
        sector = np.mod(phi, 2 * np.pi / 5) / (2 * np.pi / 5)
        edge = radius * (0.45 + 0.55 * np.abs(2 * sector - 1))
        return rho <= edge
    if shape == "ring":
        return (rho <= radius) & (rho >= radius * 0.55)
    if shape == "crescent":
        return (rho <= radius) & (np.hypot(u - radius * 0.5, v) > radius * 0.8)
    if shape == "ellipse":
        return (u / radius) ** 2 + (v / (radius * 0.45)) ** 2 <= 1.0
    if shape in _SOURCE_ONLY_MASKS:
        return _SOURCE_ONLY_MASKS[shape](u, v, rho, radius)
    raise ValueError(f"Unknown shape {shape!r}; expected one of {SHAPES + SOURCE_ONLY_SHAPES}.")


# Shapes drawn only for the `pretrain` source task of transfer learning (none is in SHAPES, so
# the other configs are unchanged). Each is a boolean mask in the shape's rotated frame (u, v).
_SOURCE_ONLY_MASKS = {
    "pentagon": lambda u, v, rho, r: _regular_polygon(u, v, r, 5),
    "hexagon": lambda u, v, rho, r: _regular_polygon(u, v, r, 6),
    "arrow": lambda u, v, rho, r: ((np.abs(v) <= 0.2 * r) & (u >= -r) & (u <= 0.1 * r))
    | ((u >= 0.1 * r) & (u <= r) & (np.abs(v) <= 0.75 * (r - u))),
    "tee": lambda u, v, rho, r: ((np.abs(u) <= r) & (v >= 0.45 * r) & (v <= 0.9 * r))
    | ((np.abs(u) <= 0.22 * r) & (v >= -r) & (v <= 0.45 * r)),
    "hourglass": lambda u, v, rho, r: (np.abs(v) <= 0.9 * r)
    & (np.abs(u) <= 0.1 * r + 0.7 * np.abs(v)),
}
SOURCE_ONLY_SHAPES = tuple(_SOURCE_ONLY_MASKS)


def _regular_polygon(u, v, radius, sides):
    inside = np.ones_like(u, dtype=bool)
    apothem = radius * np.cos(np.pi / sides)
    for k in range(sides):
        normal = 2 * np.pi * k / sides + np.pi / sides
        inside &= u * np.cos(normal) + v * np.sin(normal) <= apothem
    return inside


def _background(rng, size):
    """Smooth colour gradient, optional stripes, and pixel noise: objects are not on flat colour."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(0.0, 1.0, 3)
    slope = rng.uniform(-0.3, 0.3, (2, 3))
    image = base + yy[..., None] * slope[0] + xx[..., None] * slope[1]
    if rng.random() < 0.5:
        period = rng.uniform(0.15, 0.4)
        theta = rng.uniform(0, np.pi)
        stripes = np.sin(2 * np.pi * (np.cos(theta) * xx + np.sin(theta) * yy) / period)
        image = image + 0.08 * stripes[..., None]
    return image + rng.normal(0.0, 0.05, image.shape)


def _contrasting_colour(rng, background_mean):
    """A random colour whose brightness differs enough from the background to be visible."""
    for _ in range(20):
        colour = rng.uniform(0.0, 1.0, 3)
        if abs(colour.mean() - background_mean.mean()) > 0.25:
            return colour
    return 1.0 - background_mean


def _visible_box(visible, size):
    rows, cols = np.nonzero(visible)
    return np.array(
        [rows.min() / size, cols.min() / size, (rows.max() + 1) / size, (cols.max() + 1) / size],
        np.float32,
    )


def _generate_touching(spec, rng):
    """The ``touching`` configurations: each object after the first is, with probability 3/4, of
    the class of an earlier object and placed against it (centre distance 0.75 to 1.05 times the
    sum of the radii: touching or overlapping); later objects occlude earlier ones, and a
    placement that would leave an earlier object less than half visible is redrawn."""
    size = spec.image_size
    image = _background(rng, size)
    instances = np.zeros((size, size), np.int64)
    grid_y, grid_x = np.mgrid[0:size, 0:size] + 0.5
    num_objects = int(rng.integers(spec.min_objects, spec.max_objects + 1))
    labels, radii, centres, areas = [], [], [], []
    for _ in range(num_objects):
        for _attempt in range(30):
            radius = rng.uniform(size * 0.1, size * 0.2)
            if labels and rng.random() < 0.75:
                partner = int(rng.integers(len(labels)))
                label = labels[partner]
                direction = rng.uniform(0, 2 * np.pi)
                distance = (radius + radii[partner]) * rng.uniform(0.75, 1.05)
                cy = centres[partner][0] + distance * np.sin(direction)
                cx = centres[partner][1] + distance * np.cos(direction)
                cy, cx = np.clip([cy, cx], radius * 0.6, size - radius * 0.6)
            else:
                label = int(rng.integers(len(spec.classes)))
                cy, cx = rng.uniform(radius, size - radius, 2)
            drawn = shape_mask(spec.classes[label], grid_y - cy, grid_x - cx, radius,
                               rng.uniform(0, 2 * np.pi))
            after = np.where(drawn, len(labels) + 1, instances)
            visible = np.bincount(after.ravel(), minlength=len(labels) + 2)[1:]
            if visible[-1] >= 20 and all(visible[:-1] >= 0.5 * np.array(areas)):
                break
        else:
            continue  # no placement kept every object visible enough: one object fewer
        instances = after
        labels.append(label)
        radii.append(radius)
        centres.append((cy, cx))
        areas.append(int(drawn.sum()))
        image[drawn] = _contrasting_colour(rng, image.mean(axis=(0, 1))) + rng.normal(
            0.0, 0.04, (int(drawn.sum()), 3)
        )
    lookup = np.array([0] + [label + 1 for label in labels], np.uint8)
    objects = [
        {"bbox": _visible_box(instances == k + 1, size), "label": label}
        for k, label in enumerate(labels)
    ]
    visible = np.bincount(instances.ravel(), minlength=len(labels) + 1)[1:]
    return {
        "image": np.clip(np.rint(image * 255), 0, 255).astype(np.uint8),
        "label": labels[int(np.argmax(visible))],
        "objects": objects,
        "mask": lookup[instances][..., None],
        "instances": instances.astype(np.uint8)[..., None],
    }


def generate_example(spec, split, index):
    """Draw example ``index`` of ``split``; a pure function of its arguments."""
    split_id = SPLITS.index(split)
    rng = np.random.default_rng([spec.seed, split_id, index])
    if spec.touching:
        return _generate_touching(spec, rng)
    size = spec.image_size
    image = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    grid_y, grid_x = np.mgrid[0:size, 0:size] + 0.5
    num_objects = int(rng.integers(spec.min_objects, spec.max_objects + 1))
    objects, areas, occupied = [], [], np.zeros((size, size), bool)
    min_radius = size * (0.18 if spec.max_objects == 1 else 0.12)
    max_radius = size * (0.42 if spec.max_objects == 1 else 0.24)
    for _ in range(num_objects):
        # Rejection sampling keeps objects mostly apart so every one stays recognisable.
        for _attempt in range(30):
            label = int(rng.integers(len(spec.classes)))
            radius = rng.uniform(min_radius, max_radius)
            cy, cx = rng.uniform(radius, size - radius, 2)
            angle = rng.uniform(0, 2 * np.pi)
            drawn = shape_mask(spec.classes[label], grid_y - cy, grid_x - cx, radius, angle)
            if drawn.sum() >= 4 and (drawn & occupied).sum() <= 0.1 * drawn.sum():
                break
        occupied |= drawn
        image[drawn] = _contrasting_colour(rng, image.mean(axis=(0, 1))) + rng.normal(
            0.0, 0.04, (int(drawn.sum()), 3)
        )
        mask[drawn] = label + 1
        objects.append({"bbox": _visible_box(drawn, size), "label": label})
        areas.append(drawn.sum())
    image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    return {
        "image": image,
        "label": objects[int(np.argmax(areas))]["label"],
        "objects": objects,
        "mask": mask[..., None],
    }


class KerasnnShapes(tfds.core.GeneratorBasedBuilder):
    """Procedurally drawn geometric shapes with labels, boxes and segmentation masks."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = list(CONFIGS)

    def _info(self):
        spec = self.builder_config.spec
        size = spec.image_size
        features = {
            "image": tfds.features.Image(shape=(size, size, 3)),
            "label": tfds.features.ClassLabel(names=spec.classes),
            "objects": tfds.features.Sequence(
                {
                    "bbox": tfds.features.BBoxFeature(),
                    "label": tfds.features.ClassLabel(names=spec.classes),
                }
            ),
            "mask": tfds.features.Image(shape=(size, size, 1)),
        }
        if spec.touching:
            features["instances"] = tfds.features.Image(shape=(size, size, 1))
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: examples are drawn locally
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        spec = self.builder_config.spec
        for index in range(spec.split_sizes[SPLITS.index(split)]):
            yield index, generate_example(spec, split, index)
