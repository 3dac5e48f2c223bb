"""Region-based detectors: R-CNN, Fast R-CNN and Faster R-CNN.

Course notes, "Region Proposal", "R-CNN", "Fast R-CNN", "Faster R-CNN", "First stage:",
"Second stage" and "At test time".

- :class:`RCNN` (``rcnn``): every proposal is cropped from the *image*, warped to a fixed size and
  sent through the CNN on its own ("R-CNN"); a linear SVM per class scores the CNN's features
  (``kerasnn.losses.multiclass_hinge``) and a linear regressor refines the boxes. The CNN runs
  once per proposal, which is why it is slow.
- :class:`FastRCNN` (``fast_rcnn``): the CNN runs once per image; the externally given proposals
  (sliding windows, selective search, ...) are pooled from its feature map by RoIAlign, then FC
  layers, a softmax over classes + background and class-specific boxes ("Fast R-CNN").
- :class:`FasterRCNN` (``faster_rcnn``): Fast R-CNN whose proposals come from a region proposal
  network on the same feature map. Training is **approximate joint training** (all four losses
  summed, one optimizer step; proposals are constants of the second stage), torchvision's and
  Detectron's default; the paper's published results used the four-step alternating schedule of
  "Faster R-CNN Training" (not implemented here).

All three return padded detections ``{"boxes", "scores", "classes", "num_detections"}``
(``kerasnn.ops.boxes.non_max_suppression``'s layout, classes from 0), train with ``fit`` on the
batches of ``kerasnn.data.detection.load`` (``"image"``, pixel ``"boxes"``, ``"labels"`` padded
with -1; R-CNN and Fast R-CNN also take ``"proposals"``) and save to ``.keras``.
"""

import keras
from keras import ops

from kerasnn import arguments, backend, losses
from kerasnn.layers.detection import ProposalLayer, RPNHead
from kerasnn.layers.roi import RoIAlign
from kerasnn.ops import boxes as box_ops
from kerasnn.ops import targets

# Detectron's second-stage delta scaling (weights 10, 10, 5, 5).
HEAD_VARIANCES = (0.1, 0.1, 0.2, 0.2)
LOSS_NAMES = ("rpn_objectness_loss", "rpn_box_loss", "detection_class_loss",
              "detection_box_loss")
FAST_RCNN_LOSS_NAMES = ("detection_class_loss", "detection_box_loss")
RCNN_LOSS_NAMES = ("finetune_class_loss", "svm_hinge_loss", "detection_box_loss")


def sliding_windows(image_shape, sizes, aspect_ratios=(1.0,), stride=8):
    """Every window of the given sizes and height/width ratios on a grid of ``stride`` pixels
    that lies inside the image ("Sliding Window"): image-independent proposals.

    Args:
        image_shape: ``(height, width)``.
        sizes: window sizes (square root of the area) in pixels.
        aspect_ratios: height/width ratios.
        stride: pixels between window centres.

    Returns:
        ``(num_windows, 4)`` float32 NumPy array of pixel ``[y1, x1, y2, x2]`` windows.
    """
    import numpy as np

    height, width = arguments.image_shape("image_shape", image_shape, rank=2)
    stride = arguments.positive_number("stride", stride)
    grid = (max(1, int(height // stride)), max(1, int(width // stride)))
    windows = np.asarray(box_ops.generate_anchors(grid, stride, sizes, aspect_ratios))
    inside = ((windows[:, 0] >= -1e-3) & (windows[:, 1] >= -1e-3)
              & (windows[:, 2] <= height + 1e-3) & (windows[:, 3] <= width + 1e-3))
    if not inside.any():
        arguments.fail("sizes", f"windows that fit in a {height}x{width} image", sizes)
    return np.clip(windows[inside], 0, [height, width, height, width]).astype("float32")


class _Detector(keras.Model):
    """What the three detectors share: loss trackers, ``train_step``, decoding and NMS."""

    loss_names = ()

    def __init__(self, num_classes, image_shape, max_detections, score_threshold, seed,
                 extra_loss_names=(), **kwargs):
        super().__init__(**kwargs)
        # A subclass's own losses (the mask branches') are logged beside the class's.
        self.loss_names = type(self).loss_names + tuple(extra_loss_names)
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.image_shape = arguments.image_shape("image_shape", image_shape, rank=2)
        self.max_detections = arguments.positive_int("max_detections", max_detections)
        self.score_threshold = float(score_threshold)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in self.loss_names + ("loss",)}

    @property
    def metrics(self):
        """The losses' and the total loss's running means (reset by Keras each epoch)."""
        return list(self.trackers.values())

    def _decode(self, scores, box_deltas, proposals):
        """Class scores ``(batch, R, num_classes)`` and deltas ``(batch, R, num_classes, 4)`` of
        the proposals to per-class boxes in the image and their scores."""
        boxes = box_ops.decode_deltas(box_deltas, proposals[:, :, None, :], HEAD_VARIANCES)
        boxes = box_ops.clip_to_image(boxes, self.image_shape)
        # Padding proposals (empty boxes) never become detections.
        real = box_ops.area(proposals) > 0
        return boxes, ops.where(real[..., None], scores, ops.zeros_like(scores))

    def _score(self, inputs, training=False):
        """``(scores, box_deltas, proposals)`` of ``inputs`` (each detector's own)."""
        raise NotImplementedError

    def call(self, inputs, training=False):
        """Padded, per-class NMS detections ("At test time")."""
        return self._detections(*self._score(inputs, training))

    def _detections(self, scores, box_deltas, proposals):
        boxes, scores = self._decode(scores, box_deltas, proposals)
        return box_ops.non_max_suppression(
            boxes, scores, max_detections_per_class=self.max_detections,
            max_detections=self.max_detections, iou_threshold=0.5,
            score_threshold=self.score_threshold)

    def before_nms(self, inputs):
        """Every (proposal, class) candidate before non-maximum suppression, as NumPy-ready
        tensors ``{"boxes": (batch, R * num_classes, 4), "scores", "classes"}``: what NMS
        receives (to count the duplicates it removes)."""
        boxes, scores = self._decode(*self._score(inputs))
        batch, count = ops.shape(scores)[0], scores.shape[1]
        classes = ops.broadcast_to(ops.arange(self.num_classes, dtype="int32"),
                                   (batch, count, self.num_classes))
        rows = (batch, count * self.num_classes)
        return {"boxes": ops.reshape(boxes, rows + (4,)), "scores": ops.reshape(scores, rows),
                "classes": ops.reshape(classes, rows)}

    def _detector_losses(self, data, training):
        raise NotImplementedError

    def train_step(self, data):
        values = {}

        def total_loss():  # the separate losses are kept for the logs
            values.update(self._detector_losses(data, training=True))
            return sum(values.values())

        values["loss"] = backend.minimize(self, total_loss)
        return self._record(values)

    def test_step(self, data):
        values = self._detector_losses(data, training=False)
        values["loss"] = sum(values.values())
        return self._record(values)

    def _record(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def get_config(self):
        return {"num_classes": self.num_classes, "image_shape": self.image_shape,
                "max_detections": self.max_detections,
                "score_threshold": self.score_threshold, "seed": self.seed,
                "name": self.name, "trainable": self.trainable}

    def build(self, input_shape=None):
        # The sublayers build on the first call (their shapes follow from the backbone's).
        self.built = True

    def get_build_config(self):
        return {"image_shape": list(self.image_shape)}

    def build_from_config(self, config):
        # Build by calling on zeros: every sublayer (RPN, heads) creates its weights.
        self(self.example_inputs(1))

    def example_inputs(self, batch=1):
        """Zero inputs of ``batch`` images in the layout ``call`` takes (to build the model)."""
        return ops.zeros((batch,) + self.image_shape + (3,))


def _fc_head(units, name):
    return keras.Sequential([
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(units, activation="relu"),
    ], name=name)


def _box_regressor(num_classes, name="box_deltas"):
    return keras.layers.Dense(
        4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
        name=name)


def _split_inputs(inputs):
    if not isinstance(inputs, dict) or "image" not in inputs or "proposals" not in inputs:
        raise ValueError("Inputs must be a dict with `image` (batch, height, width, channels) "
                         "and `proposals` (batch, num_proposals, 4). Received: "
                         f"inputs={type(inputs).__name__}"
                         f"{sorted(inputs) if isinstance(inputs, dict) else ''}")
    return inputs["image"], ops.cast(inputs["proposals"], "float32")


@keras.saving.register_keras_serializable(package="kerasnn")
class FastRCNN(_Detector):
    """Fast R-CNN on externally given proposals; see :func:`fast_rcnn`.

    ``call({"image", "proposals"})`` returns padded detections; ``fit`` takes batches with
    ``"image"``, ``"proposals"`` ``(batch, P, 4)`` pixel boxes (zero rows are padding),
    ``"boxes"`` and ``"labels"`` and reports the two second-stage losses.
    """

    loss_names = FAST_RCNN_LOSS_NAMES

    def __init__(self, backbone, num_classes, image_shape, stride, roi_size=7, head_units=128,
                 rois_per_image=64, max_detections=20, score_threshold=0.05, seed=0, **kwargs):
        super().__init__(num_classes, image_shape, max_detections, score_threshold, seed,
                         **kwargs)
        self.backbone = backbone
        self.stride = arguments.positive_number("stride", stride)
        self.roi_size = roi_size
        self.head_units = arguments.positive_int("head_units", head_units)
        self.rois_per_image = arguments.positive_int("rois_per_image", rois_per_image)
        self.roi_align = RoIAlign(roi_size, 1.0 / stride, sampling_ratio=2, aligned=True)
        self.head = _fc_head(self.head_units, "fast_rcnn_head")
        self.class_logits = keras.layers.Dense(self.num_classes + 1, name="class_logits")
        self.box_deltas = _box_regressor(self.num_classes)

    def _second_stage(self, features, rois, training):
        # RoIAlign of the RoIs, FC layers, class logits and class-specific deltas ("Second stage").
        batch, count = ops.shape(rois)[0], rois.shape[1]
        pooled = self.roi_align(features, rois)  # (batch, R, s, s, C)
        pooled = ops.reshape(pooled, (batch * count,) + tuple(pooled.shape[2:]))
        hidden = self.head(pooled, training=training)
        logits = ops.reshape(self.class_logits(hidden), (batch, count, self.num_classes + 1))
        deltas = ops.reshape(self.box_deltas(hidden), (batch, count, self.num_classes, 4))
        return logits, deltas

    def _head_scores(self, features, proposals, training):
        class_logits, box_deltas = self._second_stage(features, proposals, training)
        scores = ops.softmax(class_logits, axis=-1)[..., 1:]  # background dropped
        return scores, box_deltas, proposals

    def _sample_rois(self, proposals, gt_boxes, gt_labels):
        return targets.sample_rois(proposals, gt_boxes, gt_labels, self.rois_per_image,
                                   variances=HEAD_VARIANCES, seed=self.seed_generator)

    def _head_losses(self, features, rois, training):
        """The two second-stage losses on ``rois`` from :meth:`_sample_rois`."""
        class_logits, box_deltas = self._second_stage(features, ops.stop_gradient(rois["rois"]),
                                                      training)
        return {
            "detection_class_loss": ops.mean(
                losses.detection_class_loss(rois["classes"], class_logits)),
            "detection_box_loss": ops.mean(losses.detection_box_loss(
                rois["classes"], rois["box_deltas"], box_deltas)),
        }

    def _score(self, inputs, training=False):
        images, proposals = _split_inputs(inputs)
        features = self.backbone(images, training=training)
        return self._head_scores(features, proposals, training)

    def _detector_losses(self, data, training):
        features = self.backbone(data["image"], training=training)
        rois = self._sample_rois(ops.cast(data["proposals"], "float32"), data["boxes"],
                                 data["labels"])
        return self._head_losses(features, rois, training)

    def example_inputs(self, batch=1):
        """Zero inputs of ``batch`` images in the layout ``call`` takes (to build the model)."""
        return {"image": ops.zeros((batch,) + self.image_shape + (3,)),
                "proposals": ops.zeros((batch, 1, 4))}

    def get_config(self):
        return {**super().get_config(),
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "stride": self.stride, "roi_size": self.roi_size,
                "head_units": self.head_units, "rois_per_image": self.rois_per_image}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="kerasnn")
class FasterRCNN(FastRCNN):
    """Faster R-CNN on a given backbone; see :func:`faster_rcnn`.

    ``call(images)`` returns padded detections ``{"boxes", "scores", "classes",
    "num_detections"}`` (``kerasnn.ops.boxes.non_max_suppression``'s layout, classes from 0).
    ``fit`` takes the batches of ``kerasnn.data.detection.load`` (dicts with ``"image"``,
    ``"boxes"`` in pixels and ``"labels"`` padded with -1) and reports the four losses.
    """

    loss_names = LOSS_NAMES

    def __init__(self, backbone, num_classes, image_shape, stride, anchor_scales,
                 aspect_ratios, rpn_filters=64, roi_size=7, head_units=128, rois_per_image=64,
                 rpn_samples=256, pre_nms_top_k=1000, train_proposals=300, test_proposals=100,
                 max_detections=20, score_threshold=0.05, seed=0, **kwargs):
        super().__init__(backbone, num_classes, image_shape, stride, roi_size=roi_size,
                         head_units=head_units, rois_per_image=rois_per_image,
                         max_detections=max_detections, score_threshold=score_threshold,
                         seed=seed, **kwargs)
        feature_shape = tuple(backbone.output.shape[1:3])
        self.anchor_scales = tuple(anchor_scales)
        self.aspect_ratios = tuple(aspect_ratios)
        self.anchors = box_ops.generate_anchors(feature_shape, stride, anchor_scales,
                                                aspect_ratios)
        self.rpn_filters = rpn_filters
        self.rpn_head = RPNHead(len(anchor_scales) * len(aspect_ratios), filters=rpn_filters)
        self.pre_nms_top_k = pre_nms_top_k
        self.train_proposals = train_proposals
        self.test_proposals = test_proposals
        self.train_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k,
                                                  train_proposals)
        self.test_proposal_layer = ProposalLayer(self.image_shape, pre_nms_top_k, test_proposals)
        self.rpn_samples = arguments.positive_int("rpn_samples", rpn_samples)

    def propose(self, images, num_proposals=None):
        """The RPN's proposals ``(boxes, scores, num_proposals)`` for ``images``, best first
        (``num_proposals`` overrides the test-time count)."""
        features = self.backbone(images, training=False)
        logits, deltas = self.rpn_head(features)
        layer = self.test_proposal_layer
        if num_proposals is not None:
            layer = ProposalLayer(self.image_shape, self.pre_nms_top_k, num_proposals)
        return layer(logits, deltas, self.anchors)

    def _score(self, images, training=False):
        return self._feature_scores(self.backbone(images, training=training), training)

    def _feature_scores(self, features, training):
        """``(scores, box_deltas, proposals)`` from the backbone's features: RPN, head."""
        logits, deltas = self.rpn_head(features)
        proposals, _, _ = self.test_proposal_layer(logits, deltas, self.anchors)
        return self._head_scores(features, proposals, training)

    def compute_losses(self, images, gt_boxes, gt_labels, training=True):
        """The four losses (course notes, "Faster R-CNN": "Training now involves 4 losses")."""
        features = self.backbone(images, training=training)
        return self._feature_losses(features, gt_boxes, gt_labels, training)[0]

    def _feature_losses(self, features, gt_boxes, gt_labels, training):
        """The four losses from the backbone's features, and the RoIs the head trained on."""
        logits, deltas = self.rpn_head(features)
        rpn = targets.anchor_targets(self.anchors, gt_boxes, gt_labels, self.rpn_samples,
                                     image_shape=self.image_shape, seed=self.seed_generator)
        proposals, _, _ = self.train_proposal_layer(logits, deltas, self.anchors)
        rois = self._sample_rois(proposals, gt_boxes, gt_labels)
        values = {
            "rpn_objectness_loss": ops.mean(
                losses.rpn_objectness_loss(rpn["objectness"], logits)),
            "rpn_box_loss": ops.mean(
                losses.rpn_box_loss(rpn["objectness"], rpn["box_deltas"], deltas)),
        }
        values.update(self._head_losses(features, rois, training))
        return values, rois

    def _detector_losses(self, data, training):
        return self.compute_losses(data["image"], data["boxes"], data["labels"], training)

    def example_inputs(self, batch=1):
        """Zero inputs of ``batch`` images in the layout ``call`` takes (to build the model)."""
        return ops.zeros((batch,) + self.image_shape + (3,))

    def get_config(self):
        return {**super().get_config(), "anchor_scales": list(self.anchor_scales),
                "aspect_ratios": list(self.aspect_ratios), "rpn_filters": self.rpn_filters,
                "rpn_samples": self.rpn_samples, "pre_nms_top_k": self.pre_nms_top_k,
                "train_proposals": self.train_proposals, "test_proposals": self.test_proposals}


@keras.saving.register_keras_serializable(package="kerasnn")
class RCNN(_Detector):
    """R-CNN on externally given proposals; see :func:`rcnn`.

    ``call({"image", "proposals"})`` returns padded detections. ``fit`` takes the batches of
    :class:`FastRCNN` and reports three losses, one per stage of the paper's pipeline:

    - ``finetune_class_loss``: the CNN fine-tuned on warped RoIs with a softmax over classes +
      background (cross-entropy, the paper's first stage);
    - ``svm_hinge_loss``: one linear SVM per class (and one for background) on the CNN's
      features, trained with ``kerasnn.losses.multiclass_hinge`` on features that are constants
      for it (``stop_gradient``): the SVMs do not change the CNN, as in the paper;
    - ``detection_box_loss``: class-specific linear box regression on the same constant features
      (the paper's bounding-box regression, smooth L1 here instead of ridge regression).

    The paper trains the three one after the other; here they are trained in the same steps,
    each on its own (stop-gradient) inputs. At test time the SVM scores, through a softmax,
    rank the detections.
    """

    loss_names = RCNN_LOSS_NAMES

    def __init__(self, feature_extractor, num_classes, image_shape, crop_size=32,
                 rois_per_image=32, margin=1.0, max_detections=20, score_threshold=0.05, seed=0,
                 **kwargs):
        super().__init__(num_classes, image_shape, max_detections, score_threshold, seed,
                         **kwargs)
        self.feature_extractor = feature_extractor
        self.crop_size = arguments.positive_int("crop_size", crop_size)
        self.rois_per_image = arguments.positive_int("rois_per_image", rois_per_image)
        self.margin = arguments.positive_number("margin", margin)
        # Warping a proposal to crop_size x crop_size is RoIAlign on the image itself.
        self.warp = RoIAlign(self.crop_size, 1.0, sampling_ratio=2, aligned=True)
        self.finetune_logits = keras.layers.Dense(self.num_classes + 1, name="finetune_logits")
        self.svm = keras.layers.Dense(self.num_classes + 1, name="svm")
        self.box_deltas = _box_regressor(self.num_classes)

    def _features(self, images, boxes, training):
        batch, count = ops.shape(boxes)[0], boxes.shape[1]
        crops = self.warp(images, boxes)  # (batch, R, crop, crop, channels)
        crops = ops.reshape(crops, (batch * count,) + tuple(crops.shape[2:]))
        return self.feature_extractor(crops, training=training), batch, count

    def _score(self, inputs, training=False):
        images, proposals = _split_inputs(inputs)
        features, batch, count = self._features(images, proposals, training)
        svm_scores = ops.reshape(self.svm(features), (batch, count, self.num_classes + 1))
        deltas = ops.reshape(self.box_deltas(features), (batch, count, self.num_classes, 4))
        return ops.softmax(svm_scores, axis=-1)[..., 1:], deltas, proposals

    def _detector_losses(self, data, training):
        rois = targets.sample_rois(ops.cast(data["proposals"], "float32"), data["boxes"],
                                   data["labels"], self.rois_per_image,
                                   variances=HEAD_VARIANCES, seed=self.seed_generator)
        features, batch, count = self._features(data["image"], ops.stop_gradient(rois["rois"]),
                                                training)
        classes = ops.reshape(rois["classes"], (-1,))
        used = ops.cast(classes >= 0, features.dtype)
        constant = ops.stop_gradient(features)
        finetune = keras.losses.sparse_categorical_crossentropy(
            ops.maximum(classes, 0), self.finetune_logits(features), from_logits=True)
        hinge = losses.multiclass_hinge(ops.maximum(classes, 0), self.svm(constant), self.margin)
        deltas = ops.reshape(self.box_deltas(constant), (batch, count, self.num_classes, 4))
        denominator = ops.maximum(ops.sum(used), 1.0)
        return {
            "finetune_class_loss": ops.sum(finetune * used) / denominator,
            "svm_hinge_loss": ops.sum(hinge * used) / denominator,
            "detection_box_loss": ops.mean(losses.detection_box_loss(
                rois["classes"], rois["box_deltas"], deltas)),
        }

    def example_inputs(self, batch=1):
        """Zero inputs of ``batch`` images in the layout ``call`` takes (to build the model)."""
        return {"image": ops.zeros((batch,) + self.image_shape + (3,)),
                "proposals": ops.zeros((batch, 1, 4))}

    def get_config(self):
        return {**super().get_config(),
                "feature_extractor": keras.saving.serialize_keras_object(self.feature_extractor),
                "crop_size": self.crop_size, "rois_per_image": self.rois_per_image,
                "margin": self.margin}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["feature_extractor"] = keras.saving.deserialize_keras_object(
            config["feature_extractor"])
        return cls(**config)


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


def fast_rcnn(backbone, num_classes, image_shape, stride, **kwargs):
    """A Fast R-CNN detector on externally given proposals ("Fast R-CNN").

    Args:
        backbone, num_classes, image_shape, stride: as for :func:`faster_rcnn`.
        **kwargs: :class:`FastRCNN`'s other settings (``roi_size``, ``head_units``,
            ``rois_per_image``, ``max_detections``, ``score_threshold``, ``seed``).

    Returns:
        A :class:`FastRCNN` called on ``{"image", "proposals"}``; compile it with an optimizer.
    """
    return FastRCNN(backbone, num_classes, image_shape, stride, **kwargs)


def rcnn(feature_extractor, num_classes, image_shape, crop_size=32, **kwargs):
    """An R-CNN pipeline: warped crops of each proposal -> CNN -> linear SVMs + box regression.

    Args:
        feature_extractor: a ``keras.Model`` from ``(batch, crop_size, crop_size, channels)``
            crops to ``(batch, features)`` vectors (the CNN).
        num_classes: object classes (background excluded).
        image_shape: ``(height, width)`` of the input images.
        crop_size: side of the warped crops (227 in the paper).
        **kwargs: :class:`RCNN`'s other settings (``rois_per_image``, ``margin``,
            ``max_detections``, ``score_threshold``, ``seed``).

    Returns:
        An :class:`RCNN` called on ``{"image", "proposals"}``; compile it with an optimizer.
    """
    return RCNN(feature_extractor, num_classes, image_shape, crop_size, **kwargs)


def window_classifier(window_size, num_classes, filters=(16, 32), units=64):
    """A window classifier for sliding-window detection ("Sliding Window").

    ``[3x3 conv ("valid") -> ReLU -> 2x2 max pooling] x len(filters) -> Flatten -> Dense(units,
    ReLU) -> Dense(num_classes + 1)`` logits (class 0 = background) of one ``window_size`` crop.
    Run it on every crop for the per-window loop; ``kerasnn.models.convolutionalize`` of it
    scores *every* window of a larger image in one pass, at a stride of ``2 ** len(filters)``
    pixels, with the same numbers (the convolutional implementation of sliding windows, as
    OverFeat); :func:`sliding_window_scores` does that over an image pyramid.

    Args:
        window_size: side of the square windows in pixels; the conv blocks must divide it
            exactly (18, 22, 26, ... with two blocks), so that windows sit on the pooling grid.
        num_classes: object classes (background excluded).
        filters: filters of each conv block.
        units: width of the hidden dense layer.

    Returns:
        A ``keras.Model`` from ``(batch, window_size, window_size, 3)`` crops to
        ``(batch, num_classes + 1)`` logits.
    """
    window_size = arguments.positive_int("window_size", window_size)
    size = window_size
    for _ in filters:
        size = (size - 2) // 2
    if size < 1 or window_size != _window_of(size, len(filters)):
        arguments.fail("window_size", "a size that the conv blocks divide exactly (e.g. 18, 22, "
                       "26 with 2 blocks)", window_size)
    layers = [keras.Input((window_size, window_size, 3))]
    for width in filters:
        layers += [keras.layers.Conv2D(width, 3, activation="relu"), keras.layers.MaxPooling2D()]
    layers += [keras.layers.Flatten(), keras.layers.Dense(units, activation="relu"),
               keras.layers.Dense(num_classes + 1, name="class_logits")]
    return keras.Sequential(layers, name="window_classifier")


def _window_of(size, blocks):
    for _ in range(blocks):
        size = size * 2 + 2
    return size


def sliding_window_scores(classifier, images, window_size, window_sizes):
    """Every multi-scale window of ``images`` with its class probabilities, by one
    convolutional pass of ``classifier`` per scale (an image pyramid).

    For a window size ``s`` the images are resized by ``window_size / s``, so that a
    ``window_size`` window of the resized image is an ``s`` window of the original; the
    classifier's stride ``t`` (``2 ** blocks``) becomes ``t * s / window_size`` pixels.

    Args:
        classifier: a fully convolutional window classifier: ``convolutionalize`` of a
            :func:`window_classifier`.
        images: ``(batch, height, width, channels)``.
        window_size: the classifier's window side.
        window_sizes: the window sides to detect, in original pixels.

    Returns:
        ``(boxes, probabilities)``: ``(batch, N, 4)`` pixel windows and ``(batch, N,
        num_classes + 1)`` softmax probabilities (class 0 = background).
    """
    images = ops.convert_to_tensor(images, "float32")
    height, width = images.shape[1], images.shape[2]
    stride = 2 ** sum(isinstance(layer, keras.layers.MaxPooling2D)
                      for layer in classifier.layers)
    all_boxes, all_probabilities = [], []
    for size in window_sizes:
        factor = window_size / size
        shape = (max(window_size, round(height * factor)), max(window_size, round(width * factor)))
        resized = ops.image.resize(images, shape) if shape != (height, width) else images
        logits = classifier(resized)
        rows, cols = logits.shape[1], logits.shape[2]
        step_y, step_x = stride * height / shape[0], stride * width / shape[1]
        y1 = ops.arange(rows, dtype="float32") * step_y
        x1 = ops.arange(cols, dtype="float32") * step_x
        grid_y, grid_x = ops.meshgrid(y1, x1, indexing="ij")
        side_y, side_x = window_size * height / shape[0], window_size * width / shape[1]
        boxes = ops.stack([grid_y, grid_x, grid_y + side_y, grid_x + side_x], axis=-1)
        batch = ops.shape(logits)[0]
        all_boxes.append(ops.broadcast_to(ops.reshape(boxes, (1, -1, 4)),
                                          (batch, rows * cols, 4)))
        all_probabilities.append(ops.softmax(ops.reshape(logits, (batch, rows * cols, -1))))
    return ops.concatenate(all_boxes, axis=1), ops.concatenate(all_probabilities, axis=1)
