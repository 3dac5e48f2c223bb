"""Figures: the confusion matrix and image grids, and the one way every figure is saved.

Course section "Confusion Matrix": entry ``(i, j)`` counts the examples of class ``i`` that the
model classified as class ``j``; a perfect classifier has everything on the diagonal.
"""

import numpy as np


def confusion_matrix(labels, predictions, num_classes=None):
    """The exact confusion matrix: ``matrix[i, j]`` = number of examples of class ``i``
    predicted as class ``j``.

    Args:
        labels: ``(N,)`` true class ids.
        predictions: ``(N,)`` predicted class ids, or ``(N, num_classes)`` scores / posteriors
            (their argmax is the prediction).
        num_classes: matrix size (default: one more than the largest id seen).

    Returns:
        ``(num_classes, num_classes)`` int64 array.
    """
    labels = np.asarray(labels).reshape(-1)
    predictions = np.asarray(predictions)
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=-1)
    predictions = predictions.reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"`labels` and `predictions` must hold the same number of examples; received "
            f"{labels.shape[0]} and {predictions.shape[0]}."
        )
    if labels.size and min(labels.min(), predictions.min()) < 0:
        raise ValueError("Class ids must be non-negative.")
    largest = int(max(labels.max(initial=-1), predictions.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = largest
    elif largest > num_classes:
        raise ValueError(f"Class id {largest - 1} is out of range for num_classes={num_classes}.")
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend: figures go to files, no screen is needed.

    Imported on first use, so that importing kerasnn does not load matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path):
    """Lay out, save (110 dpi) and close ``figure``; returns ``path``."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot().close(figure)
    return path


def plot_confusion_matrix(matrix, path, *, class_names=None, normalize=True, title="Confusion matrix"):
    """Save the confusion matrix as a heatmap (rows: true class, columns: predicted class).

    With ``normalize=True`` the colours are row fractions (per-class recall) and the cells show
    the counts.
    """
    plt = pyplot()
    matrix = np.asarray(matrix)
    num_classes = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    colours = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    size = max(4.0, 0.5 * num_classes + 2)
    figure, axis = plt.subplots(figsize=(size, size * 0.9))
    image = axis.imshow(colours, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for i in range(num_classes):
        for j in range(num_classes):
            if matrix[i, j]:
                axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                          color="white" if colours[i, j] > 0.6 * colours.max() else "black")
    axis.set_xticks(range(num_classes), names, rotation=45 if max(map(len, names)) > 2 else 0)
    axis.set_yticks(range(num_classes), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046, label="row fraction" if normalize else "count")
    return save_figure(figure, path)


def plot_image_grid(images, path, *, titles=None, columns=8, cmap=None, symmetric=False, title=None):
    """Save a grid of images ``(N, height, width, channels)``.

    Args:
        titles: one caption per image.
        cmap: colour map of single-channel images (default grey, or red-blue when ``symmetric``).
        symmetric: colour scale symmetric around 0 (for weights such as class templates); each
            image gets its own scale.
    """
    plt = pyplot()
    images = np.asarray(images, dtype=np.float32)
    columns = min(columns, len(images))
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.6 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        if symmetric:
            limit = np.abs(image).max() or 1.0
            if image.shape[-1] == 1:
                axis.imshow(image[..., 0], cmap=cmap or "RdBu_r", vmin=-limit, vmax=limit)
            else:  # colour templates: map [-limit, limit] to [0, 1] per channel
                axis.imshow((image / limit + 1) / 2)
        elif image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap=cmap or "gray", vmin=0, vmax=1)
        else:
            axis.imshow(np.clip(image, 0, 1))
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=8)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)
