"""Custom Keras layers written from scratch in ``keras.ops``, one family per module."""

import kerasnn
from kerasnn.layers.attention import (
    AdditiveAttention,
    BahdanauAttention,
    LuongAttention,
    MultiHeadAttention,
    MultiplicativeAttention,
    ScaledDotProductAttention,
)
from kerasnn.layers.detection import MaskHead, ProposalLayer, RPNHead, YOLOHead
from kerasnn.layers.memory import NTMCell
from kerasnn.layers.neighbors import NearestNeighbors
from kerasnn.layers.normalization import (
    BatchNormalization,
    GhostBatchNormalization,
    TimeStepBatchNormalization,
)
from kerasnn.layers.pooling import (
    ClassActivationMapping,
    GlobalAveragePooling2D,
    MaxPoolingWithArgmax2D,
)
from kerasnn.layers.recurrent import (
    LSTM,
    CourseRNNCell,
    LSTMCell,
    TruncatedBPTTCell,
)
from kerasnn.layers.roi import RoIAlign, RoIPooling
from kerasnn.layers.softmax import HierarchicalSoftmax
from kerasnn.layers.transformer import (
    PositionwiseFeedForward,
    SinusoidalPositionalEncoding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from kerasnn.layers.upsampling import BedOfNailsUpsampling2D, MaxUnpooling2D

# Finish the Keras registration that importing this package may have had to postpone.
kerasnn._finish_registration()
