"""Instance segmentation: a Faster R-CNN with a mask branch in parallel with the box branch.

Course notes, "Instance Segmentation" (and the output ``{(x, y, h, w, l, S)_i}`` of "CNN for
Object Detection"): RoIs are extracted, classified and their boxes regressed, and inside each one
a semantic segmentation is performed by an added branch. The notes do not name it; this is Mask
R-CNN (He et al., 2017), compact: backbone -> RPN -> proposals -> RoIAlign -> Fast R-CNN box head
(as ``kerasnn.models.detection.FasterRCNN``), and beside it one or more mask branches, each a
pooling of the positive RoIs (``RoIAlign`` or, to show why RoIAlign exists, ``RoIPooling``) and a
``kerasnn.layers.MaskHead`` predicting an ``m x m`` mask per class, trained with
``kerasnn.losses.mask_loss`` on targets cropped from the instance masks
(``kerasnn.ops.masks.mask_targets``); at test time the mask of each detection's class is pasted
into the image (``kerasnn.ops.masks.paste_masks``). Training is approximate joint training of
the four detection losses and the mask losses, summed. ``MaskRCNN`` is a ``FasterRCNN``: the
backbone, RPN, proposals and box head, their losses and NMS are that class's.
"""

import keras
from keras import ops

from kerasnn import arguments, losses
from kerasnn.layers.detection import MaskHead
from kerasnn.layers.roi import RoIAlign, RoIPooling
from kerasnn.models.detection import FasterRCNN
from kerasnn.ops import masks as mask_ops
from kerasnn.ops import targets

MASK_POOLINGS = ("roi_align", "roi_pooling")


def _mask_pooling(kind, size, spatial_scale):
    if kind == "roi_align":  # the paper's: 2 x 2 bilinear samples per bin, no rounding
        return RoIAlign(size, spatial_scale, sampling_ratio=2, aligned=True, name=kind)
    return RoIPooling(size, spatial_scale, name=kind)  # Fast R-CNN's: rounded to cells


@keras.saving.register_keras_serializable(package="kerasnn")
class MaskRCNN(FasterRCNN):
    """Faster R-CNN with mask branches; see :func:`mask_rcnn`.

    ``call(images)`` returns the padded detections of ``kerasnn.ops.boxes.non_max_suppression``
    (``"boxes"``, ``"scores"``, ``"classes"`` from 0, ``"num_detections"``) plus ``"masks"``
    ``(batch, max_detections, height, width)``: the probabilities of the first mask branch's
    mask of each detection's class, pasted into the image (binarize at 0.5), and
    ``"masks_<pooling>"`` for every branch. ``fit`` takes ``kerasnn.data.instances.load``
    batches (``"image"``, ``"boxes"``, ``"labels"``, ``"masks"``) and reports the losses.
    """

    def __init__(self, backbone, num_classes, stride, anchor_scales=(12, 24),
                 aspect_ratios=(0.5, 1.0, 2.0), mask_poolings=("roi_align",), mask_roi_size=7,
                 mask_filters=64, mask_convs=2, rpn_filters=64, roi_size=5, head_units=128,
                 rois_per_image=32, rpn_samples=128, pre_nms_top_k=300, train_proposals=64,
                 test_proposals=50, max_detections=10, score_threshold=0.05, seed=0, **kwargs):
        mask_poolings = tuple(mask_poolings)
        if not mask_poolings:
            arguments.fail("mask_poolings", f"a non-empty sequence of {MASK_POOLINGS}",
                           mask_poolings)
        for kind in mask_poolings:
            arguments.one_of("mask_poolings", kind, MASK_POOLINGS)
        super().__init__(
            backbone, num_classes, tuple(backbone.input.shape[1:3]), stride, anchor_scales,
            aspect_ratios, rpn_filters=rpn_filters, roi_size=roi_size, head_units=head_units,
            rois_per_image=rois_per_image, rpn_samples=rpn_samples, pre_nms_top_k=pre_nms_top_k,
            train_proposals=train_proposals, test_proposals=test_proposals,
            max_detections=max_detections, score_threshold=score_threshold, seed=seed,
            extra_loss_names=tuple(f"mask_loss_{kind}" for kind in mask_poolings), **kwargs)
        self.mask_poolings = mask_poolings
        self.mask_roi_size = arguments.positive_int("mask_roi_size", mask_roi_size)
        self.mask_filters = mask_filters
        self.mask_convs = mask_convs
        self.mask_size = 2 * self.mask_roi_size
        self.mask_branches = {
            kind: (_mask_pooling(kind, mask_roi_size, 1.0 / stride),
                   MaskHead(self.num_classes, mask_filters, mask_convs, name=f"mask_head_{kind}"))
            for kind in self.mask_poolings}

    def mask_logits(self, features, rois, kind):
        """``(batch, R, m, m, num_classes)`` mask logits of one branch for pixel RoIs."""
        pooling, head = self.mask_branches[kind]
        return head(pooling(features, rois))

    def call(self, images, training=False):
        features = self.backbone(images, training=training)
        detections = self._detections(*self._feature_scores(features, training))
        channel = ops.one_hot(ops.maximum(detections["classes"], 0), self.num_classes)
        for kind in self.mask_poolings:
            mask_logits = self.mask_logits(features, detections["boxes"], kind)
            chosen = ops.sigmoid(ops.sum(mask_logits * channel[:, :, None, None, :], axis=-1))
            pasted = mask_ops.paste_masks(chosen, detections["boxes"], self.image_shape)
            detections[f"masks_{kind}"] = pasted
        detections["masks"] = detections[f"masks_{self.mask_poolings[0]}"]
        return detections

    def compute_losses(self, images, gt_boxes, gt_labels, gt_masks, training=True):
        """The four Faster R-CNN losses and one mask loss per branch (means)."""
        features = self.backbone(images, training=training)
        values, rois = self._feature_losses(features, gt_boxes, gt_labels, training)
        sampled = ops.stop_gradient(rois["rois"])
        # each RoI's instance: the true box of highest IoU (the one sample_rois labelled it by)
        boxes, _, valid = targets._prepare_truth(gt_boxes, gt_labels)
        _, _, matched = targets._match(sampled, boxes, valid)
        mask_targets = mask_ops.mask_targets(gt_masks, sampled, matched, self.mask_size)
        for kind in self.mask_poolings:
            values[f"mask_loss_{kind}"] = ops.mean(losses.mask_loss(
                rois["classes"], mask_targets, self.mask_logits(features, sampled, kind)))
        return values

    def _detector_losses(self, data, training):
        return self.compute_losses(data["image"], data["boxes"], data["labels"], data["masks"],
                                   training=training)

    def get_config(self):
        config = super().get_config()
        del config["image_shape"]  # the backbone's input size
        return {**config, "mask_poolings": list(self.mask_poolings),
                "mask_roi_size": self.mask_roi_size, "mask_filters": self.mask_filters,
                "mask_convs": self.mask_convs}


def mask_rcnn(backbone, num_classes, stride, **kwargs):
    """A Mask R-CNN-style instance segmenter (approximate joint training) on ``backbone``.

    Args:
        backbone: a ``keras.Model`` from images of a static size to a feature map of stride
            ``stride``.
        num_classes: object classes (background excluded).
        stride: input pixels per feature-map cell.
        **kwargs: :class:`MaskRCNN`'s other settings: ``mask_poolings`` (a sequence of
            ``"roi_align"`` / ``"roi_pooling"``, one mask branch each, trained side by side on
            the same RoIs), ``mask_roi_size`` (``s``; masks are ``2 s x 2 s``), ``mask_filters``,
            ``mask_convs``, and the Faster R-CNN settings (``anchor_scales``, ``aspect_ratios``,
            ``rois_per_image``, ``test_proposals``, ``max_detections``, ...).

    Returns:
        A :class:`MaskRCNN`; compile it with an optimizer only.
    """
    return MaskRCNN(backbone, num_classes, stride, **kwargs)
