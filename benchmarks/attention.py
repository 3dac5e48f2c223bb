"""Forward+backward speed of kerasnn's sequence layers against the Keras built-ins, in one run.

Prints, for each pair, the median time of one training step (forward, loss, gradients; no
optimizer update) of our layer and of the built-in with the same shapes, and their ratio:

- ``kerasnn.layers.MultiHeadAttention`` vs ``keras.layers.MultiHeadAttention`` (target <= 1.25x),
  plain, gated, with a sliding window, and over two attention axes of rank-4 inputs;
- ``kerasnn.layers.LSTM`` vs ``keras.layers.LSTM``;
- ``keras.layers.RNN(kerasnn.layers.LSTMCell)`` vs ``keras.layers.LSTM`` (target <= 1.5x on CPU;
  on a GPU the built-in uses cuDNN's fused kernel, which a from-scratch cell cannot);
- ``kerasnn.layers.TransformerEncoderBlock`` vs the same stack of built-in layers
  (MultiHeadAttention, LayerNormalization, Dense, Dense, LayerNormalization).

The two sides of a pair are timed in alternation, so machine load affects both alike.

How to run: ``python benchmarks/attention.py`` (``--repeats 30`` for steadier figures).
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402  (tf.function + GradientTape: the training step we time)

from kerasnn import layers  # noqa: E402


def training_step(model):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        return tape.gradient(loss, model.trainable_weights)

    return step


def compare(name, ours, builtin, x, repeats):
    steps = {"ours": training_step(ours), "built-in": training_step(builtin)}
    times = {key: [] for key in steps}
    for step in steps.values():  # trace and warm up
        step(x)
        step(x)
    for _ in range(repeats):
        for key, step in steps.items():
            start = time.perf_counter()
            grads = step(x)
            [g.numpy() for g in grads[:1]]  # wait for the result
            times[key].append(time.perf_counter() - start)
    ours_ms, builtin_ms = (1e3 * float(np.median(times[key])) for key in ("ours", "built-in"))
    print(f"{name:<40} {ours_ms:9.2f} {builtin_ms:11.2f} {ours_ms / builtin_ms:8.2f}x")


def attention_models(batch, length, dim, heads, positions=(), **kwargs):
    """Self-attention models; ``positions`` adds axes before the sequence (``attention_axes``)."""
    shape = tuple(positions) + (length, dim)
    x = keras.Input(shape)
    ours = keras.Model(x, layers.MultiHeadAttention(heads, dim // heads, **kwargs)(x, x))
    builtin = keras.Model(x, keras.layers.MultiHeadAttention(heads, dim // heads, **kwargs)(x, x))
    return ours, builtin, np.random.rand(batch, *shape).astype("float32")


def lstm_models(batch, length, features, units, cell_only=False):
    x = keras.Input((length, features))
    if cell_only:
        ours = keras.Model(x, keras.layers.RNN(layers.LSTMCell(units), return_sequences=True)(x))
    else:
        ours = keras.Model(x, layers.LSTM(units, return_sequences=True)(x))
    builtin = keras.Model(x, keras.layers.LSTM(units, return_sequences=True)(x))
    return ours, builtin, np.random.rand(batch, length, features).astype("float32")


def encoder_models(batch, length, dim, heads, hidden):
    x = keras.Input((length, dim))
    ours = keras.Model(x, layers.TransformerEncoderBlock(heads, hidden, layer_norm_epsilon=1e-5)(x))
    y = keras.layers.LayerNormalization(epsilon=1e-5)(
        x + keras.layers.MultiHeadAttention(heads, dim // heads)(x, x)
    )
    z = keras.layers.Dense(dim)(keras.layers.Dense(hidden, activation="relu")(y))
    builtin = keras.Model(x, keras.layers.LayerNormalization(epsilon=1e-5)(y + z))
    return ours, builtin, np.random.rand(batch, length, dim).astype("float32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed steps per layer")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.repeats <= 0 or args.batch_size <= 0:
        parser.error("--repeats and --batch-size must be positive")
    keras.utils.set_random_seed(0)
    device = tf.config.list_physical_devices("GPU")
    print(
        f"device: {'GPU ' + device[0].name if device else 'CPU'}; "
        f"{args.repeats} steps per layer, batch {args.batch_size}"
    )
    print(f"{'forward+backward, median ms':<40} {'ours':>9} {'built-in':>11} {'ratio':>9}")
    batch = args.batch_size
    compare(
        "MultiHeadAttention (T=64, D=128, 8h)", *attention_models(batch, 64, 128, 8), args.repeats
    )
    compare(
        "  gated (use_gate=True)",
        *attention_models(batch, 64, 128, 8, use_gate=True),
        args.repeats,
    )
    compare(
        "  sliding_window=16",
        *attention_models(batch, 64, 128, 8, sliding_window=16),
        args.repeats,
    )
    compare(
        "  4x16 positions, attention_axes=(1, 2)",
        *attention_models(batch, 16, 128, 8, positions=(4,), attention_axes=(1, 2)),
        args.repeats,
    )
    compare(
        "  4x16 positions, attention_axes=2",
        *attention_models(batch, 16, 128, 8, positions=(4,), attention_axes=2),
        args.repeats,
    )
    compare("LSTM vs keras LSTM (T=50, 64u)", *lstm_models(batch, 50, 32, 64), args.repeats)
    compare(
        "RNN(LSTMCell) vs LSTM (T=50, 64u)",
        *lstm_models(batch, 50, 32, 64, cell_only=True),
        args.repeats,
    )
    compare(
        "TransformerEncoderBlock (T=64, D=128)",
        *encoder_models(batch, 64, 128, 8, 256),
        args.repeats,
    )


if __name__ == "__main__":
    main()
