"""YOLO: a one-stage detector, one regression from the pixels to the boxes and class scores.

Course notes, "YOLO": backbone -> grid of ``H x L`` cells -> ``B`` anchors per cell ->
``H x L x B x (5 + C)`` outputs (``kerasnn.layers.YOLOHead``), decoded and suppressed by NMS
(``kerasnn.ops.yolo``), trained with the v1 paper's sum-squared error (``kerasnn.losses``).
"""

import keras
import numpy as np
from keras import ops

from kerasnn import arguments, backend, losses
from kerasnn.layers.detection import YOLOHead
from kerasnn.models.localization import convolutional_base
from kerasnn.ops import yolo as yolo_ops


@keras.saving.register_keras_serializable(package="kerasnn")
class YOLO(keras.Model):
    """YOLO on a given backbone; see :func:`yolo`.

    ``call(images)`` returns padded detections ``{"boxes", "scores", "classes",
    "num_detections"}`` (``kerasnn.ops.boxes.non_max_suppression``'s layout, classes from 0);
    :meth:`raw_outputs` gives the head's ``(batch, H, L, B, 5 + C)``. ``fit`` and ``evaluate``
    take the batches of ``kerasnn.data.detection.load`` (dicts with ``"image"``, pixel
    ``"boxes"`` and ``"labels"`` padded with -1): the targets are encoded in the training step,
    so one data pipeline serves every grid and anchor set.
    """

    def __init__(self, backbone, num_classes, anchors, head_filters=None,
                 lambda_coord=losses.PAPER_YOLO_LAMBDA_COORD,
                 lambda_noobj=losses.PAPER_YOLO_LAMBDA_NOOBJ, max_detections=20,
                 iou_threshold=0.5, score_threshold=0.05, max_candidates_per_class=32, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.anchors = yolo_ops.check_anchors(anchors)
        self.image_shape = arguments.image_shape("image_shape", backbone.input.shape[1:3], rank=2)
        self.grid_shape = arguments.image_shape("grid_shape", backbone.output.shape[1:3], rank=2)
        self.head_filters = head_filters
        self.head = YOLOHead(len(self.anchors), self.num_classes, head_filters, name="yolo_head")
        self.lambda_coord = arguments.non_negative_number("lambda_coord", lambda_coord)
        self.lambda_noobj = arguments.non_negative_number("lambda_noobj", lambda_noobj)
        self.max_detections = arguments.positive_int("max_detections", max_detections)
        self.iou_threshold = arguments.probability("iou_threshold", iou_threshold)
        self.score_threshold = score_threshold
        self.max_candidates_per_class = arguments.positive_int(
            "max_candidates_per_class", max_candidates_per_class, allow_none=True)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        """The running mean of the loss (reset by Keras each epoch)."""
        return [self.loss_tracker]

    def raw_outputs(self, images, training=False):
        """The head's ``(batch, H, L, B, 5 + C)`` outputs ``[ty, tx, th, tw, to, logits]``."""
        return self.head(self.backbone(images, training=training))

    def call(self, images, training=False):
        return yolo_ops.detect(self.raw_outputs(images, training), self.anchors,
                               self.image_shape, self.max_detections, self.iou_threshold,
                               self.score_threshold, self.max_candidates_per_class)

    def compute_yolo_loss(self, images, gt_boxes, gt_labels, training=True):
        """The mean over the batch of ``losses.yolo_loss`` on the encoded targets."""
        targets = yolo_ops.encode_targets(gt_boxes, gt_labels, self.grid_shape,
                                          self.image_shape, self.anchors)
        outputs = self.raw_outputs(images, training=training)
        return ops.mean(losses.yolo_loss(targets, outputs, self.anchors, self.lambda_coord,
                                         self.lambda_noobj))

    def train_step(self, data):
        loss = backend.minimize(
            self, lambda: self.compute_yolo_loss(data["image"], data["boxes"], data["labels"]))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        loss = self.compute_yolo_loss(data["image"], data["boxes"], data["labels"],
                                      training=False)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "anchors": self.anchors.tolist(),
            "head_filters": self.head_filters,
            "lambda_coord": self.lambda_coord,
            "lambda_noobj": self.lambda_noobj,
            "max_detections": self.max_detections,
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
            "max_candidates_per_class": self.max_candidates_per_class,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def yolo(backbone, num_classes, anchors, **kwargs):
    """A YOLO detector on ``backbone``.

    Args:
        backbone: a ``keras.Model`` from images ``(batch, height, width, channels)`` of a static
            size to a feature map ``(batch, H, L, features)``: its cells are the grid's cells.
        num_classes: object classes (no background: the objectness covers it).
        anchors: ``(B, 2)`` anchor ``[height, width]`` as image fractions
            (``kerasnn.ops.yolo.anchor_priors``).
        **kwargs: :class:`YOLO`'s other settings (``head_filters``, ``lambda_coord``,
            ``lambda_noobj``, ``max_detections``, ``iou_threshold``, ``score_threshold``,
            ``max_candidates_per_class``: ``kerasnn.ops.yolo.detect``'s).

    Returns:
        A :class:`YOLO`; compile it with an optimizer only.
    """
    return YOLO(backbone, num_classes, anchors, **kwargs)


def grid_backbone(image_shape, grid_size, filters=(16, 32, 64, 64), name="backbone"):
    """A small CNN whose output map is ``grid_size x grid_size`` cells on square images.

    ``kerasnn.models.localization.convolutional_base`` (3x3 conv -> batch norm -> ReLU blocks)
    with one 2x2 max pooling per halving: ``log2(image / grid_size)`` poolings, the blocks past
    ``filters`` repeating its last width.

    Args:
        image_shape: ``(height, width)`` or ``(height, width, channels)`` (3 channels when
            omitted), ``height == width`` and ``height / grid_size`` a power of two.
        grid_size: ``H = L``, positive int.
        filters: filters of the blocks (the first block has no pooling).
    """
    shape = tuple(image_shape) + ((3,) if len(image_shape) == 2 else ())
    shape = arguments.image_shape("image_shape", shape)
    grid_size = arguments.positive_int("grid_size", grid_size)
    ratio = shape[0] // grid_size
    if shape[0] != shape[1] or ratio * grid_size != shape[0] or ratio & (ratio - 1):
        arguments.fail("grid_size", f"a power-of-two divisor of the square image's side "
                       f"{shape[0]} (image_shape={shape})", grid_size)
    poolings = int(np.log2(ratio))
    widths = tuple(filters)[: poolings + 1]
    widths = widths + (widths[-1],) * (poolings + 1 - len(widths))
    inputs = keras.Input(shape)
    return keras.Model(inputs, convolutional_base(inputs, widths, 1), name=name)
