"""The siamese builder: shared weights, stacked outputs, a training step, save/load."""

import keras
import numpy as np
import pytest

from kerasnn import losses, models


def test_branches_share_one_embedding_and_stack_its_outputs():
    embedding = models.embedding_network((8, 8, 1), 6, filters=(4,))
    model = models.siamese_network(embedding, branches=3)
    assert model.get_layer("embedding") is embedding
    assert len(model.trainable_weights) == len(embedding.trainable_weights)
    x = np.random.default_rng(0).random((3, 4, 8, 8, 1)).astype("float32")
    stacked = model.predict([x[0], x[1], x[2]], verbose=0)
    assert stacked.shape == (4, 3, 6)
    for branch in range(3):
        np.testing.assert_allclose(stacked[:, branch], embedding.predict(x[branch], verbose=0),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(stacked, axis=-1), 1.0, rtol=1e-5)


def test_a_contrastive_step_trains_the_shared_weights_and_the_model_round_trips(tmp_path):
    embedding = models.embedding_network((8, 8, 1), 4, filters=(4,), normalize=False)
    model = models.siamese_network(embedding)
    model.compile(keras.optimizers.SGD(0.1), loss=losses.Contrastive(margin=1.0))
    rng = np.random.default_rng(1)
    first, second = rng.random((2, 16, 8, 8, 1)).astype("float32")
    labels = np.array([0, 1] * 8)
    kernel = embedding.get_layer("projection").kernel
    before = keras.ops.convert_to_numpy(kernel).copy()
    loss_before = model.evaluate([first, second], labels, verbose=0)
    model.fit([first, second], labels, epochs=3, batch_size=16, verbose=0)
    assert not np.allclose(before, keras.ops.convert_to_numpy(kernel))
    assert model.evaluate([first, second], labels, verbose=0) < loss_before
    path = str(tmp_path / "siamese.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.loss, losses.Contrastive)
    np.testing.assert_allclose(restored.predict([first, second], verbose=0),
                               model.predict([first, second], verbose=0), rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise_clear_value_errors():
    embedding = models.embedding_network((8, 8, 1), 4, filters=(4,))
    with pytest.raises(ValueError, match=r"^Argument `branches` must be one of 2, 3\. "
                       r"Received: branches=4$"):
        models.siamese_network(embedding, branches=4)
    with pytest.raises(ValueError, match="Argument `embedding` must be a keras.Model of one input"):
        models.siamese_network(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="Argument `embedding_dim` must be a positive integer"):
        models.embedding_network((8, 8, 1), 0)
