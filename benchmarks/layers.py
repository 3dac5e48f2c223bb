"""Layer speed: forward + backward time of kerasnn layers as a ratio to their Keras counterparts.

Each line times one training-style step (forward pass, then gradients with respect to the input
and the trainable weights) of our layer and of its reference, compiled with ``tf.function``, on
the same batch (default 64 x 32 x 32 x 64, float32), measured alternately in the same run. The
ratio is median(ours) / median(reference) over ``--repeats`` timings of ``--steps`` steps each.
Target: at most 1.25 for the layers with a built-in counterpart.

References:
- BatchNormalization, GhostBatchNormalization(virtual_batch_size=16), TimeStepBatchNormalization
  (the batch seen as 1024 time steps of 64 features): ``keras.layers.BatchNormalization``, training.
- BatchNormalization with batch renormalization, and with a mask: the same Keras layer, likewise.
- GlobalAveragePooling2D: ``keras.layers.GlobalAveragePooling2D``.
- LSTM(64) over 32 steps: ``keras.layers.LSTM`` (both on the backend's RNN loop on CPU).
- ClassActivationMapping (scores only): ``GlobalAveragePooling2D`` -> ``Dense(10)``.
- MaxPoolingWithArgmax2D: ``keras.layers.MaxPooling2D`` (ours also computes the argmax indices),
  and TensorFlow's own ``tf.nn.max_pool_with_argmax`` (same outputs, TF only).
- BedOfNailsUpsampling2D: ``keras.layers.UpSampling2D`` (nearest; a different but as cheap
  operation, the natural cost reference).
- MaxUnpooling2D (scatter of the indices): a naive gather-free formulation that needs the
  pre-pooling input, ``nearest-upsample(values) * (input == nearest-upsample(values))``.

Usage::

    python benchmarks/layers.py              # about a minute on 2 CPU cores
    python benchmarks/layers.py --batch 16 --repeats 5
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402  (tf.function / GradientTape for the timed step)

from kerasnn import layers  # noqa: E402


def _first(outputs):
    return outputs[0] if isinstance(outputs, (tuple, list)) else outputs


def _step_function(layer_call, variables):
    """A compiled forward+backward step of ``layer_call``.

    The loss is put on the layer's (first) output; every output is also returned, so that graph
    optimizations cannot prune outputs that carry no gradient (argmax indices).
    """
    layer_call = tf.autograph.experimental.do_not_convert(layer_call)
    variables = list(variables)

    @tf.function
    def step(inputs, upstream):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer_call(inputs)
            loss = tf.reduce_sum(_first(outputs) * upstream)
        return outputs, tape.gradient(loss, [inputs] + variables)

    return step


def _time(step, inputs, upstream, steps):
    start = time.perf_counter()
    for _ in range(steps):
        result = step(inputs, upstream)
    # Wait for the last result (asynchronous devices).
    [np.asarray(r) for r in tf.nest.flatten(result) if r is not None]
    return (time.perf_counter() - start) / steps


def _compare(name, ours, reference, inputs, steps, repeats, only=None, note=""):
    """ours / reference: (callable, trainable variables) pairs on the same inputs."""
    if only and not any(word.lower() in name.lower() for word in only):
        return None
    ours_step = _step_function(*ours)
    reference_step = _step_function(*reference)
    upstream = tf.random.normal(tf.shape(_first(ours[0](inputs))), seed=1)
    reference_upstream = tf.random.normal(tf.shape(_first(reference[0](inputs))), seed=1)
    ours_step(inputs, upstream)  # trace and warm up
    reference_step(inputs, reference_upstream)
    ours_times, reference_times = [], []
    for _ in range(repeats):  # alternate, so a busy machine slows both alike
        ours_times.append(_time(ours_step, inputs, upstream, steps))
        reference_times.append(_time(reference_step, inputs, reference_upstream, steps))
    ours_ms = 1e3 * statistics.median(ours_times)
    reference_ms = 1e3 * statistics.median(reference_times)
    ratio = ours_ms / reference_ms
    print(f"{name:<42} {ours_ms:9.2f} ms {reference_ms:9.2f} ms {ratio:7.2f}x  {note}")
    return ours_ms / reference_ms


def _training_call(layer):
    return lambda x: layer(x, training=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="height and width")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=11, help="timings per layer (median)")
    parser.add_argument("--only", nargs="*", help="time only the lines whose name contains one")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    shape = (args.batch, args.size, args.size, args.channels)
    x = tf.random.normal(shape)
    run = dict(steps=args.steps, repeats=args.repeats, only=args.only)
    print(
        f"input {shape}, float32, {args.repeats} x {args.steps} steps, tf.function, "
        f"{os.cpu_count()} CPU(s), TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )
    print(f"{'layer (ours vs reference)':<42} {'ours':>12} {'reference':>12} {'ratio':>8}")

    def built(layer, example):
        layer(example)  # build outside the tf.function
        return layer

    keras_bn = built(keras.layers.BatchNormalization(), x)
    bn = built(layers.BatchNormalization(), x)
    _compare(
        "BatchNormalization (training)",
        (_training_call(bn), bn.trainable_weights),
        (_training_call(keras_bn), keras_bn.trainable_weights),
        x,
        **run,
    )
    renorm_kwargs = {"renorm": True, "renorm_clipping": {"rmax": 3.0, "rmin": 1 / 3, "dmax": 5.0}}
    keras_renorm = built(keras.layers.BatchNormalization(**renorm_kwargs), x)
    renorm = built(layers.BatchNormalization(**renorm_kwargs), x)
    _compare(
        "BatchNormalization(renorm) (training)",
        (_training_call(renorm), renorm.trainable_weights),
        (_training_call(keras_renorm), keras_renorm.trainable_weights),
        x,
        **run,
    )
    mask = tf.random.uniform(shape[:-1]) > 0.2
    _compare(
        "BatchNormalization (training, masked)",
        (lambda t: bn(t, training=True, mask=mask), bn.trainable_weights),
        (lambda t: keras_bn(t, training=True, mask=mask), keras_bn.trainable_weights),
        x,
        **run,
    )
    ghost = built(layers.GhostBatchNormalization(virtual_batch_size=16), x)
    _compare(
        "GhostBatchNormalization(16) (training)",
        (_training_call(ghost), ghost.trainable_weights),
        (_training_call(keras_bn), keras_bn.trainable_weights),
        x,
        **run,
    )
    sequence = tf.reshape(x, (args.batch, args.size * args.size, args.channels))
    keras_bn_sequence = built(keras.layers.BatchNormalization(), sequence)
    time_step = built(layers.TimeStepBatchNormalization(), sequence)
    _compare(
        "TimeStepBatchNormalization (training)",
        (_training_call(time_step), time_step.trainable_weights),
        (_training_call(keras_bn_sequence), keras_bn_sequence.trainable_weights),
        sequence,
        **run,
        note="per-step statistics",
    )

    gap, keras_gap = layers.GlobalAveragePooling2D(), keras.layers.GlobalAveragePooling2D()
    _compare("GlobalAveragePooling2D", (gap, []), (keras_gap, []), x, **run)

    # LSTM: the sequence is (batch, 32 steps, channels features), 64 units.
    steps_sequence = sequence[:, : args.size]
    keras_lstm = built(keras.layers.LSTM(64, return_sequences=True), steps_sequence)
    lstm = built(layers.LSTM(64, return_sequences=True), steps_sequence)
    _compare(
        "LSTM(64, return_sequences) (training)",
        (_training_call(lstm), lstm.trainable_weights),
        (_training_call(keras_lstm), keras_lstm.trainable_weights),
        steps_sequence,
        **run,
    )

    cam = built(layers.ClassActivationMapping(10), x)
    dense = built(keras.layers.Dense(10), keras_gap(x))
    _compare(
        "ClassActivationMapping (scores)",
        (cam, cam.trainable_weights),
        (lambda t: dense(keras_gap(t)), dense.trainable_weights),
        x,
        **run,
        note="vs GAP -> Dense",
    )

    pool, keras_pool = layers.MaxPoolingWithArgmax2D(), keras.layers.MaxPooling2D()
    _compare(
        "MaxPoolingWithArgmax2D (values+indices)",
        (pool, []),
        (keras_pool, []),
        x,
        **run,
        note="reference has no indices",
    )

    native = tf.autograph.experimental.do_not_convert(
        lambda t: tf.nn.max_pool_with_argmax(t, 2, 2, "VALID", include_batch_in_index=False)
    )
    _compare(
        "MaxPoolingWithArgmax2D vs TF native op",
        (pool, []),
        (native, []),
        x,
        **run,
        note="tf.nn.max_pool_with_argmax",
    )

    pooled = keras_pool(x)
    nails, nearest = layers.BedOfNailsUpsampling2D(), keras.layers.UpSampling2D()
    _compare(
        "BedOfNailsUpsampling2D",
        (nails, []),
        (nearest, []),
        pooled,
        **run,
        note="vs nearest UpSampling2D",
    )

    values, indices = pool(x)
    unpool = layers.MaxUnpooling2D()

    def naive_unpool(v):
        # Gather-free: upsample the maxima and keep them where the original input equals them.
        upsampled = keras.ops.repeat(keras.ops.repeat(v, 2, axis=1), 2, axis=2)
        return upsampled * keras.ops.cast(keras.ops.equal(x, upsampled), v.dtype)

    _compare(
        "MaxUnpooling2D (scatter)",
        (lambda v: unpool([v, indices]), []),
        (naive_unpool, []),
        values,
        **run,
        note="vs naive gather-free formulation",
    )


if __name__ == "__main__":
    main()
