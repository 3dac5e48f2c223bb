"""Instance masks inside boxes: mask targets cropped with RoIAlign, masks pasted back.

Course notes, "Instance Segmentation": inside each RoI, extracted, classified and regressed, a
semantic segmentation is performed, a branch in parallel with the box recognition. The notes
never name Mask R-CNN (He et al., 2017) nor RoIAlign; from the paper: the mask branch predicts a
small ``m x m`` mask per class in the RoI's frame (28 x 28 there), its targets are the true
instance masks cropped and resized to the RoI (the RoI's intersection with its matched instance),
and at test time the predicted ``m x m`` probabilities are resized to the box and pasted into the
image, then binarized at 0.5.

Both directions use the same frame: an RoI ``[y1, x1, y2, x2]`` is divided into ``m x m`` bins,
bin ``(i, j)`` covering ``[y1 + i * h / m, y1 + (i + 1) * h / m)`` (and likewise along x), with
pixel ``(r, c)`` of the image the unit square centred at ``(r + 0.5, c + 0.5)``
(``kerasnn.layers.roi``'s ``aligned=True`` convention).
"""

from keras import ops

from kerasnn import arguments
from kerasnn.layers.roi import roi_align


def _float(value):
    return ops.cast(ops.convert_to_tensor(value), "float32")


def mask_targets(instance_masks, rois, matched, mask_size, threshold=0.5):
    """The mask branch's targets: each RoI's matched instance mask, cropped and resized.

    ``RoIAlign(aligned=True, sampling_ratio=2)`` of the binary instance masks (one channel per
    instance) inside each RoI at ``mask_size x mask_size``, the matched instance's channel kept,
    binarized at ``threshold`` (Mask R-CNN's targets are binary). Bin ``(i, j)`` is the mean of
    2 x 2 bilinear samples of the instance mask at the bin's sub-centres.

    Args:
        instance_masks: ``(batch, G, height, width)`` binary masks of the true instances
            (padding instances all 0).
        rois: ``(batch, R, 4)`` pixel boxes ``[y1, x1, y2, x2]``.
        matched: ``(batch, R)`` int index of each RoI's true instance (any valid index for
            RoIs whose target is unused).
        mask_size: ``m``, positive int (or ``(m_y, m_x)``).
        threshold: binarization threshold in ``[0, 1]``.

    Returns:
        ``(batch, R, m, m)`` float32 targets in ``{0, 1}``.
    """
    threshold = arguments.probability("threshold", threshold)
    masks = _float(instance_masks)
    if len(masks.shape) != 4:
        arguments.shape_error("instance_masks", "(batch, G, height, width)", masks.shape)
    rois = _float(rois)
    matched = ops.cast(ops.convert_to_tensor(matched), "int32")
    if len(matched.shape) != 2:
        arguments.shape_error("matched", "(batch, R)", matched.shape)
    crops = roi_align(ops.transpose(masks, (0, 2, 3, 1)), rois, mask_size, 1.0,
                      sampling_ratio=2, aligned=True)  # (batch, R, m, m, G)
    one_hot = ops.one_hot(matched, masks.shape[1], dtype="float32")[:, :, None, None, :]
    chosen = ops.sum(crops * one_hot, axis=-1)
    return ops.cast(chosen >= threshold, "float32")


def _paste_weights(start, end, mask_cells, image_cells):
    """``(batch, N, image_cells, mask_cells)`` bilinear weights of the mask cells at each image
    pixel centre along one axis, zero for pixel centres outside ``[start, end]``."""
    centres = ops.arange(image_cells, dtype="float32") + 0.5  # (P,)
    extent = ops.maximum(end - start, 1e-6)[..., None]
    # position in mask cells, cell j centred at j + 0.5 of the mask's frame; clamped at the edges
    position = (centres - start[..., None]) / extent * mask_cells - 0.5  # (batch, N, P)
    inside = ops.logical_and(centres >= start[..., None], centres <= end[..., None])
    position = ops.clip(position, 0.0, mask_cells - 1.0)
    cells = ops.arange(mask_cells, dtype="float32")
    weights = ops.relu(1.0 - ops.abs(position[..., None] - cells))  # tent: bilinear
    return weights * ops.cast(inside, "float32")[..., None]


def paste_masks(masks, boxes, image_shape):
    """Paste ``m x m`` mask probabilities into the image at their boxes (Mask R-CNN's test step).

    Each image pixel whose centre lies inside a box samples the box's mask bilinearly (the mask
    resized to the box; positions past the outer cell centres take the edge cells' values);
    pixels outside the box get 0. Separable: two small matrix products per mask.

    Args:
        masks: ``(batch, N, m_y, m_x)`` probabilities (or logits: the interpolation is linear).
        boxes: ``(batch, N, 4)`` pixel ``[y1, x1, y2, x2]``.
        image_shape: ``(height, width)``.

    Returns:
        ``(batch, N, height, width)`` float32; binarize at 0.5 for instance masks.

    Example:

    >>> import numpy as np
    >>> pasted = paste_masks(np.ones((1, 1, 2, 2)), [[[1.0, 2.0, 3.0, 4.0]]], (4, 5))
    >>> np.asarray(pasted[0, 0]).astype(int).tolist()
    [[0, 0, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]]
    """
    height, width = arguments.image_shape("image_shape", image_shape, rank=2)
    masks = _float(masks)
    boxes = _float(boxes)
    if len(masks.shape) != 4:
        arguments.shape_error("masks", "(batch, N, m_y, m_x)", masks.shape)
    if len(boxes.shape) != 3 or boxes.shape[-1] != 4:
        arguments.shape_error("boxes", "(batch, N, 4)", boxes.shape)
    rows = _paste_weights(boxes[..., 0], boxes[..., 2], masks.shape[2], height)  # (b, N, H, my)
    cols = _paste_weights(boxes[..., 1], boxes[..., 3], masks.shape[3], width)  # (b, N, W, mx)
    return ops.matmul(ops.matmul(rows, masks), ops.transpose(cols, (0, 1, 3, 2)))
