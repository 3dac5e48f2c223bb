"""Model builders: plain functions with explicit arguments that return ``keras.Model``s.

One module per task family: ``linear`` (linear classifier, k-NN), ``mlp``, ``cnn`` (LeNet-5,
VGG, Inception), ``transfer``, ``perceptron``.
"""

from kerasnn.models.autoencoders import conv_autoencoder, dense_autoencoder, encoder_classifier
from kerasnn.models.cnn import inception_module, inception_net, lenet5, vgg
from kerasnn.models.linear import linear_classifier, nearest_neighbor_classifier
from kerasnn.models.mlp import mlp, task_head
from kerasnn.models.perceptron import Perceptron, hebbian_epoch
from kerasnn.models.siamese import embedding_network, siamese_network
from kerasnn.models.transfer import (
    classifier,
    keras_application,
    set_trainable_tail,
    small_cnn_backbone,
    tunable_layers,
)
