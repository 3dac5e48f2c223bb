"""Two simulated CPU devices under ``keras.distribution.DataParallel`` against one (JAX).

Run by ``tests/test_jax_data_parallel.py`` as ``python tests/jax_data_parallel.py OUT.npz`` with
``KERAS_BACKEND=jax``. XLA's host platform is split into two devices before JAX starts; the
distribute test recipe's model (Dense -> kerasnn ``BatchNormalization`` -> Dense) trains three
epochs from the same weights on one device and on both, and the two weight lists are saved.
"""

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from distribute_recipe import build_model, data  # noqa: E402


def train(initial_weights):
    keras.utils.set_random_seed(0)
    model = build_model(synchronized=False)  # synchronized=True is TensorFlow's (tf.distribute)
    model.set_weights(initial_weights)
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return model


def main(path):
    devices = jax.devices("cpu")
    assert len(devices) == 2, devices
    keras.utils.set_random_seed(0)
    initial = build_model(synchronized=False).get_weights()
    one = train(initial)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    two = train(initial)
    kernel = two.trainable_variables[0].value
    np.savez(path, devices=len(kernel.sharding.device_set),
             one=np.concatenate([w.ravel() for w in one.get_weights()]),
             two=np.concatenate([w.ravel() for w in two.get_weights()]))


if __name__ == "__main__":
    main(sys.argv[1])
