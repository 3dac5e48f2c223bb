"""YOLO's head: one convolutional output of ``H x L x B x (5 + C)`` over the grid.

Course notes, "YOLO": each of the ``H x L`` grid cells holds ``B`` anchors, and for each one the
network predicts the offsets of the base box, an objectness score and the class scores, all in
one forward pass. ``kerasnn.ops.yolo`` documents the channel layout and decodes it.
"""

import keras
from keras import ops

from kerasnn import arguments


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
