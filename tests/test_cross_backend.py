"""TensorFlow-saved weights give the same outputs on JAX and PyTorch, for every public layer.

A TensorFlow process (``python tests/layer_cases.py DIR``) saves each case of ``layer_cases``
with seeded weights; this backend builds the same case, loads the ``.weights.h5`` file and must
reproduce TensorFlow's outputs within 1e-5 (integer outputs exactly). On TensorFlow itself there
is nothing to compare: the test runs in ``.ci/run``'s JAX and PyTorch step.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from layer_cases import NAMES, build, outputs_of


@pytest.fixture(scope="module")
def tensorflow_reference(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tensorflow_reference")
    script = os.path.join(os.path.dirname(__file__), "layer_cases.py")
    environment = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    subprocess.run([sys.executable, script, str(directory)], env=environment, check=True,
                   timeout=300, capture_output=True)
    return directory


def test_every_public_layer_has_a_case():
    import kerasnn.layers

    public = {name for name, value in vars(kerasnn.layers).items()
              if isinstance(value, type) and issubclass(value, keras.layers.Layer)}
    aliases = {"AdditiveAttention", "MultiplicativeAttention"}  # Bahdanau's and Luong's
    assert public - aliases == set(NAMES)


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="TensorFlow is the reference backend"
)
@pytest.mark.parametrize("name", NAMES)
def test_tensorflow_saved_weights_give_tensorflow_outputs(name, tensorflow_reference):
    model, inputs = build(name)
    fresh = outputs_of(model, inputs)
    model.load_weights(os.path.join(tensorflow_reference, f"{name}.weights.h5"))
    with np.load(os.path.join(tensorflow_reference, f"{name}.npz")) as saved:
        expected = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    got = outputs_of(model, inputs)
    assert len(got) == len(expected)
    for index, (value, want) in enumerate(zip(got, expected)):
        assert value.shape == want.shape, f"output {index}"
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(value, want, err_msg=f"output {index}")
        else:
            np.testing.assert_allclose(value, want, atol=1e-5, rtol=1e-5,
                                       err_msg=f"output {index}")
    # The loaded weights are what made the outputs TensorFlow's (a weightless layer aside).
    if model.weights:
        assert any(not np.allclose(a, b) for a, b in zip(fresh, got) if a.dtype.kind == "f")
