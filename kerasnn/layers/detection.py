"""Detection layers: the region proposal network's head and its proposal layer (two-stage
detection), YOLO's head and the mask head of instance segmentation.

Course notes, "Faster R-CNN" and "At test time" / "First stage": a 3x3 convolution slides over
the backbone's feature map; two sibling 1x1 convolutions give, for each of the ``k`` anchors of
every location, an objectness score and 4 box refinements; the refined anchors are clipped,
ranked by objectness, suppressed by NMS and the best ~300 become the regions of interest of the
second stage (Fast R-CNN).

Anchor order everywhere is ``kerasnn.ops.boxes.generate_anchors``' order: row-major over the
feature map, then the ``k`` anchors of a location.

YOLO: one convolutional output of ``H x L x B x (5 + C)`` over the grid.

Course notes, "YOLO": each of the ``H x L`` grid cells holds ``B`` anchors, and for each one the
network predicts the offsets of the base box, an objectness score and the class scores, all in
one forward pass. ``kerasnn.ops.yolo`` documents the channel layout and decodes it.

Mask head: a small FCN on each RoI's pooled features.

Course notes, "Instance Segmentation": inside each RoI, extracted, classified and regressed, a
semantic segmentation is performed, "a branch for predicting an object mask in parallel with the
existing BB recognition task". The notes never name Mask R-CNN; its head (He et al., 2017,
figure 4) is a stack of ``3 x 3`` convolutions on the RoIAlign features, a ``2 x 2`` stride-2
transposed convolution and a ``1 x 1`` convolution with one output per class: an ``m x m`` mask
**per class**, each a sigmoid (no competition between classes; the classification branch picks
the class whose mask is used).
"""

import keras
from keras import ops

from kerasnn import arguments
from kerasnn.ops import boxes as box_ops


@keras.saving.register_keras_serializable(package="kerasnn")
class RPNHead(keras.layers.Layer):
    """Region proposal network head (Faster R-CNN, Ren et al. 2015).

    Course notes, "Faster R-CNN": an intermediate ``3 x 3`` convolution with ``filters`` channels
    (256 in the notes) and ReLU, then two sibling ``1 x 1`` convolutions: the *cls* branch and the
    *reg* branch with ``4k`` box refinements ``[dy, dx, dh, dw]`` (``kerasnn.ops.boxes``' delta
    convention) per location. The notes' cls branch gives ``2k`` two-class softmax scores; this
    layer gives the equivalent ``k`` logits of a sigmoid (the paper's footnote: "for simplicity
    we implement the cls layer as a two-class softmax ... alternatively one may use logistic
    regression to produce k scores"), which halves the branch.

    Args:
        num_anchors: ``k``, anchors per location (scales x aspect ratios), positive int.
        filters: channels of the intermediate convolution, positive int (default 256).
        kernel_initializer: initializer of the three convolutions (default: normal with
            standard deviation 0.01, as the paper).
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        features: ``(batch, H, W, channels)`` backbone feature map.

    Returns:
        Tuple ``(objectness_logits, box_deltas)``: ``(batch, H * W * k)`` logits and
        ``(batch, H * W * k, 4)`` deltas, in ``generate_anchors``' order.

    Example:

    >>> head = RPNHead(num_anchors=9, filters=32)
    >>> logits, deltas = head(keras.ops.zeros((2, 4, 5, 16)))
    >>> tuple(logits.shape), tuple(deltas.shape)
    ((2, 180), (2, 180, 4))
    """

    def __init__(self, num_anchors, filters=256, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.num_anchors = arguments.positive_int("num_anchors", num_anchors)
        self.filters = arguments.positive_int("filters", filters)
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomNormal(stddev=0.01)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        conv = dict(kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
        self.conv = keras.layers.Conv2D(self.filters, 3, padding="same", activation="relu",
                                        name="conv", **conv)
        self.objectness = keras.layers.Conv2D(self.num_anchors, 1, name="objectness", **conv)
        self.box_deltas = keras.layers.Conv2D(4 * self.num_anchors, 1, name="box_deltas", **conv)

    def build(self, features_shape):
        self._check_shape(features_shape)
        self.conv.build(features_shape)
        hidden = tuple(features_shape[:3]) + (self.filters,)
        self.objectness.build(hidden)
        self.box_deltas.build(hidden)
        self.built = True

    @staticmethod
    def _check_shape(features_shape):
        if len(features_shape) != 4:
            arguments.shape_error("features", "(batch, height, width, channels)", features_shape)

    def call(self, features):
        hidden = self.conv(features)
        batch = ops.shape(features)[0]
        count = self.compute_output_shape(features.shape)[0][1]
        count = -1 if count is None else count  # static when the map's size is
        logits = ops.reshape(self.objectness(hidden), (batch, count))
        deltas = ops.reshape(self.box_deltas(hidden), (batch, count, 4))
        return logits, deltas

    def compute_output_shape(self, features_shape):
        self._check_shape(features_shape)
        _, height, width, _ = features_shape
        count = None if height is None or width is None else height * width * self.num_anchors
        return (features_shape[0], count), (features_shape[0], count, 4)

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_anchors": self.num_anchors,
            "filters": self.filters,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config


def propose(
    objectness_logits,
    box_deltas,
    anchors,
    image_shape,
    pre_nms_top_k=2000,
    post_nms_top_k=300,
    iou_threshold=0.7,
    min_size=1e-3,
    variances=None,
):
    """Functional proposal layer; see :class:`ProposalLayer` for the steps."""
    height, width = arguments.image_shape("image_shape", image_shape, rank=2)
    logits = ops.cast(ops.convert_to_tensor(objectness_logits), "float32")
    deltas = ops.cast(ops.convert_to_tensor(box_deltas), "float32")
    anchors = ops.cast(ops.convert_to_tensor(anchors), "float32")
    _check_proposal_shapes(logits.shape, deltas.shape, anchors.shape)
    num_anchors = logits.shape[1]
    boxes = box_ops.decode_deltas(deltas, anchors, variances)
    boxes = box_ops.clip_to_image(boxes, (height, width))
    tiny = ops.logical_or(boxes[..., 2] - boxes[..., 0] < min_size,
                          boxes[..., 3] - boxes[..., 1] < min_size)
    scores = ops.where(tiny, -float("inf"), ops.sigmoid(logits))
    candidates = min(pre_nms_top_k, num_anchors)
    top_scores, top = ops.top_k(scores, k=candidates, sorted=True)
    top_boxes = ops.take_along_axis(boxes, top[..., None], axis=1)
    kept = box_ops.non_max_suppression(
        top_boxes,
        top_scores[..., None],
        max_detections_per_class=post_nms_top_k,
        max_detections=post_nms_top_k,
        iou_threshold=iou_threshold,
    )
    # Proposals are inputs of the second stage, not functions of the RPN's weights (the paper
    # and torchvision do not back-propagate through the box coordinates of RoI pooling).
    return (
        ops.stop_gradient(kept["boxes"]),
        ops.stop_gradient(kept["scores"]),
        kept["num_detections"],
    )


def _check_proposal_shapes(logits_shape, deltas_shape, anchors_shape):
    logits_shape, deltas_shape = tuple(logits_shape), tuple(deltas_shape)
    anchors_shape = tuple(anchors_shape)
    if len(logits_shape) != 2 or logits_shape[1] is None:
        arguments.shape_error("objectness_logits", "(batch, num_anchors), num_anchors static",
                              logits_shape)
    if len(deltas_shape) != 3 or deltas_shape[1:] != (logits_shape[1], 4):
        arguments.shape_error("box_deltas", f"(batch, {logits_shape[1]}, 4)", deltas_shape)
    if len(anchors_shape) not in (2, 3) or anchors_shape[-2:] != (logits_shape[1], 4):
        arguments.shape_error("anchors", f"({logits_shape[1]}, 4) or (batch, {logits_shape[1]}, 4)",
                              anchors_shape)


@keras.saving.register_keras_serializable(package="kerasnn")
class ProposalLayer(keras.layers.Layer):
    """Region proposals from the RPN's outputs, a fixed number per image (static shapes).

    Course notes, "At test time" and "First stage": take the anchors' refined boxes, keep the best
    by objectness, suppress overlaps and hand ~300 RoIs to Fast R-CNN. Per image:

    1. decode: ``box = decode_deltas(box_deltas, anchors, variances)``
       (``kerasnn.ops.boxes``; ``dh, dw`` clipped at ``log(1000 / 16)``);
    2. clip the boxes to ``[0, height] x [0, width]``;
    3. drop tiny boxes: height or width ``< min_size`` pixels (score set to ``-inf``);
    4. keep the ``pre_nms_top_k`` best by objectness ``sigmoid(logit)``;
    5. greedy NMS at ``iou_threshold`` (the paper's 0.7) by decreasing objectness;
    6. the ``post_nms_top_k`` best survivors, padded with zero boxes (score 0) when fewer.

    The outputs do not carry gradients (``stop_gradient``): proposals are constants of the second
    stage, as in the paper's approximate joint training. Computed in float32 even under mixed
    precision. Jit-compilable: every shape is static.

    Args:
        image_shape: ``(height, width)`` of the input images in pixels.
        pre_nms_top_k: candidates entering NMS (default 2000, torchvision's training value).
        post_nms_top_k: proposals returned per image (default 300, the notes' "~300").
        iou_threshold: NMS threshold (default 0.7, the paper's).
        min_size: minimum box side in pixels (default ``1e-3``, torchvision's).
        variances: ``encode_deltas`` variances of the RPN's deltas (default ``None``: 1).
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        objectness_logits: ``(batch, A)`` (``RPNHead``'s first output).
        box_deltas: ``(batch, A, 4)`` (``RPNHead``'s second output).
        anchors: ``(A, 4)`` or ``(batch, A, 4)`` pixel anchors (``generate_anchors``).

    Returns:
        Tuple ``(proposals, scores, num_proposals)``: ``(batch, post_nms_top_k, 4)`` pixel
        ``[y1, x1, y2, x2]`` sorted by decreasing objectness, ``(batch, post_nms_top_k)``
        objectness probabilities and ``(batch,)`` int32 counts of real proposals.

    Example:

    >>> from kerasnn.ops import boxes
    >>> anchors = boxes.generate_anchors((4, 4), 8, [8, 16], [0.5, 1.0, 2.0])
    >>> layer = ProposalLayer((32, 32), post_nms_top_k=10)
    >>> proposals, scores, count = layer(
    ...     keras.ops.zeros((1, 96)), keras.ops.zeros((1, 96, 4)), anchors)
    >>> tuple(proposals.shape)
    (1, 10, 4)
    """

    def __init__(
        self,
        image_shape,
        pre_nms_top_k=2000,
        post_nms_top_k=300,
        iou_threshold=0.7,
        min_size=1e-3,
        variances=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = arguments.image_shape("image_shape", image_shape, rank=2)
        self.pre_nms_top_k = arguments.positive_int("pre_nms_top_k", pre_nms_top_k)
        self.post_nms_top_k = arguments.positive_int("post_nms_top_k", post_nms_top_k)
        self.iou_threshold = arguments.probability("iou_threshold", iou_threshold)
        self.min_size = arguments.non_negative_number("min_size", min_size)
        self.variances = (
            None if variances is None else arguments.positive_numbers("variances", variances, 4)
        )
        self._convert_input_args = False  # boxes stay float32 under mixed precision
        self._allow_non_tensor_positional_args = True

    def build(self, objectness_logits_shape=None, box_deltas_shape=None, anchors_shape=None):
        shapes = (objectness_logits_shape, box_deltas_shape, anchors_shape)
        if None not in shapes:
            _check_proposal_shapes(*shapes)
        self.built = True

    def call(self, objectness_logits, box_deltas, anchors):
        return propose(objectness_logits, box_deltas, anchors, self.image_shape,
                       self.pre_nms_top_k, self.post_nms_top_k, self.iou_threshold,
                       self.min_size, self.variances)

    def compute_output_shape(self, objectness_logits_shape, box_deltas_shape, anchors_shape):
        _check_proposal_shapes(objectness_logits_shape, box_deltas_shape, anchors_shape)
        batch = objectness_logits_shape[0]
        return (batch, self.post_nms_top_k, 4), (batch, self.post_nms_top_k), (batch,)

    def compute_output_spec(self, objectness_logits, box_deltas, anchors):
        shapes = self.compute_output_shape(objectness_logits.shape, box_deltas.shape,
                                           anchors.shape)
        dtypes = ("float32", "float32", "int32")
        return tuple(keras.KerasTensor(shape, dtype=dtype) for shape, dtype in zip(shapes, dtypes))

    def get_config(self):
        config = super().get_config()
        config.update({
            "image_shape": self.image_shape,
            "pre_nms_top_k": self.pre_nms_top_k,
            "post_nms_top_k": self.post_nms_top_k,
            "iou_threshold": self.iou_threshold,
            "min_size": self.min_size,
            "variances": self.variances,
        })
        return config


@keras.saving.register_keras_serializable(package="kerasnn")
class YOLOHead(keras.layers.Layer):
    """YOLO's output layer on a backbone feature map whose cells are the grid cells.

    An optional ``3 x 3`` convolution with ``filters`` channels and ReLU, then a ``1 x 1``
    convolution with ``B * (5 + C)`` channels, reshaped to ``(batch, H, L, B, 5 + C)``: for each
    anchor ``[ty, tx, th, tw, to, class logits]`` (``kerasnn.ops.yolo``: sigmoid offsets in the
    cell, log-scales of the anchor, objectness logit, ``C`` class logits). The notes' "``C``
    categories + background" is the objectness: ``1 - sigmoid(to)`` is the background's
    probability, so there is no background class logit.

    Args:
        num_anchors: ``B``, anchors per cell, positive int.
        num_classes: ``C``, object classes, positive int.
        filters: channels of the intermediate ``3 x 3`` convolution, or ``None`` for none.
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        features: ``(batch, H, L, channels)`` feature map, one cell per grid cell.

    Returns:
        ``(batch, H, L, num_anchors, 5 + num_classes)`` raw outputs.

    Example:

    >>> head = YOLOHead(num_anchors=3, num_classes=8, filters=32)
    >>> tuple(head(keras.ops.zeros((2, 8, 8, 16))).shape)
    (2, 8, 8, 3, 13)
    """

    def __init__(self, num_anchors, num_classes, filters=None, **kwargs):
        super().__init__(**kwargs)
        self.num_anchors = arguments.positive_int("num_anchors", num_anchors)
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.filters = arguments.positive_int("filters", filters, allow_none=True)
        self.conv = None
        if self.filters is not None:
            self.conv = keras.layers.Conv2D(self.filters, 3, padding="same", activation="relu",
                                            name="conv", dtype=self.dtype_policy)
        self.predictor = keras.layers.Conv2D(self.num_anchors * (5 + self.num_classes), 1,
                                           name="outputs", dtype=self.dtype_policy)

    @staticmethod
    def _check_shape(features_shape):
        if len(features_shape) != 4:
            arguments.shape_error("features", "(batch, height, width, channels)", features_shape)

    def build(self, features_shape):
        self._check_shape(features_shape)
        if self.conv is not None:
            self.conv.build(features_shape)
            features_shape = tuple(features_shape[:3]) + (self.filters,)
        self.predictor.build(features_shape)
        self.built = True

    def call(self, features):
        hidden = features if self.conv is None else self.conv(features)
        outputs = self.predictor(hidden)
        shape = ops.shape(outputs)
        return ops.reshape(outputs, (shape[0], shape[1], shape[2], self.num_anchors,
                                     5 + self.num_classes))

    def compute_output_shape(self, features_shape):
        self._check_shape(features_shape)
        return tuple(features_shape[:3]) + (self.num_anchors, 5 + self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_anchors": self.num_anchors, "num_classes": self.num_classes,
                       "filters": self.filters})
        return config


@keras.saving.register_keras_serializable(package="kerasnn")
class MaskHead(keras.layers.Layer):
    """Mask R-CNN's mask branch on pooled RoI features, one ``m x m`` logit map per class.

    ``num_convs`` ``3 x 3`` convolutions (``filters`` channels, ReLU, padding "same"), a
    ``2 x 2`` stride-2 transposed convolution with ReLU (``m = 2 s``, the paper's 14 -> 28), and
    a ``1 x 1`` convolution to ``num_classes`` logits, applied to every RoI independently.

    Args:
        num_classes: object classes (one mask each), positive int.
        filters: channels of the hidden convolutions (the paper's 256), positive int.
        num_convs: number of ``3 x 3`` convolutions (the paper's 4), non-negative int.
        **kwargs: base ``Layer`` arguments.

    Call arguments:
        features: ``(batch, num_rois, s_y, s_x, channels)``, e.g. ``RoIAlign``'s output.

    Returns:
        ``(batch, num_rois, 2 s_y, 2 s_x, num_classes)`` mask logits.

    Example:

    >>> head = MaskHead(num_classes=3, filters=16)
    >>> tuple(head(keras.ops.zeros((2, 5, 7, 7, 32))).shape)
    (2, 5, 14, 14, 3)
    """

    def __init__(self, num_classes, filters=64, num_convs=2, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = arguments.positive_int("num_classes", num_classes)
        self.filters = arguments.positive_int("filters", filters)
        self.num_convs = arguments.non_negative_int("num_convs", num_convs)
        policy = dict(dtype=self.dtype_policy)
        self.convs = [keras.layers.Conv2D(self.filters, 3, padding="same", activation="relu",
                                          name=f"conv{i + 1}", **policy)
                      for i in range(self.num_convs)]
        self.upsample = keras.layers.Conv2DTranspose(self.filters, 2, strides=2,
                                                     activation="relu", name="upsample",
                                                     **policy)
        self.logits = keras.layers.Conv2D(self.num_classes, 1, name="logits", **policy)

    @staticmethod
    def _check_shape(features_shape):
        if len(features_shape) != 5:
            arguments.shape_error("features", "(batch, num_rois, height, width, channels)",
                                  features_shape)

    def build(self, features_shape):
        self._check_shape(features_shape)
        shape = (None,) + tuple(features_shape[2:])
        for conv in self.convs:
            conv.build(shape)
            shape = shape[:3] + (self.filters,)
        self.upsample.build(shape)
        self.logits.build(self.upsample.compute_output_shape(shape))
        self.built = True

    def call(self, features):
        shape = ops.shape(features)
        x = ops.reshape(features, (-1,) + tuple(features.shape[2:]))  # every RoI on its own
        for conv in self.convs:
            x = conv(x)
        x = self.logits(self.upsample(x))
        return ops.reshape(x, (shape[0], shape[1]) + tuple(x.shape[1:]))

    def compute_output_shape(self, features_shape):
        self._check_shape(features_shape)
        height, width = features_shape[2], features_shape[3]
        return (features_shape[0], features_shape[1], None if height is None else 2 * height,
                None if width is None else 2 * width, self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "filters": self.filters,
                       "num_convs": self.num_convs})
        return config
