"""Model builders: plain functions with explicit arguments that return ``keras.Model``s.

One module per task family: ``linear`` (linear classifier, k-NN), ``mlp``, ``cnn`` (LeNet-5,
VGG, Inception), ``transfer``, ``perceptron``.
"""

from kerasnn.models.chatbot import dual_encoder, hierarchical_encoder
from kerasnn.models.cnn import inception_module, inception_net, lenet5, vgg
from kerasnn.models.language import nnlm, rnn_language_model, word2vec, word_vectors
from kerasnn.models.linear import linear_classifier, nearest_neighbor_classifier
from kerasnn.models.mlp import mlp, task_head, task_mlp
from kerasnn.models.perceptron import Perceptron, hebbian_epoch
from kerasnn.models.transfer import (
    classifier,
    keras_application,
    set_trainable_tail,
    small_cnn_backbone,
    tunable_layers,
)
from kerasnn.models.transformer import Transformer, transformer_language_model
