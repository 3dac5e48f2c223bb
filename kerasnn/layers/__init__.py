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
