"""A quiet start: TensorFlow's start-up notices are filtered, everything else stays visible."""

import os
import subprocess
import sys

from kerasnn import quiet

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)

STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1.2 4352 port.cc:153] oneDNN custom operations are on. You may see slightly different
I0000 00:00:1.3 4352 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not
I0000 00:00:1.4 4352 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow
E0000 00:00:1.5 4352 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error (303)
E0000 00:00:1.6 4352 some_kernel.cc:10] Out of memory while allocating 4.0GiB
"""


def test_filter_keeps_only_what_is_not_a_known_notice():
    assert quiet.filter_notices(STARTUP) == (
        "E0000 00:00:1.6 4352 some_kernel.cc:10] Out of memory while allocating 4.0GiB\n"
    )


def _stderr_of(code, **env):
    environment = {**os.environ, "PYTHONPATH": os.path.abspath(ROOT), **env}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # conftest sets it; a user's shell does not
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_importing_tensorflow_through_quiet_prints_no_notice_but_keeps_our_lines():
    code = ("import kerasnn.quiet, sys, keras; keras.ops.ones(2); "
            "print('ours', file=sys.stderr)")
    assert _stderr_of(code).strip() == "ours"
    # Asked for, TensorFlow's own start-up lines come through unfiltered.
    assert "oneDNN custom operations" in _stderr_of(code, KERASNN_TF_LOGS="1")
