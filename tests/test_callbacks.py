"""kerasnn.callbacks.EarlyStopping: the starting weights are a candidate (epoch 0)."""

import keras
import numpy as np

from kerasnn import callbacks


def _fit(start, learning_rate):
    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.get_weights()
    stop = callbacks.EarlyStopping(start=start, monitor="val_loss", patience=2)
    history = model.fit(x, y, validation_data=(x, y), epochs=4, callbacks=[stop], verbose=0)
    return before, model.get_weights(), history.history["val_loss"], stop


def test_no_epoch_beats_the_start_keeps_the_starting_weights():
    before, after, val_loss, stop = _fit(start=0.0, learning_rate=0.5)  # a loss of 0 is unbeaten
    assert len(val_loss) == 2  # patience 2 from the start
    for kept, weights in zip(before, after):
        np.testing.assert_array_equal(kept, weights)
    assert stop.best == 0.0 and stop.best_epoch == -1


def test_an_epoch_that_beats_the_start_is_kept():
    before, after, val_loss, stop = _fit(start=10.0, learning_rate=0.5)
    assert stop.best == min(val_loss) < 10.0 and stop.best_epoch == int(np.argmin(val_loss))
    assert not np.allclose(before[0], after[0])


def test_without_start_it_is_keras_early_stopping_restoring_the_best_weights():
    _, _, val_loss, stop = _fit(start=None, learning_rate=0.5)
    assert stop.restore_best_weights and stop.best == min(val_loss)
