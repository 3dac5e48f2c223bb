"""Model builders: plain functions with explicit arguments that return ``keras.Model``s."""

from kerasnn.models.transfer import classifier
from kerasnn.models.transfer import keras_application
from kerasnn.models.transfer import set_trainable_tail
from kerasnn.models.transfer import small_cnn_backbone
from kerasnn.models.transfer import tunable_layers
from kerasnn.models.classification import inception_module
from kerasnn.models.classification import inception_net
from kerasnn.models.classification import lenet5
from kerasnn.models.classification import linear_classifier
from kerasnn.models.classification import mlp_classifier
from kerasnn.models.classification import nearest_neighbor_classifier
from kerasnn.models.classification import NearestNeighbors
from kerasnn.models.classification import vgg
from kerasnn.models.geometry import conv_output_size
from kerasnn.models.geometry import receptive_field
from kerasnn.models.geometry import ReceptiveField
from kerasnn.models.tta import predict_with_tta
from kerasnn.models.mlp import feedforward, task_head
from kerasnn.models.perceptron import Perceptron, hebbian_epoch
