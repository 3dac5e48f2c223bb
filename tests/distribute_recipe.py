"""
Title: A tiny recipe on the runner, for the --distribute tests (tests/test_distribute.py)
Course section: "Batch Normalization"
Description: Dense -> BatchNormalization(synchronized=True) -> Dense on four generated features,
trained as the phase "train" and saved; --distribute none/mirrored/multi-worker (TF_CONFIG).
How to run:
    python tests/distribute_recipe.py --output-dir /tmp/run --distribute mirrored
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, layers, recipe


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")


def build_model(synchronized=True):
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8),
        layers.BatchNormalization(momentum=0.5, synchronized=synchronized),
        keras.layers.Dense(2),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("distribute", __doc__, argv, dataset="toy", epochs=3, batch_size=16,
                     tuner="none", tfds_dataset=False)
    x, y = data()
    run.open()
    model = build_model()
    run.fit("train", model, x, y=y, batch_size=run.args.batch_size, shuffle=False, verbose=0)
    return run.finish(test={"loss": float(model.evaluate(x, y, verbose=0))}, model=model,
                      replicas=model.distribute_strategy.num_replicas_in_sync)


if __name__ == "__main__":
    main()
