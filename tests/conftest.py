"""Shared test set-up: the backend, quiet logs, offline, a temporary tfds data directory.

The suite runs on TensorFlow unless ``KERAS_BACKEND`` says otherwise; the layer, ops and metrics
tests also run on JAX and PyTorch (``.ci/run``). A test that needs TensorFlow itself
(``tf.function`` signatures, ``tf.distribute``, ``tf.data``) carries
``@pytest.mark.tensorflow_only("why")`` and is skipped on the other backends.

Every test session builds the embedded tfds datasets into its own temporary directory, so tests
never read or write the user's ``~/tensorflow_datasets``, and ``KERASNN_OFFLINE=1`` keeps them
off the network.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests use local data only, whatever the machine can reach (tests of the probe unset this).
os.environ["KERASNN_OFFLINE"] = "1"

import gc  # noqa: E402

import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tensorflow_only(reason): the test needs TensorFlow itself; skipped elsewhere"
    )


def pytest_collection_modifyitems(config, items):
    backend = os.environ["KERAS_BACKEND"]
    if backend == "tensorflow":
        return
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None:
            why = marker.args[0] if marker.args else "needs TensorFlow"
            item.add_marker(pytest.mark.skip(reason=f"TensorFlow only ({why}); backend {backend}"))


def pytest_collection_finish(session):
    """Keras' clear_session runs gc.collect(), which would walk the hundreds of thousands of
    objects TensorFlow creates at import each time (tuner trials and recipes clear the session
    often: test_tuning took 29 s of CPU instead of 14). The test modules have imported TensorFlow
    by now: frozen, its objects are left out of every collection; what the tests create is
    collected as before."""
    gc.freeze()


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory):
    """A tfds data directory shared by the whole test session (datasets are built once)."""
    return str(tmp_path_factory.mktemp("tensorflow_datasets"))


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts from the same Keras global state (dtype policy, seeds, graph)."""
    import keras

    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() per test would cost ~0.2 s each
