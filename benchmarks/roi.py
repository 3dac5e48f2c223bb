"""Throughput of kerasnn's vectorized RoIAlign / RoIPooling against a naive per-box implementation.

Both run in the same process on the same data: 512 boxes on a batch of 2 feature maps of
50 x 50 x 256 (a ResNet stride-16 map of an 800 x 800 image), 7 x 7 output, boxes in pixels with
``spatial_scale = 1/16``. The vectorized layers run as one compiled graph (``tf.function``, as
``model.predict`` does); the naive versions loop over boxes in Python (RoIPooling also over bins)
with eager ``keras.ops`` calls, so they are timed on the first ``--naive-boxes`` boxes and reported
as boxes per second. The script checks that both give the same numbers before timing. Last,
RoIAlign's adaptive sampling (``sampling_ratio=-1``) is timed against ``sampling_ratio=2``,
forward and forward + backward.

How to run::

    python benchmarks/roi.py            # about a minute on 2 CPU cores
    python benchmarks/roi.py --boxes 128 --naive-boxes 16
"""

import argparse
import functools
import math
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402  (tf.function: the compiled graph model.predict would use)
from keras import ops  # noqa: E402

from kerasnn.layers import RoIAlign, RoIPooling  # noqa: E402


def naive_roi_align(features, boxes, output_size, spatial_scale, sampling_ratio, aligned):
    """One box at a time: its sampling grid, four gathers per sample, mean per bin."""
    height, width = features.shape[1], features.shape[2]
    offset = 0.5 if aligned else 0.0
    results = []
    for b in range(boxes.shape[0]):
        for n in range(boxes.shape[1]):
            y1, x1, y2, x2 = (float(v) * spatial_scale - offset for v in boxes[b, n])
            roi_h, roi_w = y2 - y1, x2 - x1
            if not aligned:
                roi_h, roi_w = max(roi_h, 1.0), max(roi_w, 1.0)
            steps = (np.arange(output_size * sampling_ratio) + 0.5) / sampling_ratio
            ys = y1 + steps * roi_h / output_size
            xs = x1 + steps * roi_w / output_size
            inside_y = ((ys >= -1) & (ys <= height)).astype("float32")
            inside_x = ((xs >= -1) & (xs <= width)).astype("float32")
            ys = np.clip(ys, 0, height - 1)
            xs = np.clip(xs, 0, width - 1)
            y0 = np.floor(ys).astype("int32")
            x0 = np.floor(xs).astype("int32")
            y1i, x1i = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
            ly, lx = (ys - y0).astype("float32"), (xs - x0).astype("float32")
            fmap = features[b]
            top = ops.take(fmap, y0, axis=0)
            bottom = ops.take(fmap, y1i, axis=0)
            rows = top * (1 - ly)[:, None, None] + bottom * ly[:, None, None]
            rows = rows * inside_y[:, None, None]
            left = ops.take(rows, x0, axis=1)
            right = ops.take(rows, x1i, axis=1)
            samples = (left * (1 - lx)[None, :, None] + right * lx[None, :, None]) * inside_x[
                None, :, None
            ]
            samples = ops.reshape(
                samples, (output_size, sampling_ratio, output_size, sampling_ratio, -1)
            )
            results.append(ops.mean(samples, axis=(1, 3)))
    return ops.stack(results)


def naive_roi_pool(features, boxes, output_size, spatial_scale):
    """One box and one bin at a time, exactly as the Fast R-CNN paper describes it."""
    height, width = features.shape[1], features.shape[2]
    results = []
    for b in range(boxes.shape[0]):
        for n in range(boxes.shape[1]):
            y1, x1, y2, x2 = (math.floor(float(v) * spatial_scale + 0.5) for v in boxes[b, n])
            roi_h, roi_w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
            bins = []
            for p in range(output_size):
                h0 = min(max(p * roi_h // output_size + y1, 0), height)
                h1 = min(max(-(-(p + 1) * roi_h // output_size) + y1, 0), height)
                for q in range(output_size):
                    w0 = min(max(q * roi_w // output_size + x1, 0), width)
                    w1 = min(max(-(-(q + 1) * roi_w // output_size) + x1, 0), width)
                    if h1 <= h0 or w1 <= w0:
                        bins.append(ops.zeros((features.shape[-1],)))
                    else:
                        bins.append(ops.max(features[b, h0:h1, w0:w1], axis=(0, 1)))
            results.append(ops.reshape(ops.stack(bins), (output_size, output_size, -1)))
    return ops.stack(results)


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", type=int, default=512, help="boxes per image")
    parser.add_argument(
        "--naive-boxes", type=int, default=32, help="boxes per image for the naive loop"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    batch, size, channels, output_size, scale = 2, 50, 256, 7, 1 / 16
    features = tf.constant(rng.standard_normal((batch, size, size, channels)).astype("float32"))
    corners = np.sort(rng.uniform(0, size / scale, size=(batch, args.boxes, 2, 2)), axis=2)
    boxes_np = np.concatenate([corners[:, :, 0], corners[:, :, 1]], axis=-1).astype("float32")
    boxes = tf.constant(boxes_np)
    subset = boxes_np[:, : args.naive_boxes]
    print(
        f"{batch} x {size}x{size}x{channels} feature maps, {args.boxes} boxes per image, "
        f"{output_size}x{output_size} output; "
        f"naive loop timed on {args.naive_boxes} boxes per image"
    )

    layers = {
        "RoIAlign": (
            RoIAlign(output_size, scale, sampling_ratio=2, aligned=True),
            lambda b: naive_roi_align(features, b, output_size, scale, 2, True),
        ),
        "RoIPooling": (
            RoIPooling(output_size, scale),
            lambda b: naive_roi_pool(features, b, output_size, scale),
        ),
    }
    for name, (layer, naive) in layers.items():
        compiled = tf.function(lambda f, b, layer=layer: layer(f, b))
        vectorized_subset = keras.ops.convert_to_numpy(compiled(features, tf.constant(subset)))
        naive_out = keras.ops.convert_to_numpy(naive(subset))
        difference = np.abs(vectorized_subset - naive_out.reshape(vectorized_subset.shape)).max()
        compiled(features, boxes)  # trace once before timing
        fast = best_time(functools.partial(compiled, features, boxes), args.repeats)
        slow = best_time(functools.partial(naive, subset), max(1, args.repeats - 1))
        fast_rate = batch * args.boxes / fast
        slow_rate = batch * args.naive_boxes / slow
        print(
            f"{name:10s} vectorized {fast_rate:10.0f} boxes/s ({fast * 1000:7.1f} ms per batch) | "
            f"naive per-box {slow_rate:8.0f} boxes/s | speed-up x{fast_rate / slow_rate:6.1f} | "
            f"max |difference| {difference:.1e}"
        )

    adaptive_against_fixed(features, boxes, output_size, scale, args.repeats)


def adaptive_against_fixed(features, boxes, output_size, scale, repeats):
    """RoIAlign's adaptive sampling (torchvision's default ``sampling_ratio=-1``) against
    ``sampling_ratio=2``: boxes/s of the forward pass and of forward + backward (to the
    features). Goal: adaptive at least 0.5x the boxes/s of ``sampling_ratio=2``."""
    count = int(boxes.shape[0] * boxes.shape[1])
    rates = {}
    for ratio in (2, -1):
        layer = RoIAlign(output_size, scale, sampling_ratio=ratio, aligned=True)
        forward = tf.function(lambda f, b, layer=layer: layer(f, b))

        @tf.function
        def backward(f, b, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(f)
                loss = tf.reduce_sum(tf.square(layer(f, b)))
            return tape.gradient(loss, f)

        rates[ratio] = []
        for fn in (forward, backward):
            fn(features, boxes)  # trace once before timing
            rates[ratio].append(count / best_time(functools.partial(fn, features, boxes), repeats))
    for index, what in enumerate(("forward", "forward+backward")):
        print(
            f"RoIAlign {what:16s} sampling_ratio=-1 {rates[-1][index]:8.0f} boxes/s | "
            f"sampling_ratio=2 {rates[2][index]:8.0f} boxes/s | "
            f"ratio x{rates[-1][index] / rates[2][index]:.2f} (goal >= 0.5)"
        )


if __name__ == "__main__":
    main()
