"""Import TensorFlow without its start-up noise; import this module before ``keras``.

TensorFlow 2.21 writes a dozen lines to the process's standard error when it is imported and
when it first looks for devices (the oneDNN notice, "Could not find cuda drivers", the CPU
feature notice, ``cuInit`` errors on a machine without a GPU). They come from C++ code that
runs before absl's logging is initialized, so ``TF_CPP_MIN_LOG_LEVEL`` does not silence them,
and they are written to file descriptor 2 directly, so redirecting ``sys.stderr`` does not
either. This module points descriptor 2 at a temporary file while TensorFlow is imported and
its devices are listed, then restores it and writes back every captured line that is not one of
those known notices: a real error stays visible.

Set ``KERASNN_TF_LOGS=1`` to see TensorFlow's own start-up lines unfiltered. Recipes import this
module first (``import kerasnn.quiet``); the library never does.
"""

import os
import re
import sys
import tempfile

# Start-up notices of TensorFlow (and its CUDA stubs) that say nothing about the user's run.
NOTICES = re.compile(
    r"All log messages before absl::InitializeLog"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers"
    r"|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|To enable the following instructions"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning"
)


def filter_notices(text):
    """The lines of ``text`` that are not known TensorFlow start-up notices."""
    return "".join(line for line in text.splitlines(keepends=True) if not NOTICES.search(line))


def import_tensorflow_quietly():
    """Import TensorFlow and list its devices with the start-up notices filtered out."""
    if "tensorflow" in sys.modules or os.environ.get("KERASNN_TF_LOGS") == "1":
        return
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (a notebook, a test capture)
        descriptor = 2
    # Once absl's logging is up, this hides TensorFlow's INFO lines (warnings and errors stay).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), descriptor)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the device search prints the cuInit error
        finally:
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            captured.seek(0)
            remaining = filter_notices(captured.read().decode("utf-8", "replace"))
            if remaining:
                sys.stderr.write(remaining)
                sys.stderr.flush()


if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    import_tensorflow_quietly()
