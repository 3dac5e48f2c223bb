"""
Title: A tiny recipe on the runner, for the reliability tests (tests/test_reliability.py)
Course section: "Linear Classifier"
Description: The linear classifier of recipes/linear_classifier.py, searched and trained on the
runner. Setting KERASNN_TEST_PAUSE=trial:N (the N-th trial this process trains, from 1) or
phase:E (epoch E of the training phase, from 1) makes the run print "paused" and sleep there, so
a test can interrupt it at a known point; the variable is not a flag, so it is no run setting.
How to run:
    python tests/reliability_recipe.py --output-dir /tmp/run --epochs 4 --max-trials 3
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import os
import time

import keras

from kerasnn import cli, models, recipe

PAUSE = os.environ.get("KERASNN_TEST_PAUSE", ":0").split(":")


class Pause(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            print("paused", flush=True)
            time.sleep(120)


class HyperModel:
    def __init__(self, spec):
        self.spec = spec

    def __call__(self, hp):
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log", default=1e-2)
        model = models.linear_classifier(self.spec.input_shape, self.spec.num_classes)
        return recipe.compile_classifier(model, learning_rate, from_logits=True)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("reliability", __doc__, argv, dataset="kerasnn_digits", epochs=4,
                     batch_size=128, max_trials=3)
    train, validation, test = run.splits()
    run.open()
    build_model = HyperModel(run.spec)
    fits = []

    class Trial(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            fits.append(1)
            if PAUSE[0] == "trial" and len(fits) == int(PAUSE[1]):
                print("paused", flush=True)
                time.sleep(120)

    hp = run.search(build_model, train, validation_data=validation, callbacks=[Trial()])
    model = build_model(hp)
    pause = [Pause(int(PAUSE[1]))] if PAUSE[0] == "phase" else []
    run.fit("train", model, train, validation_data=validation, callbacks=pause)
    loss, accuracy = model.evaluate(test, verbose=0)
    return run.finish(test={"accuracy": float(accuracy), "loss": float(loss)}, model=model)


if __name__ == "__main__":
    main()
