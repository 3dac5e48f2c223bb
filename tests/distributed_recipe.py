"""
Title: A tiny recipe on the runner, for the distributed-search tests (tests/test_distributed.py)
Course section: "Hyperparameters"
Description: A two-layer classifier of four features, searched with --tuner (and, with --folds,
scored by k-fold cross-validation), on data it generates itself; no final training, so a search
is all it costs. KERASNN_TEST_PAUSE=<path> makes the first trial this process trains write <path>
(its trial id), print "paused" and sleep, unless <path> exists: a test can kill a worker
mid-trial. KERASNN_TEST_SEARCHES='[[port, [flags...]], ...]' runs several searches in turn, each
with its chief on its port, so a worker process serves several chiefs (one interpreter start).
Neither variable is a run setting.
How to run:
    python tests/distributed_recipe.py --output-dir /tmp/run --tuner random --max-trials 4
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import os
import time

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, recipe


class HyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 2, 16), activation="relu"),
            keras.layers.Dense(2),
        ])
        recipe.compile_classifier(model, hp.Float("learning_rate", 1e-3, 3e-1, sampling="log"),
                                  from_logits=True)
        model.run_eagerly = True  # a few tiny batches: tracing would cost more than it saves
        return model

    def fit(self, hp, model, *args, **kwargs):
        pause = os.environ.get("KERASNN_TEST_PAUSE")
        if pause and not os.path.exists(pause):
            callbacks = kwargs.get("callbacks", [])
            trial = next((c.trial.trial_id for c in callbacks if hasattr(c, "trial")), "?")
            with open(pause, "w") as file:
                file.write(str(trial))
            print("paused", flush=True)
            time.sleep(120)
        return model.fit(*args, **kwargs)


def flags(parser):
    parser.add_argument("--folds", type=cli.non_negative_int, default=0,
                        help="score trials by k-fold cross-validation (0: a validation split)")


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("distributed", __doc__, argv, dataset="toy", epochs=2, batch_size=16,
                     max_trials=4, flags=flags, tfds_dataset=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")
    run.open()
    if run.args.folds:
        run.search(HyperModel(), x, y, num_folds=run.args.folds,
                   batch_size=run.args.batch_size)
    else:
        run.search(HyperModel(), x[:64], y[:64], validation_data=(x[64:], y[64:]),
                   batch_size=run.args.batch_size)
    return run.finish(test={})


if __name__ == "__main__":
    import gc
    import json

    gc.freeze()  # each trial's clear_session then collects the trial's objects, not TensorFlow's
    if "KERASNN_TEST_SEARCHES" not in os.environ:
        main()
    for port, argv in json.loads(os.environ.get("KERASNN_TEST_SEARCHES", "[]")):
        os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
        main(argv)
