"""Figures: the confusion matrix plot and image grids, and the one way every figure is saved.

The matrix itself is computed by ``kerasnn.metrics.confusion_matrix``.
"""

import numpy as np


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


def plot_confusion_matrix(
    matrix, path, *, class_names=None, normalize=True, title="Confusion matrix"
):
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
                axis.text(
                    j,
                    i,
                    str(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if colours[i, j] > 0.6 * colours.max() else "black",
                )
    axis.set_xticks(range(num_classes), names, rotation=45 if max(map(len, names)) > 2 else 0)
    axis.set_yticks(range(num_classes), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046, label="row fraction" if normalize else "count")
    return save_figure(figure, path)


def plot_image_grid(
    images, path, *, titles=None, columns=8, cmap=None, symmetric=False, title=None
):
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


def plot_heatmap_overlays(
    images, heatmaps, path, *, boxes=None, titles=None, columns=8, alpha=0.5, title=None
):
    """Save a grid of images with a heatmap (CAM, Grad-CAM) drawn over each.

    Args:
        images: ``(N, height, width, channels)`` in [0, 1].
        heatmaps: ``(N, height, width)``; each is scaled to its own [min, max] (jet colours).
        boxes: ``{legend: (N, 4) pixel boxes [y1, x1, y2, x2]}`` drawn as rectangles, one colour
            per entry (e.g. the true box and the box the heatmap gives).
        titles: one caption per image.
    """
    plt = pyplot()
    images = np.asarray(images, dtype=np.float32)
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    columns = min(columns, len(images))
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.7 * columns, 1.8 * rows), squeeze=False)
    colours = ("lime", "red", "cyan", "yellow")
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0, 1),
                    cmap="gray" if image.shape[-1] == 1 else None)
        axis.imshow(heatmaps[index], cmap="jet", alpha=alpha)
        for (label, box_array), colour in zip((boxes or {}).items(), colours):
            y1, x1, y2, x2 = np.asarray(box_array, np.float32)[index]
            axis.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                         edgecolor=colour, linewidth=1.2,
                                         label=label if index == 0 else None))
        if titles is not None:
            axis.set_title(str(titles[index]), fontsize=7)
    if boxes:
        figure.legend(loc="lower center", ncol=len(boxes), fontsize=7, frameon=False)
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_embeddings_2d(panels, labels, path, *, class_names=None, title=None):
    """Scatter features projected on their first two principal components, one panel each,
    coloured by class (siamese embeddings, autoencoder codes, raw pixels for comparison).

    Args:
        panels: ``{panel title: (N, ...) features}`` of the same ``N`` examples.
        labels: ``(N,)`` integer classes.
        class_names: legend names indexed by label (default: the labels).
    """
    plt = pyplot()
    labels = np.asarray(labels).reshape(-1)
    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), squeeze=False)
    for axis, (name, features) in zip(axes[0], panels.items()):
        features = np.asarray(features, dtype=np.float64).reshape(len(labels), -1)
        centred = features - features.mean(axis=0)
        _, _, directions = np.linalg.svd(centred, full_matrices=False)
        projected = centred @ directions[:2].T
        if projected.shape[1] < 2:  # one feature: spread it on a line
            projected = np.concatenate([projected, np.zeros_like(projected)], axis=1)
        for label in np.unique(labels):
            chosen = labels == label
            name_of = class_names[label] if class_names is not None else str(label)
            axis.scatter(*projected[chosen].T, s=8, alpha=0.7, label=name_of)
        axis.set_title(name, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, -1].legend(fontsize=7, markerscale=2, loc="best")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_detections(images, detections, path, *, truths=None, class_names=None, columns=6,
                    min_score=0.0, title=None, alpha=0.45):
    """Save a grid of images with their detections drawn (boxes, class, score; masks in colour).

    Args:
        images: ``(N, height, width, channels)`` in [0, 1].
        detections: one dict per image with ``"boxes"`` ``(n, 4)`` pixel ``[y1, x1, y2, x2]``,
            ``"classes"`` and ``"scores"`` ``(n,)``, optionally ``"masks"`` ``(n, height,
            width)`` (drawn filled, one colour per instance) and ``"num_detections"`` (the padded
            layout of ``kerasnn.ops.boxes.non_max_suppression``; negative classes are padding).
        truths: optional dicts with ``"boxes"`` (and ``"classes"``), drawn dashed in white.
        class_names: names of the class ids.
        min_score: detections scoring below it are not drawn.
    """
    plt = pyplot()
    images = np.asarray(images, dtype=np.float32)
    columns = min(columns, len(images))
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.3 * rows), squeeze=False)
    palette = plt.get_cmap("tab10")
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        image = images[index]
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else np.clip(image, 0, 1),
                    cmap="gray" if image.shape[-1] == 1 else None)
        for box in np.asarray((truths[index] if truths else {}).get("boxes", []),
                              np.float32).reshape(-1, 4):
            y1, x1, y2, x2 = box
            axis.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                         edgecolor="white", linestyle="--", linewidth=0.8))
        entry = detections[index]
        classes = np.asarray(entry["classes"]).reshape(-1)
        count = int(entry.get("num_detections", len(classes)))
        scores = np.asarray(entry["scores"]).reshape(-1)
        drawn = (classes >= 0) & (np.arange(len(classes)) < count) & (scores >= min_score)
        for k in np.flatnonzero(drawn):
            colour = palette(k % 10)
            if "masks" in entry:
                overlay = np.zeros(image.shape[:2] + (4,), np.float32)
                overlay[np.asarray(entry["masks"][k]) > 0.5] = colour[:3] + (alpha,)
                axis.imshow(overlay)
            y1, x1, y2, x2 = np.asarray(entry["boxes"][k], np.float32)
            axis.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                         edgecolor=colour, linewidth=1.2))
            name = class_names[classes[k]] if class_names is not None else str(classes[k])
            axis.text(x1, y1, f"{name} {scores[k]:.2f}", fontsize=6,
                      color="black", backgroundcolor=colour, va="bottom")
    if title:
        figure.suptitle(title)
    return save_figure(figure, path)


def plot_lines(x, series, path, *, xlabel, ylabel, title=None, log_x=False):
    """Save line plots of ``{legend: y values}`` against ``x`` on one set of axes."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5))
    for label, values in series.items():
        axis.plot(x[:len(values)], values, marker="o", label=label)
    if log_x:
        axis.set_xscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend()
    if title:
        axis.set_title(title)
    return save_figure(figure, path)


def grey_images(maps, top=None):
    """Maps ``(..., height, width)`` divided by ``top`` (default: their maximum) as grey RGB
    images ``(..., height, width, 3)``, to sit in one ``plot_image_grid`` with colour images;
    label maps use ``top = num_classes - 1`` so that a class keeps its grey in every panel."""
    maps = np.asarray(maps, dtype="float32")
    top = max(float(maps.max() if top is None else top), 1e-6)
    return np.repeat((maps / top)[..., None], 3, axis=-1)
