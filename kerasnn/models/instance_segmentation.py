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
the four detection losses and the mask losses, summed.
"""

import keras
from keras import ops

from kerasnn import arguments, backend, losses
from kerasnn.layers.detection import MaskHead, ProposalLayer, RPNHead
from kerasnn.layers.roi import RoIAlign, RoIPooling
from kerasnn.models.detection import HEAD_VARIANCES, LOSS_NAMES
from kerasnn.ops import boxes as box_ops
from kerasnn.ops import masks as mask_ops
from kerasnn.ops import targets

MASK_POOLINGS = ("roi_align", "roi_pooling")


def _mask_pooling(kind, size, spatial_scale):
    if kind == "roi_align":  # the paper's: 2 x 2 bilinear samples per bin, no rounding
        return RoIAlign(size, spatial_scale, sampling_ratio=2, aligned=True, name=kind)
    return RoIPooling(size, spatial_scale, name=kind)  # Fast R-CNN's: rounded to cells


@keras.saving.register_keras_serializable(package="kerasnn")
class MaskRCNN(keras.Model):
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
        super().__init__(**kwargs)
        self.backbone = backbone
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.image_shape = arguments.image_shape("image_shape", backbone.input.shape[1:3], rank=2)
        self.stride = arguments.positive_number("stride", stride)
        self.mask_poolings = tuple(mask_poolings)
        if not self.mask_poolings:
            arguments.fail("mask_poolings", f"a non-empty sequence of {MASK_POOLINGS}",
                           mask_poolings)
        for kind in self.mask_poolings:
            arguments.one_of("mask_poolings", kind, MASK_POOLINGS)
        self.settings = dict(
            anchor_scales=tuple(anchor_scales), aspect_ratios=tuple(aspect_ratios),
            mask_roi_size=mask_roi_size, mask_filters=mask_filters, mask_convs=mask_convs,
            rpn_filters=rpn_filters, roi_size=roi_size, head_units=head_units,
            rois_per_image=rois_per_image, rpn_samples=rpn_samples, pre_nms_top_k=pre_nms_top_k,
            train_proposals=train_proposals, test_proposals=test_proposals,
            max_detections=max_detections, score_threshold=score_threshold, seed=seed)
        feature_shape = tuple(backbone.output.shape[1:3])
        self.anchors = box_ops.generate_anchors(feature_shape, stride, anchor_scales,
                                                aspect_ratios)
        self.rpn_head = RPNHead(len(anchor_scales) * len(aspect_ratios), filters=rpn_filters)
        self.train_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k,
                                                  train_proposals)
        self.test_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k, test_proposals)
        self.box_pooling = RoIAlign(roi_size, 1.0 / stride, sampling_ratio=2, aligned=True)
        self.box_head = keras.Sequential([
            keras.layers.Flatten(),
            keras.layers.Dense(head_units, activation="relu"),
            keras.layers.Dense(head_units, activation="relu"),
        ], name="box_head")
        self.class_logits = keras.layers.Dense(self.num_classes + 1, name="class_logits")
        self.box_deltas = keras.layers.Dense(
            4 * self.num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="box_deltas")
        self.mask_size = 2 * arguments.positive_int("mask_roi_size", mask_roi_size)
        self.mask_branches = {
            kind: (_mask_pooling(kind, mask_roi_size, 1.0 / stride),
                   MaskHead(self.num_classes, mask_filters, mask_convs, name=f"mask_head_{kind}"))
            for kind in self.mask_poolings}
        self.rois_per_image = arguments.positive_int("rois_per_image", rois_per_image)
        self.rpn_samples = arguments.positive_int("rpn_samples", rpn_samples)
        self.max_detections = arguments.positive_int("max_detections", max_detections)
        self.score_threshold = score_threshold
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_names = LOSS_NAMES + tuple(f"mask_loss_{kind}" for kind in self.mask_poolings)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in self.loss_names + ("loss",)}

    @property
    def metrics(self):
        """The losses' and the total loss's running means (reset by Keras each epoch)."""
        return list(self.trackers.values())

    def _box_branch(self, features, rois, training):
        batch, count = ops.shape(rois)[0], rois.shape[1]
        pooled = self.box_pooling(features, rois)
        pooled = ops.reshape(pooled, (batch * count,) + tuple(pooled.shape[2:]))
        hidden = self.box_head(pooled, training=training)
        logits = ops.reshape(self.class_logits(hidden), (batch, count, self.num_classes + 1))
        deltas = ops.reshape(self.box_deltas(hidden), (batch, count, self.num_classes, 4))
        return logits, deltas

    def mask_logits(self, features, rois, kind):
        """``(batch, R, m, m, num_classes)`` mask logits of one branch for pixel RoIs."""
        pooling, head = self.mask_branches[kind]
        return head(pooling(features, rois))

    def call(self, images, training=False):
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn_head(features)
        proposals, _, _ = self.test_proposal_layer(logits, deltas, self.anchors)
        class_logits, box_deltas = self._box_branch(features, proposals, training)
        scores = ops.softmax(class_logits, axis=-1)[..., 1:]
        boxes = box_ops.decode_deltas(box_deltas, proposals[:, :, None, :], HEAD_VARIANCES)
        boxes = box_ops.clip_to_image(boxes, self.image_shape)
        detections = box_ops.non_max_suppression(
            boxes, scores, max_detections_per_class=self.max_detections,
            max_detections=self.max_detections, iou_threshold=0.5,
            score_threshold=self.score_threshold)
        channel = ops.one_hot(ops.maximum(detections["classes"], 0), self.num_classes)
        for kind in self.mask_poolings:
            mask_logits = self.mask_logits(features, detections["boxes"], kind)
            chosen = ops.sigmoid(ops.sum(mask_logits * channel[:, :, None, None, :], axis=-1))
            pasted = mask_ops.paste_masks(chosen, detections["boxes"], self.image_shape)
            detections[f"masks_{kind}"] = pasted
        detections["masks"] = detections[f"masks_{self.mask_poolings[0]}"]
        return detections

    def compute_losses(self, images, gt_boxes, gt_labels, gt_masks, training=True):
        """The four Faster R-CNN losses and one mask loss per branch (unreduced means)."""
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn_head(features)
        rpn = targets.anchor_targets(self.anchors, gt_boxes, gt_labels, self.rpn_samples,
                                     image_shape=self.image_shape, seed=self.seed_generator)
        proposals, _, _ = self.train_proposal_layer(logits, deltas, self.anchors)
        rois = targets.sample_rois(proposals, gt_boxes, gt_labels, self.rois_per_image,
                                   variances=HEAD_VARIANCES, seed=self.seed_generator)
        sampled = ops.stop_gradient(rois["rois"])
        class_logits, box_deltas = self._box_branch(features, sampled, training)
        values = {
            "rpn_objectness_loss": losses.rpn_objectness_loss(rpn["objectness"], logits),
            "rpn_box_loss": losses.rpn_box_loss(rpn["objectness"], rpn["box_deltas"], deltas),
            "detection_class_loss": losses.detection_class_loss(rois["classes"], class_logits),
            "detection_box_loss": losses.detection_box_loss(rois["classes"], rois["box_deltas"],
                                                            box_deltas),
        }
        # each RoI's instance: the true box of highest IoU (the one sample_rois labelled it by)
        boxes, labels, valid = targets._prepare_truth(gt_boxes, gt_labels)
        _, _, matched = targets._match(sampled, boxes, valid)
        mask_targets = mask_ops.mask_targets(gt_masks, sampled, matched, self.mask_size)
        for kind in self.mask_poolings:
            values[f"mask_loss_{kind}"] = losses.mask_loss(
                rois["classes"], mask_targets, self.mask_logits(features, sampled, kind))
        return {name: ops.mean(value) for name, value in values.items()}

    def _losses_of(self, data, training):
        return self.compute_losses(data["image"], data["boxes"], data["labels"], data["masks"],
                                   training=training)

    def _track(self, values):
        values["loss"] = sum(values[name] for name in self.loss_names)
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        values = {}

        def total_loss():  # the separate losses are kept for the logs
            values.update(self._losses_of(data, training=True))
            return sum(values.values())

        backend.minimize(self, total_loss)
        return self._track(values)

    def test_step(self, data):
        return self._track(self._losses_of(data, training=False))

    def get_config(self):
        return {"backbone": keras.saving.serialize_keras_object(self.backbone),
                "num_classes": self.num_classes, "stride": self.stride,
                "mask_poolings": list(self.mask_poolings), "name": self.name,
                **{key: list(value) if isinstance(value, tuple) else value
                   for key, value in self.settings.items()}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


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
