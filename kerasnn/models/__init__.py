"""Model builders: plain functions with explicit arguments that return ``keras.Model``s."""

from kerasnn.models.transfer import backbone_layers_with_weights
from kerasnn.models.transfer import classifier
from kerasnn.models.transfer import keras_application
from kerasnn.models.transfer import set_trainable_tail
from kerasnn.models.transfer import small_cnn_backbone
