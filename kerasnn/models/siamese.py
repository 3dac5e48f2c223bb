"""Siamese networks (course notes, "Siamese Networks", "Triplet Loss").

"The 2 nets have to perform the same operations, using the same weights. Hence the term
siamese": one embedding network ``f_W`` is applied to every input of a pair (or triplet), and
the losses of ``kerasnn.losses`` compare the embeddings.

- ``embedding_network``: a small CNN (``small_cnn_backbone``) -> Dense(``embedding_dim``),
  optionally scaled to unit length (distances then lie in [0, 2], so one margin suits any data);
- ``siamese_network``: ``branches`` inputs through the *same* embedding model, outputs stacked as
  ``(batch, branches, dim)`` for ``losses.Contrastive`` (2 branches) or ``losses.Triplet`` (3).
  The embedding stays reachable: ``model.get_layer(embedding.name)`` is ``embedding`` itself.

Identification and verification with the trained embedding are in ``kerasnn.metrics.retrieval``.
"""

import keras
from keras import ops

from kerasnn import arguments
from kerasnn.models.transfer import small_cnn_backbone

BRANCH_NAMES = {2: ("first", "second"), 3: ("anchor", "positive", "negative")}


def embedding_network(input_shape, embedding_dim=32, *, filters=(32, 64), normalize=True,
                      name="embedding"):
    """``f_W``: image -> ``embedding_dim`` features.

    Args:
        input_shape: ``(height, width, channels)``.
        embedding_dim: size of the latent representation.
        filters: filters of the convolutional blocks (``small_cnn_backbone``).
        normalize: divide the embedding by its L2 norm.
    """
    input_shape = arguments.image_shape("input_shape", input_shape)
    embedding_dim = arguments.positive_int("embedding_dim", embedding_dim)
    backbone = small_cnn_backbone(input_shape, filters, name=f"{name}_backbone")
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.Dense(embedding_dim, name="projection")(backbone(inputs))
    if normalize:
        x = keras.layers.UnitNormalization(name="unit_length")(x)
    return keras.Model(inputs, x, name=name)


def siamese_network(embedding, branches=2, name=None):
    """``branches`` weight-shared copies of ``embedding``; output ``(batch, branches, dim)``.

    Args:
        embedding: a single-input ``keras.Model`` (the feature extractor ``f_W``).
        branches: 2 (pairs, contrastive loss) or 3 (anchor, positive, negative: triplet loss).
        name: default ``siamese_pair`` / ``siamese_triplet``.

    Example:
        >>> f = embedding_network((8, 8, 1), 4)
        >>> model = siamese_network(f, 3)
        >>> tuple(model.output.shape), model.get_layer("embedding") is f
        ((None, 3, 4), True)
    """
    arguments.one_of("branches", branches, tuple(BRANCH_NAMES))
    if not isinstance(embedding, keras.Model) or len(embedding.inputs) != 1:
        arguments.fail("embedding", "a keras.Model of one input", embedding)
    input_shape = tuple(embedding.inputs[0].shape[1:])
    inputs = [keras.Input(input_shape, name=branch) for branch in BRANCH_NAMES[branches]]
    outputs = ops.stack([embedding(x) for x in inputs], axis=1)
    default = "siamese_pair" if branches == 2 else "siamese_triplet"
    return keras.Model(inputs, outputs, name=name or default)
