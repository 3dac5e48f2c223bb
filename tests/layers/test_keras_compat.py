"""Keras' own layer tests, run on kerasnn's drop-in layers (issue 23).

Keras ships its unit tests inside the wheel (``keras/src/layers/.../*_test.py``). For each of our
drop-in layers this test copies Keras' test file into a temporary directory, swaps the class under
test for ours (``layers.BatchNormalization`` -> ``kerasnn.layers.BatchNormalization``; nothing else
changes), runs it with pytest in a subprocess (bounded time) on this session's backend (Keras runs
these tests on TensorFlow, JAX and PyTorch alike) and reads the per-test outcomes from a JUnit XML
report. Every test passes except those in ``EXCLUDED``: tests of Keras-internal machinery a
from-scratch course layer does not implement, each with its reason.

So a Keras upgrade that changes the contract (a new argument, a new behaviour a test pins down)
shows up here as a failing test naming the Keras test that broke. Run one layer with
``python -m pytest tests/layers/test_keras_compat.py -k LSTM -s`` to see the counts.
"""

import ast
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import keras
import pytest

import kerasnn

KERAS_DIR = Path(keras.__file__).parent
ROOT = Path(kerasnn.__file__).resolve().parent.parent
TIMEOUT_S = 600

# Our class name -> Keras' test file (relative to keras/src/layers).
TEST_FILES = {
    "GlobalAveragePooling2D": "pooling/global_average_pooling_test.py",
    "BatchNormalization": "normalization/batch_normalization_test.py",
    "LSTM": "rnn/lstm_test.py",
    "MultiHeadAttention": "attention/multi_head_attention_test.py",
}

# Keras test name prefix (the test function's name; parameterized cases add a suffix) -> reason.
EXCLUDED: dict = {
    "GlobalAveragePooling2D": {},
    "BatchNormalization": {},
    "LSTM": {},
    "MultiHeadAttention": {
        "test_lora": "LoRA (EinsumDense.enable_lora on Keras' sublayers): not a course feature",
        "test_quantize_int8": "int8 quantization of Keras' EinsumDense sublayers",
        "test_dtype_policy_map": "DTypePolicyMap addressing Keras' sublayers by path (mha/query)",
        "test_initializer": "reads the private sublayers `_query_dense.kernel`, ...; our own test "
        "checks that every kernel gets its own draws",
        "test_mha_constraints": "reads the private `_query_dense`, ... sublayers; our own test "
        "checks the constraints on every kernel and bias",
        "test_compute_attention_combines_causal_and_explicit_mask": "calls the private "
        "`_compute_attention` on pre-projected heads",
        "test_causal_only_skipped_for_subclass": "overrides the private `_compute_attention` hook",
        "test_sliding_window_serialization": "reads the private `_sliding_window`; ours is the "
        "public `sliding_window` (round trip tested in our suite)",
    },
}

# Failing only on the JAX and PyTorch backends (Keras skips them on TensorFlow), same format.
if keras.backend.backend() != "tensorflow":
    EXCLUDED["MultiHeadAttention"]["test_flash_attention_with_errors"] = (
        "flash attention (a fused JAX/PyTorch kernel): ours accepts `flash_attention` and always "
        "computes plain attention, so it does not refuse dropout or returned scores with it"
    )

# For the record, with keras 3.15.1: (passed, failed, skipped) of the tests that use our class,
# on main at d761d05 before issue 23 ...
COUNTS_BEFORE = {
    "GlobalAveragePooling2D": (4, 3, 0),
    "BatchNormalization": (17, 16, 0),
    "LSTM": (0, 6, 0),  # there was no kerasnn.layers.LSTM
    "MultiHeadAttention": (17, 31, 2),
}


def swap_class(source, name):
    """Keras' test source with ``layers.<name>`` (exactly that class) replaced by ours."""
    pattern = re.compile(rf"(?<![\w.])layers\.{name}\b")
    swapped, count = pattern.subn(f"kerasnn.layers.{name}", source)
    if count == 0:
        raise AssertionError(f"`layers.{name}` does not occur in Keras' test file")
    return "import kerasnn.layers\n" + swapped


def methods_using(source, name):
    """``(class, method)`` of the test methods whose body uses ``kerasnn.layers.<name>``.

    Keras' files test several classes (GAP 1D/2D/3D): only the tests of ours are run.
    """
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                    if f"kerasnn.layers.{name}" in ast.get_source_segment(source, item):
                        found.append((node.name, item.name))
    return found


def base_test(test_name, methods):
    """The method a (possibly parameterized: ``test_x0``, ``test_x_name``) test comes from."""
    matches = [m for m in methods if test_name == m or test_name.startswith(m)]
    return max(matches, key=len) if matches else None


def excluded_reason(name, method):
    return EXCLUDED[name].get(method)


def run_keras_test_files(directory, names=tuple(TEST_FILES)):
    """Runs Keras' test files of ``names`` (on our classes) in one pytest subprocess.

    Returns ``{name: {"class::test": outcome}}``, outcome ``"passed"``, ``"skipped"`` or
    ``"failed: <message>"``; only the tests that use our class are kept.
    """
    directory = Path(directory)
    selected, files = {}, []
    for name in names:
        source_path = KERAS_DIR / "src" / "layers" / TEST_FILES[name]
        source = swap_class(source_path.read_text(), name)
        test_path = directory / f"keras_{name}_test.py"
        test_path.write_text(source)
        files.append(str(test_path))
        selected[name] = methods_using(source, name)
    expression = " or ".join(
        f"({cls} and {method})" for tests in selected.values() for cls, method in tests
    )
    report = directory / "report.xml"
    env = {
        **os.environ,
        "KERAS_BACKEND": keras.backend.backend(),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(directory), f"--junitxml={report}", "-k", expression, *files]
    completed = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    if not report.exists():
        raise AssertionError(f"pytest wrote no report:\n{completed.stdout[-3000:]}")
    outcomes = {name: {} for name in names}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        if "." not in case.get("classname", ""):  # a file that could not even be collected
            raise AssertionError(f"Keras' test files did not load:\n{completed.stdout[-3000:]}")
        module, cls = case.get("classname").rsplit(".", 1)
        name = module.split("keras_", 1)[1].rsplit("_test", 1)[0]
        methods = [m for c, m in selected[name] if c == cls]
        method = base_test(case.get("name"), methods)
        if method is None:
            continue  # selected by -k's substring match only; not a test of our class
        problem = case.find("failure")
        problem = problem if problem is not None else case.find("error")
        if problem is not None:
            outcome = "failed: " + (problem.get("message") or "")[:300]
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes[name][f"{cls}::{case.get('name')}"] = (method, outcome)
    return outcomes


@pytest.fixture(scope="module")
def keras_outcomes(request, tmp_path_factory):
    missing = [f for f in TEST_FILES.values() if not (KERAS_DIR / "src" / "layers" / f).exists()]
    if missing:
        pytest.skip(f"the installed Keras ({keras.__version__}) ships no test files {missing}")
    pytest.importorskip("absl.testing", reason="Keras' test files need absl-py")
    # One subprocess (one TensorFlow start-up) for the layers this session selected.
    names = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.module.__name__ == __name__
        and hasattr(item, "callspec")
        and "name" in item.callspec.params
    ]
    return run_keras_test_files(tmp_path_factory.mktemp("keras_tests"), names)


@pytest.mark.parametrize("name", list(TEST_FILES))
def test_keras_own_tests_pass_on_our_layer(name, keras_outcomes):
    outcomes = keras_outcomes[name]
    assert outcomes, "Keras' test file has no test of this class"
    failed = {t: o for t, (m, o) in outcomes.items() if o.startswith("failed")}
    unexpected = {t: o for t, o in failed.items() if excluded_reason(name, outcomes[t][0]) is None}
    passed = sum(o == "passed" for _, o in outcomes.values())
    print(
        f"\n{name}: {passed} passed, {len(failed)} failed ({len(failed) - len(unexpected)} "
        f"excluded), {sum(o == 'skipped' for _, o in outcomes.values())} skipped "
        f"of {len(outcomes)} (keras {keras.__version__})"
    )
    assert not unexpected, f"Keras tests failing on kerasnn.layers.{name}:\n" + "\n".join(
        f"  {t}: {o}" for t, o in sorted(unexpected.items())
    )
    # An exclusion that no longer fails is stale: keep the list honest.
    stale = set(EXCLUDED[name]) - {outcomes[t][0] for t in failed}
    assert not stale, f"excluded tests of {name} that now pass or no longer exist: {stale}"


def test_swap_class_replaces_only_the_class_under_test():
    source = "layers.LSTM(2)\nlayers.LSTMCell(2)\nkeras.layers.LSTM\nx.layers.LSTM\n"
    assert swap_class(source, "LSTM").splitlines() == [
        "import kerasnn.layers",
        "kerasnn.layers.LSTM(2)",
        "layers.LSTMCell(2)",
        "keras.layers.LSTM",
        "x.layers.LSTM",
    ]
