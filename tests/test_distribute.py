"""--distribute (issue 22, part 2): MirroredStrategy on two logical CPUs, MultiWorkerMirrored
with two processes on 127.0.0.1, synchronized batch normalization, the runner under a strategy.

The strategies need a fresh interpreter (logical devices and the multi-worker cluster are set
before TensorFlow starts): each runs in subprocesses, bounded by a timeout and killed at the end.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from kerasnn import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import distribute_recipe  # noqa: E402

TIMEOUT = 300

_MIRRORED_SCRIPT = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import distribute_recipe
from kerasnn import distribute, reporting

x, y = distribute_recipe.data()


def train(synchronized, epochs=3, directory=None, callbacks=()):
    keras.utils.set_random_seed(0)
    keras.backend.clear_session()  # as every tuner trial does: the strategy stays current
    model = distribute_recipe.build_model(synchronized)
    if directory is None:
        model.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    else:
        reporting.RunDirectory(directory).fit("train", model, x, y=y, batch_size=16,
                                               epochs=epochs, shuffle=False, verbose=0,
                                               callbacks=list(callbacks))
    return model


def weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def max_difference(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


one_device = weights(train(True))
strategy = distribute.make_strategy("mirrored")
distribute.activate(strategy)
synchronized = train(True)
unsynchronized = train(False)
replica_means = [np.asarray(v) for v in
                 strategy.experimental_local_results(unsynchronized.layers[1].moving_mean.value)]
synced_means = [np.asarray(v) for v in
                strategy.experimental_local_results(synchronized.layers[1].moving_mean.value)]
try:
    train(True, directory="interrupted", callbacks=[Interrupt()])
except KeyboardInterrupt:
    pass
resumed = weights(train(True, directory="interrupted"))
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "in_scope": synchronized.distribute_strategy is strategy,
    "synchronized": max_difference(weights(synchronized), one_device),
    "unsynchronized": max_difference(weights(unsynchronized), one_device),
    "unsynchronized_replicas": float(np.max(np.abs(replica_means[0] - replica_means[1]))),
    "synchronized_replicas": float(np.max(np.abs(synced_means[0] - synced_means[1]))),
    "resumed": max_difference(resumed, weights(synchronized)),
}))
"""


def environment(**extra):
    return {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
            "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def test_mirrored_on_two_devices_equals_one_device_with_synchronized_batch_normalization(
        tmp_path):
    result = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], capture_output=True,
                            text=True, env=environment(), cwd=tmp_path,
                            timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["replicas"] == 2 and figures["in_scope"]
    # Global-batch statistics: the two replicas compute what one device computes.
    assert figures["synchronized"] <= 1e-5
    assert figures["synchronized_replicas"] <= 1e-6
    # Per-replica statistics (the documented default): the replicas' moving means drift apart.
    assert figures["unsynchronized_replicas"] > 1e-3
    assert figures["unsynchronized"] > 1e-3
    # Interrupted at epoch 3 and resumed under the strategy: the uninterrupted weights.
    assert figures["resumed"] <= 1e-6


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_multi_worker_two_processes_equal_one_process(tmp_path):
    ports = [free_port(), free_port()]
    out = tmp_path / "run"
    argv = [sys.executable, os.path.join(ROOT, "tests", "distribute_recipe.py"),
            "--output-dir", str(out), "--distribute", "multi-worker"]
    workers = []
    try:
        for index in range(2):
            config = {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                      "task": {"type": "worker", "index": index}}
            workers.append(subprocess.Popen(
                argv, env=environment(TF_CONFIG=json.dumps(config)), cwd=ROOT,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                start_new_session=True))
        single = distribute_recipe.main(["--output-dir", str(tmp_path / "single")])
        outputs = [worker.communicate(timeout=TIMEOUT)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, 9)
                worker.wait()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
    # Task 0 writes the run directory; task 1 its own under workers/1/.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["replicas"] == 2 and single["replicas"] == 1
    assert sorted(os.listdir(out / "workers")) == ["1"]
    chief = keras.saving.load_model(out / "model.keras").get_weights()
    other = keras.saving.load_model(out / "workers" / "1" / "model.keras").get_weights()
    alone = keras.saving.load_model(tmp_path / "single" / "model.keras").get_weights()
    for a, b, c in zip(chief, other, alone):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, atol=1e-5, rtol=0)


def test_keras_20585_workaround_is_still_needed():
    """When this fails, the installed Keras no longer has the code of keras-team/keras#20585, so
    the workaround is no longer applied: if the multi-worker test passes, delete it."""
    assert distribute.needs_keras_20585_workaround(), (
        f"Keras {keras.__version__} no longer has the code of keras-team/keras#20585")


def test_distribute_errors(monkeypatch):
    assert distribute.make_strategy("none") is None
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError) as error:
        distribute.make_strategy("mirrored")
    assert str(error.value) == (
        "--distribute mirrored needs the TensorFlow backend (KERAS_BACKEND=jax); on JAX use "
        "keras.distribution (see the README, 'When one machine is not enough')")
    with pytest.raises(ValueError, match=r"Argument `name` must be one of 'none', 'mirrored', "
                       r"'multi-worker'\. Received: name='tpu'"):
        distribute.make_strategy("tpu")
