"""The mask head of instance segmentation: a small FCN on each RoI's pooled features.

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
