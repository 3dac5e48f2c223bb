"""Model builders: plain functions with explicit arguments that return ``keras.Model``s.

One module per task family: ``linear`` (linear classifier, k-NN), ``mlp``, ``cnn`` (LeNet-5,
VGG, Inception), ``transfer``, ``perceptron``, ``localization``, ``language`` (NNLM, RNN LM,
word2vec), ``sequence`` (recurrent networks), ``siamese``, ``autoencoders``, ``gan`` (GAN, BiGAN,
anomaly scores), ``seq2seq``, ``segmentation`` (FCN, U-Net, convolutionalization,
shift-and-stitch), ``detection`` (R-CNN, Fast R-CNN, Faster R-CNN, sliding windows), ``yolo``,
``instance_segmentation`` (a Mask R-CNN-style mask branch), ``transformer``, ``chatbot`` (dual and
hierarchical encoders). Modules with classes of their own (``gan``, ``seq2seq``, ``detection``,
``yolo``, ``instance_segmentation``) are imported as modules: ``from kerasnn.models import gan``.
"""

import kerasnn
from kerasnn.models._layers import keras_builtin_layers
from kerasnn.models.autoencoders import conv_autoencoder, dense_autoencoder, encoder_classifier
from kerasnn.models.chatbot import dual_encoder, hierarchical_encoder
from kerasnn.models.cnn import classification_head, inception_module, inception_net, lenet5, vgg
from kerasnn.models.language import nnlm, rnn_language_model, word2vec, word_vectors
from kerasnn.models.linear import linear_classifier, nearest_neighbor_classifier
from kerasnn.models.localization import convolutional_base, gap_classifier, localizer
from kerasnn.models.mlp import mlp, task_head, task_mlp
from kerasnn.models.perceptron import Perceptron, hebbian_epoch
from kerasnn.models.segmentation import (
    convolutionalize,
    fcn,
    fcn_backbone,
    initialize_from,
    patch_classifier,
    rarefy,
    shift_and_stitch,
    unet,
)
from kerasnn.models.sequence import (
    autoregressive_least_squares,
    delay_taps,
    make_cell,
    recurrent_network,
)
from kerasnn.models.siamese import embedding_network, siamese_network
from kerasnn.models.transfer import (
    WeightsUnavailable,
    backbone,
    backbone_factory,
    classifier,
    keras_application,
    set_trainable_tail,
    small_cnn_backbone,
    tunable_layers,
    with_weights,
)
from kerasnn.models.transformer import Transformer, transformer_language_model

# Finish the Keras registration that importing this package may have had to postpone.
kerasnn._finish_registration()
