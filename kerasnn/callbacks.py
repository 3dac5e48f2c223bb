"""Training callbacks (course notes, "Early Stopping")."""

import keras


class EarlyStopping(keras.callbacks.EarlyStopping):
    """``keras.callbacks.EarlyStopping`` for which the starting weights are a candidate too.

    Section "Early Stopping": watch a validation quantity, stop after ``patience`` epochs without
    improvement and keep the best weights. A phase that continues from trained weights
    (fine-tuning after feature extraction) passes ``start``, their value of the monitored
    quantity, as if it were epoch 0: they are kept unless an epoch improves on it, so the phase
    never ends worse on the validation data than it started.

    Args:
        start: the monitored value of the weights before the first epoch; ``None`` gives Keras'
            behaviour (the best of the epochs trained).
        **kwargs: as ``keras.callbacks.EarlyStopping``; ``restore_best_weights`` defaults to
            ``True``.

    Example:
        >>> stop = EarlyStopping(start=0.8, monitor="val_accuracy", mode="max", patience=5)
    """

    def __init__(self, *, start=None, restore_best_weights=True, **kwargs):
        super().__init__(restore_best_weights=restore_best_weights, **kwargs)
        self.start = start

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.start is not None:
            self.best, self.best_epoch = self.start, -1
            self.best_weights = self.model.get_weights() if self.restore_best_weights else None
