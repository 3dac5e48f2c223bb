"""Augmented Grad-CAM: heat-map super-resolution from known roto-translations of the image.

Course notes, "Augmented Grad-CAM" (Morbidelli et al., 2020). Grad-CAM maps ``g_l`` (``n x m``,
the last convolution's resolution) of ``L`` augmented copies ``A_l x`` of one image (random
rotations and translations with known parameters) each see the object on a shifted low-resolution
grid. Modelling the network's downsampling ``D`` as average pooling at its stride, the
full-resolution map ``h`` (``N x M``) solves::

    h* = argmin_h  1/2 sum_l ||D A_l h - g_l||^2  +  lambda TV_l1(h)  +  mu/2 ||h||^2
    TV_l1(h) = sum_{i,j} |d_x h(i, j)| + |d_y h(i, j)|        (anisotropic, forward differences)

a convex, non-smooth problem solved by subgradient descent for a fixed number of steps.

``A_l`` is a bilinear warp: every output pixel reads four input pixels with known weights, so
``A_l h`` is a gather and its adjoint ``A_l^T r`` a scatter-add (``np.bincount``); all ``L``
operators are applied at once. The solver is NumPy (it runs after the network, on one image).
"""

import collections

import numpy as np

from kerasnn import arguments
from kerasnn.explain.maps import check_images, feature_layer, grad_cam, upsample


class WarpOperator:
    """``L`` roto-translations ``A_l`` of ``(height, width)`` maps, with their adjoints.

    ``A_l x (p) = x(R_l^{-1} (p - c - t_l) + c)``: the image rotated by ``angles[l]`` degrees
    about its centre ``c`` then moved by ``shifts[l] = (dy, dx)`` pixels, read with bilinear
    interpolation at pixel centres; points outside the image read 0.

    Args:
        image_size: ``(height, width)``.
        angles: ``(L,)`` rotation angles in degrees.
        shifts: ``(L, 2)`` translations ``(dy, dx)`` in pixels.
    """

    def __init__(self, image_size, angles, shifts):
        self.image_size = height, width = tuple(int(s) for s in image_size)
        angles = np.radians(np.asarray(angles, np.float64))
        shifts = np.asarray(shifts, np.float64).reshape(len(angles), 2)
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
        centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
        y = rows[None] - centre_y - shifts[:, 0, None, None]
        x = cols[None] - centre_x - shifts[:, 1, None, None]
        cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
        # Pull back every output pixel through the inverse rotation R_l^{-1}.
        source_y = cos * y - sin * x + centre_y
        source_x = sin * y + cos * x + centre_x
        top, left = np.floor(source_y), np.floor(source_x)
        fy, fx = source_y - top, source_x - left
        indices, weights = [], []
        for dy, dx, weight in (
            (0, 0, (1 - fy) * (1 - fx)),
            (0, 1, (1 - fy) * fx),
            (1, 0, fy * (1 - fx)),
            (1, 1, fy * fx),
        ):
            r, c = top + dy, left + dx
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            indices.append(np.where(inside, r * width + c, 0).astype(np.int64))
            weights.append(np.where(inside, weight, 0.0))
        self.indices = np.stack(indices, -1).reshape(len(angles), height * width, 4)
        self.weights = np.stack(weights, -1).reshape(len(angles), height * width, 4)

    @property
    def num_augmentations(self):
        return self.indices.shape[0]

    def apply(self, images):
        """``A_l x`` for every ``l``: ``(height, width[, channels])`` -> ``(L, height, ...)``."""
        images = np.asarray(images)
        flat = images.reshape(self.indices.shape[1], -1)
        warped = np.einsum("lpk,lpkc->lpc", self.weights, flat[self.indices])
        return warped.reshape(self.num_augmentations, *images.shape).astype(images.dtype)

    def adjoint(self, maps):
        """``sum_l A_l^T r_l`` of ``(L, height, width)`` maps -> ``(height, width)``."""
        contributions = self.weights * np.asarray(maps).reshape(self.num_augmentations, -1, 1)
        total = np.bincount(
            self.indices.ravel(), weights=contributions.ravel(), minlength=self.indices.shape[1]
        )
        return total.reshape(self.image_size)


def average_pool(maps, stride):
    """``D``: mean over non-overlapping ``stride = (sy, sx)`` blocks of ``(..., H, W)`` maps."""
    sy, sx = stride
    *lead, height, width = maps.shape
    return maps.reshape(*lead, height // sy, sy, width // sx, sx).mean(axis=(-3, -1))


def average_pool_adjoint(maps, stride):
    """``D^T``: each low-resolution value spread evenly over its block."""
    sy, sx = stride
    return np.repeat(np.repeat(maps, sy, axis=-2), sx, axis=-1) / (sy * sx)


def total_variation(h):
    """Anisotropic ``TV_l1(h) = sum |h(i+1, j) - h(i, j)| + |h(i, j+1) - h(i, j)|``."""
    return np.abs(np.diff(h, axis=0)).sum() + np.abs(np.diff(h, axis=1)).sum()


def total_variation_subgradient(h):
    """A subgradient of ``TV_l1`` at ``h``: ``D_y^T sign(D_y h) + D_x^T sign(D_x h)``
    (``sign(0) = 0``, an element of the subdifferential of ``|.|`` at 0)."""
    gradient = np.zeros_like(h)
    for axis in (0, 1):
        signs = np.sign(np.diff(h, axis=axis))
        head = [slice(None)] * 2
        tail = [slice(None)] * 2
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        gradient[tuple(head)] += signs
        gradient[tuple(tail)] -= signs
    return gradient


class SuperResolutionProblem:
    """The objective ``1/2 sum_l ||D A_l h - g_l||^2 + lambda TV_l1(h) + mu/2 ||h||^2``.

    Args:
        operator: a ``WarpOperator`` (the ``A_l``).
        low_resolution: ``(L, n, m)`` maps ``g_l``; the image size must be a multiple of ``(n, m)``.
        tv_weight: ``lambda``.
        l2_weight: ``mu``.
    """

    def __init__(self, operator, low_resolution, tv_weight, l2_weight):
        self.operator = operator
        self.low_resolution = np.asarray(low_resolution, np.float64)
        self.tv_weight = arguments.non_negative_number("tv_weight", tv_weight)
        self.l2_weight = arguments.non_negative_number("l2_weight", l2_weight)
        height, width = operator.image_size
        count, n, m = self.low_resolution.shape
        if count != operator.num_augmentations or height % n or width % m:
            raise ValueError(
                f"The low-resolution maps must be {operator.num_augmentations} maps whose size "
                f"divides the image size {operator.image_size}. Received: maps of shape "
                f"{self.low_resolution.shape}"
            )
        self.stride = (height // n, width // m)

    def forward(self, h):
        """``D A_l h`` for every ``l``: ``(L, n, m)``."""
        return average_pool(self.operator.apply(h), self.stride)

    def objective(self, h):
        residual = self.forward(h) - self.low_resolution
        return (
            0.5 * np.sum(residual**2)
            + self.tv_weight * total_variation(h)
            + 0.5 * self.l2_weight * np.sum(h**2)
        )

    def subgradient(self, h):
        residual = self.forward(h) - self.low_resolution
        data = self.operator.adjoint(average_pool_adjoint(residual, self.stride))
        return data + self.tv_weight * total_variation_subgradient(h) + self.l2_weight * h

    def lipschitz(self, iterations=30, seed=0):
        """The smooth part's gradient Lipschitz constant ``||sum_l A_l^T D^T D A_l|| + mu``
        (power iteration)."""
        vector = np.random.default_rng(seed).standard_normal(self.operator.image_size)
        norm = 0.0
        for _ in range(iterations):
            image = self.operator.adjoint(average_pool_adjoint(self.forward(vector), self.stride))
            norm = np.linalg.norm(image)
            vector = image / max(norm, 1e-30)
        return norm + self.l2_weight

    def solve(self, initial, steps=200, learning_rate=1.0):
        """Subgradient descent ``h <- h - eta_t g_t`` with ``eta_t = learning_rate /
        (Lipschitz * sqrt(t + 1))`` (diminishing, as subgradient methods need).

        Returns:
            ``(h_best, objectives)``: the iterate of lowest objective (subgradient steps need not
            descend) and the objective at each of the ``steps + 1`` iterates.
        """
        steps = arguments.positive_int("steps", steps)
        learning_rate = arguments.positive_number("learning_rate", learning_rate)
        step = learning_rate / self.lipschitz()
        h = np.asarray(initial, np.float64).copy()
        best, best_value = h, self.objective(h)
        objectives = [best_value]
        for t in range(steps):
            h = h - step / np.sqrt(t + 1) * self.subgradient(h)
            value = self.objective(h)
            objectives.append(value)
            if value < best_value:
                best, best_value = h, value
        return best, np.asarray(objectives)


def random_roto_translations(num_augmentations, max_rotation=10.0, max_translation=4.0, seed=0):
    """``(angles, shifts)`` of ``num_augmentations`` uniform random roto-translations, the first
    the identity (so the plain Grad-CAM map is one of the ``g_l``)."""
    num_augmentations = arguments.positive_int("num_augmentations", num_augmentations)
    max_rotation = arguments.non_negative_number("max_rotation", max_rotation)
    max_translation = arguments.non_negative_number("max_translation", max_translation)
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-max_rotation, max_rotation, num_augmentations)
    shifts = rng.uniform(-max_translation, max_translation, (num_augmentations, 2))
    angles[0], shifts[0] = 0.0, 0.0
    return angles, shifts


AugmentedGradCAM = collections.namedtuple(
    "AugmentedGradCAM", ["heatmap", "objectives", "low_resolution"]
)


def augmented_grad_cam(
    model,
    image,
    num_augmentations=16,
    *,
    layer=None,
    class_index=None,
    max_rotation=10.0,
    max_translation=None,
    tv_weight=0.01,
    l2_weight=0.001,
    steps=100,
    learning_rate=1.0,
    seed=0,
):
    """Augmented Grad-CAM of one image: a full-resolution map from ``L`` augmented Grad-CAMs.

    Args:
        model, layer: as ``grad_cam``.
        image: one image ``(height, width, channels)``; its size must be a multiple of the
            feature maps' size.
        num_augmentations: ``L`` (the first augmentation is the identity).
        class_index: the class explained (default: the class predicted on ``image``), the same
            for every augmented copy.
        max_rotation: rotations drawn in ``[-max_rotation, max_rotation]`` degrees.
        max_translation: translations drawn in ``[-t, t]`` pixels per axis (default: one
            feature stride, so the copies sample every sub-stride offset).
        tv_weight, l2_weight: ``lambda`` and ``mu``, for maps scaled to a largest value of 1
            (all ``g_l`` are divided by their common maximum, so the weights do not depend on
            the network's score scale).
        steps, learning_rate: the subgradient solver's (``SuperResolutionProblem.solve``).
        seed: the augmentations' seed.

    Returns:
        ``AugmentedGradCAM(heatmap, objectives, low_resolution)``: the ``(height, width)`` map
        ``h*``, the objective at every step, and the ``(L, n, m)`` maps ``g_l`` (scaled).
        The solver starts from the plain Grad-CAM map (``g_1``) upsampled bilinearly.
    """
    image = np.asarray(image, np.float32)
    if image.ndim != 3:
        raise ValueError(
            "Argument `image` must be one image (height, width, channels). "
            f"Received: image.shape={image.shape}"
        )
    check_images(image[None])
    layer = feature_layer(model, layer)
    if class_index is None:
        class_index = int(np.argmax(model(image[None], training=False)[0]))
    height, width = image.shape[:2]
    if max_translation is None:
        max_translation = float(height // layer.output.shape[1])
    angles, shifts = random_roto_translations(
        num_augmentations, max_rotation, max_translation, seed
    )
    operator = WarpOperator((height, width), angles, shifts)
    maps = grad_cam(model, operator.apply(image), layer, class_index, upsample_to_image=False)
    maps = maps / max(float(maps.max()), 1e-12)
    problem = SuperResolutionProblem(operator, maps, tv_weight, l2_weight)
    initial = upsample(maps[:1], (height, width))[0]
    heatmap, objectives = problem.solve(initial, steps=steps, learning_rate=learning_rate)
    return AugmentedGradCAM(heatmap.astype(np.float32), objectives, maps)
