"""Custom Keras layers written from scratch in ``keras.ops``, one family per module."""

from kerasnn.layers.roi import RoIAlign, RoIPooling
from kerasnn.layers.recurrent import LSTMCell
from kerasnn.layers.attention import (
    AdditiveAttention,
    BahdanauAttention,
    LuongAttention,
    MultiHeadAttention,
    MultiplicativeAttention,
    ScaledDotProductAttention,
)
from kerasnn.layers.transformer import (
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from kerasnn.layers.normalization import BatchNormalization
from kerasnn.layers.normalization import GhostBatchNormalization
from kerasnn.layers.normalization import TimeStepBatchNormalization
from kerasnn.layers.pooling import ClassActivationMapping
from kerasnn.layers.pooling import GlobalAveragePooling2D
from kerasnn.layers.pooling import MaxPoolingWithArgmax2D
from kerasnn.layers.upsampling import BedOfNailsUpsampling2D
from kerasnn.layers.upsampling import MaxUnpooling2D
