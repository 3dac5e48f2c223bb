"""Two-stage detectors: Faster R-CNN (backbone -> RPN -> proposals -> RoIAlign -> Fast R-CNN head).

Course notes, "Faster R-CNN", "First stage:", "Second stage" and "At test time". Training is
**approximate joint training** (all four losses summed, one optimizer step; proposals are
constants of the second stage), torchvision's and Detectron's default; the paper's published
results used the four-step alternating schedule of "Faster R-CNN Training" (not implemented here
yet).
"""

import keras
from keras import ops

from kerasnn import arguments, losses
from kerasnn.layers.detection import ProposalLayer, RPNHead
from kerasnn.layers.roi import RoIAlign
from kerasnn.ops import boxes as box_ops
from kerasnn.ops import targets

# Detectron's second-stage delta scaling (weights 10, 10, 5, 5).
HEAD_VARIANCES = (0.1, 0.1, 0.2, 0.2)
LOSS_NAMES = ("rpn_objectness_loss", "rpn_box_loss", "detection_class_loss",
              "detection_box_loss")


class FasterRCNN(keras.Model):
    """Faster R-CNN on a given backbone; see :func:`faster_rcnn`.

    ``call(images)`` returns padded detections ``{"boxes", "scores", "classes",
    "num_detections"}`` (``kerasnn.ops.boxes.non_max_suppression``'s layout, classes from 0).
    ``fit`` takes the batches of ``kerasnn.data.detection.load`` (dicts with ``"image"``,
    ``"boxes"`` in pixels and ``"labels"`` padded with -1) and reports the four losses.
    """

    def __init__(self, backbone, num_classes, image_shape, stride, anchor_scales,
                 aspect_ratios, rpn_filters=64, roi_size=7, head_units=128, rois_per_image=64,
                 rpn_samples=256, pre_nms_top_k=1000, train_proposals=300, test_proposals=100,
                 max_detections=20, score_threshold=0.05, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.image_shape = arguments.image_shape("image_shape", image_shape, rank=2)
        self.stride = arguments.positive_number("stride", stride)
        feature_shape = tuple(backbone.output.shape[1:3])
        self.anchors = box_ops.generate_anchors(feature_shape, stride, anchor_scales,
                                                aspect_ratios)
        self.rpn_head = RPNHead(len(anchor_scales) * len(aspect_ratios), filters=rpn_filters)
        self.train_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k,
                                                  train_proposals)
        self.test_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k, test_proposals)
        self.roi_align = RoIAlign(roi_size, 1.0 / stride, sampling_ratio=2, aligned=True)
        self.head = keras.Sequential([
            keras.layers.Flatten(),
            keras.layers.Dense(head_units, activation="relu"),
            keras.layers.Dense(head_units, activation="relu"),
        ], name="fast_rcnn_head")
        self.class_logits = keras.layers.Dense(self.num_classes + 1, name="class_logits")
        self.box_deltas = keras.layers.Dense(
            4 * self.num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="box_deltas")
        self.rois_per_image = arguments.positive_int("rois_per_image", rois_per_image)
        self.rpn_samples = arguments.positive_int("rpn_samples", rpn_samples)
        self.max_detections = arguments.positive_int("max_detections", max_detections)
        self.score_threshold = score_threshold
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES + ("loss",)}

    @property
    def metrics(self):
        """The four losses' and the total loss's running means (reset by Keras each epoch)."""
        return list(self.trackers.values())

    def _second_stage(self, features, rois, training):
        # RoIAlign of the RoIs, FC layers, class logits and class-specific deltas ("Second stage").
        batch, count = ops.shape(rois)[0], rois.shape[1]
        pooled = self.roi_align(features, rois)  # (batch, R, s, s, C)
        pooled = ops.reshape(pooled, (batch * count,) + tuple(pooled.shape[2:]))
        hidden = self.head(pooled, training=training)
        logits = ops.reshape(self.class_logits(hidden), (batch, count, self.num_classes + 1))
        deltas = ops.reshape(self.box_deltas(hidden), (batch, count, self.num_classes, 4))
        return logits, deltas

    def call(self, images, training=False):
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn_head(features)
        proposals, _, _ = self.test_proposal_layer(logits, deltas, self.anchors)
        class_logits, box_deltas = self._second_stage(features, proposals, training)
        scores = ops.softmax(class_logits, axis=-1)[..., 1:]  # background dropped
        boxes = box_ops.decode_deltas(box_deltas, proposals[:, :, None, :], HEAD_VARIANCES)
        boxes = box_ops.clip_to_image(boxes, self.image_shape)
        return box_ops.non_max_suppression(
            boxes, scores, max_detections_per_class=self.max_detections,
            max_detections=self.max_detections, iou_threshold=0.5,
            score_threshold=self.score_threshold)

    def compute_losses(self, images, gt_boxes, gt_labels, training=True):
        """The four losses (course notes, "Faster R-CNN": "Training now involves 4 losses")."""
        features = self.backbone(images, training=training)
        logits, deltas = self.rpn_head(features)
        rpn = targets.anchor_targets(self.anchors, gt_boxes, gt_labels, self.rpn_samples,
                                     image_shape=self.image_shape, seed=self.seed_generator)
        proposals, _, _ = self.train_proposal_layer(logits, deltas, self.anchors)
        rois = targets.sample_rois(proposals, gt_boxes, gt_labels, self.rois_per_image,
                                   variances=HEAD_VARIANCES, seed=self.seed_generator)
        class_logits, box_deltas = self._second_stage(features, ops.stop_gradient(rois["rois"]),
                                                      training)
        values = {
            "rpn_objectness_loss": losses.rpn_objectness_loss(rpn["objectness"], logits),
            "rpn_box_loss": losses.rpn_box_loss(rpn["objectness"], rpn["box_deltas"], deltas),
            "detection_class_loss": losses.detection_class_loss(rois["classes"], class_logits),
            "detection_box_loss": losses.detection_box_loss(rois["classes"], rois["box_deltas"],
                                                            box_deltas),
        }
        return {name: ops.mean(value) for name, value in values.items()}

    def train_step(self, data):
        # TensorFlow's tape: keras.ops has no backend-neutral gradient (DESIGN.md allows it here
        # the same way kerasnn.backend does).
        import tensorflow as tf

        with tf.GradientTape() as tape:
            values = self.compute_losses(data["image"], data["boxes"], data["labels"])
            total = sum(values.values())
        variables = self.trainable_variables
        gradients = tape.gradient(total, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, variables) if g is not None])
        values["loss"] = total
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def faster_rcnn(backbone, num_classes, image_shape, stride, anchor_scales=(16, 32, 64),
                aspect_ratios=(0.5, 1.0, 2.0), **kwargs):
    """A Faster R-CNN detector (approximate joint training) on ``backbone``.

    Args:
        backbone: a ``keras.Model`` from images ``(batch, height, width, channels)`` to a feature
            map ``(batch, height / stride, width / stride, features)`` with a static size.
        num_classes: object classes (background excluded).
        image_shape: ``(height, width)`` of the input images.
        stride: input pixels per feature-map cell.
        anchor_scales, aspect_ratios: ``generate_anchors``' anchor sizes and height/width ratios.
        **kwargs: :class:`FasterRCNN`'s other settings (``rois_per_image``, ``test_proposals``,
            ``max_detections``, ``score_threshold``, ...).

    Returns:
        A :class:`FasterRCNN`; compile it with an optimizer only.
    """
    return FasterRCNN(backbone, num_classes, image_shape, stride, anchor_scales, aspect_ratios,
                      **kwargs)
