"""Two-stage detection layers: the region proposal network's head and its proposal layer.

Course notes, "Faster R-CNN" and "At test time" / "First stage": a 3x3 convolution slides over
the backbone's feature map; two sibling 1x1 convolutions give, for each of the ``k`` anchors of
every location, an objectness score and 4 box refinements; the refined anchors are clipped,
ranked by objectness, suppressed by NMS and the best ~300 become the regions of interest of the
second stage (Fast R-CNN).

Anchor order everywhere is ``kerasnn.ops.boxes.generate_anchors``' order: row-major over the
feature map, then the ``k`` anchors of a location.
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
