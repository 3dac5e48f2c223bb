"""On JAX, ``keras.distribution.DataParallel`` over two devices trains as one device does.

The script ``tests/jax_data_parallel.py`` runs in its own process (XLA's two simulated CPU devices
must be set before JAX starts). Under DataParallel the batch is split over the devices and the
weights are replicated, but the jitted step sees the global batch: even an unsynchronized
``BatchNormalization`` takes its statistics over the whole batch, unlike one ``tf.distribute``
replica (``tests/test_distribute.py``).
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="keras.distribution runs on the JAX backend"
)


def test_data_parallel_on_two_cpu_devices_equals_one_device(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "jax_data_parallel.py")
    path = tmp_path / "weights.npz"
    subprocess.run([sys.executable, script, str(path)], check=True, timeout=300,
                   capture_output=True)
    with np.load(path) as weights:
        assert int(weights["devices"]) == 2  # the kernel is replicated on both devices
        assert np.max(np.abs(weights["two"] - weights["one"])) <= 1e-5
