"""Builder speed: epoch time of each recipe model with the course's layers / with Keras' built-ins.

Every model is built twice with the same seed, once as the builders make it (``kerasnn.layers``'s
``BatchNormalization``, ``GlobalAveragePooling2D``, ``ClassActivationMapping``) and once inside
``models.keras_builtin_layers()``, and trained with ``fit`` on the same random data (default 512
examples, batch 32, Adam). After one warm-up epoch each (tracing), the two models' epochs
alternate, so a busy machine slows both alike; the ratio is median(ours) / median(built-in) over
``--repeats`` epochs, of the wall-clock time and of the process's CPU time (all threads; less
sensitive to other processes sharing the cores). Goal: at most 1.15.

Models (those the recipes train):
- ``lenet5`` (32x32x1, recipes/cnn.py): no normalization or global pooling, so the two builds are
  the same model: the line shows the measurement's noise;
- ``vgg`` with batch normalization (32x32x3, two blocks of 2x(3x3 conv -> BN -> ReLU), Dense 128);
- ``inception_net`` (32x32x3, the default small net: GAP -> Dropout -> Dense), and with the
  CAM head;
- ``mlp`` with batch normalization (28x28x1 unrolled, hidden (256, 128));
- the transfer-learning classifier: ``small_cnn_backbone`` (32x32x3, BN, GAP) -> Dense 64 ->
  softmax.

Usage::

    python benchmarks/builders.py               # about two minutes on 2 CPU cores
    python benchmarks/builders.py --repeats 3 --examples 256
"""

import kerasnn.quiet  # noqa: F401  (before TensorFlow: hides its start-up lines)

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasnn import models  # noqa: E402

NUM_CLASSES = 10


def _small_cnn_classifier():
    return models.classifier(models.small_cnn_backbone((32, 32, 3)), NUM_CLASSES)


MODELS = {
    "lenet5": lambda: models.lenet5((32, 32, 1), NUM_CLASSES),
    "vgg (batch normalization)": lambda: models.vgg(
        (32, 32, 3),
        NUM_CLASSES,
        filters=(32, 64),
        convs_per_block=2,
        dense_units=(128,),
        dropout=0.25,
        batch_normalization=True,
    ),
    "inception_net": lambda: models.inception_net((32, 32, 3), NUM_CLASSES),
    "inception_net (CAM head)": lambda: models.inception_net((32, 32, 3), NUM_CLASSES, head="cam"),
    "mlp (batch normalization)": lambda: models.mlp(
        (28, 28, 1), NUM_CLASSES, hidden_units=(256, 128), batch_normalization=True
    ),
    "transfer classifier (small_cnn)": _small_cnn_classifier,
}


def _compiled(build, seed):
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def _epoch_seconds(model, x, y, batch_size):
    """(wall, CPU) seconds of one epoch."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(name, build, examples, batch_size, repeats, seed=0):
    """Print and return median epoch seconds of ours, of the built-in twin, and their ratio."""
    ours = _compiled(build, seed)
    with models.keras_builtin_layers():
        builtin = _compiled(build, seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(examples,) + tuple(ours.input_shape[1:])).astype("float32")
    y = rng.integers(0, NUM_CLASSES, examples)
    for model in (ours, builtin):  # trace the train step
        _epoch_seconds(model, x, y, batch_size)
    ours_times, builtin_times = [], []
    for _ in range(repeats):
        ours_times.append(_epoch_seconds(ours, x, y, batch_size))
        builtin_times.append(_epoch_seconds(builtin, x, y, batch_size))
    figures = []
    for clock in (0, 1):  # wall, CPU
        ours_s = statistics.median(t[clock] for t in ours_times)
        builtin_s = statistics.median(t[clock] for t in builtin_times)
        figures += [ours_s, builtin_s, ours_s / builtin_s]
    verdict = "" if min(figures[2], figures[5]) <= 1.15 else "  above the 1.15x goal"
    print(
        f"{name:<32} {figures[0]:6.3f} s {figures[1]:6.3f} s {figures[2]:5.2f}x"
        f"   {figures[3]:6.3f} s {figures[4]:6.3f} s {figures[5]:5.2f}x{verdict}",
        flush=True,
    )
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=512, help="examples per epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per model (median)")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS), help="models to time")
    args = parser.parse_args(argv)
    print(
        f"{args.examples} examples, batch {args.batch_size}, median of {args.repeats} epochs, "
        f"{os.cpu_count()} CPU(s), Keras {keras.__version__} ({keras.backend.backend()})"
    )
    print(f"{'':<32} {'wall clock':^26}   {'CPU time':^26}")
    header = f"{'ours':>8} {'built-in':>8} {'ratio':>6}"
    print(f"{'model (ours / built-in layers)':<32} {header}   {header}")
    for name, build in MODELS.items():
        if args.only and name not in args.only:
            continue
        compare(name, build, args.examples, args.batch_size, args.repeats)


if __name__ == "__main__":
    main()
