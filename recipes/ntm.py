"""
Title: A Neural Turing Machine against an LSTM on copy and associative recall
Course section: "Beyond Seq2Seq Models", "Neural Turing Machines"
Description: An LSTM controller with an external N x M memory, read and write heads addressed
by content, interpolation, shift and sharpening (kerasnn.layers.NTMCell), against an LSTM of
about the same number of parameters. Both learn to copy sequences of random bit vectors of
length 1..10 and are tested on lengths 11..20, never seen: bit errors per sequence against
length. Then associative recall (given items and one of them, answer the next). The heads'
read and write weights over time show how the NTM uses its memory.
How to run:
    python recipes/ntm.py                     # offline, a few minutes
    python recipes/ntm.py --epochs 60         # longer training
    python recipes/ntm.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, plots, recipe
from kerasnn.data import algorithmic
from kerasnn.layers import LSTMCell, NTMCell

BITS = 6


def flags(parser):
    parser.add_argument("--train-sequences", type=cli.positive_int, default=4000,
                        help="training sequences per task (default: 4000)")
    parser.add_argument("--max-train-length", type=cli.positive_int, default=10,
                        help="longest training sequence; tests go to twice it (default: 10)")
    parser.add_argument("--memory-size", type=cli.positive_int, default=32,
                        help="N, memory rows of the NTM (default: 32)")


def smoke(args):
    args.train_sequences, args.max_train_length, args.memory_size = 64, 3, 8


# ## Two models with the same budget
#
# Stabilizers used (known from NTM reimplementations): a small constant initial memory, heads
# starting on row 0, gradient clipping (clipnorm 10), and Adam at 1e-3.


def build(kind, args):
    keras.utils.set_random_seed(args.seed)
    cell = (NTMCell(BITS, memory_size=args.memory_size, memory_width=8, controller_units=64)
            if kind == "ntm" else LSTMCell(72))  # about the NTM's parameter count
    inputs = keras.Input((None, BITS + 2))
    x = keras.layers.RNN(cell, return_sequences=True, name=kind)(inputs)
    if kind == "lstm":
        x = keras.layers.Dense(BITS, name="output")(x)
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(x), name=kind)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0),
                  loss="binary_crossentropy")
    return model


def errors_by_length(model, args, seed):
    """Mean bit errors per copied sequence, for every test length 1..2 * max_train_length."""
    rows = []
    for length in range(1, 2 * args.max_train_length + 1):
        inputs, targets, weights = algorithmic.copy_task(32, (length, length), BITS,
                                                         seed=seed + length)
        predictions = model.predict(inputs, verbose=0)
        rows.append(float(algorithmic.bit_errors(predictions, targets, weights).mean()))
    return rows


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("ntm", __doc__, argv, dataset="copy", epochs=25, batch_size=32,
                     tuner="none", max_trials=1, flags=flags, smoke=smoke,
                     tfds_dataset=False)
    args = run.args
    if args.dataset != "copy":
        raise cli.UserError("ntm.py generates its own tasks (copy, associative recall); "
                            f"--dataset {args.dataset} is not one of them")
    run.open()
    lengths = (1, args.max_train_length)
    copy = algorithmic.copy_task(args.train_sequences, lengths, BITS, seed=args.seed)
    recall = algorithmic.associative_recall(args.train_sequences, (2, 6), 3, BITS,
                                            seed=args.seed + 1)
    recall_test = algorithmic.associative_recall(500, (2, 6), 3, BITS, seed=args.seed + 2)

    results, curves, trained = {}, {}, {}
    for kind in ("ntm", "lstm"):
        # ## Copy: trained on lengths 1..max, tested up to twice as long
        model = build(kind, args)
        inputs, targets, weights = copy
        run.fit(f"copy_{kind}", model, inputs, y=targets, sample_weight=weights,
                batch_size=args.batch_size)
        curves[kind] = errors_by_length(model, args, seed=args.seed + 100)
        trained[kind] = model
        # ## Associative recall
        model = build(kind, args)
        inputs, targets, weights = recall
        run.fit(f"recall_{kind}", model, inputs, y=targets, sample_weight=weights,
                batch_size=args.batch_size)
        errors = algorithmic.bit_errors(model.predict(recall_test[0], verbose=0),
                                        *recall_test[1:])
        long = slice(args.max_train_length, None)
        results[kind] = {"model": kind, "params": model.count_params(),
                         "copy_bit_errors_short": float(np.mean(curves[kind][: long.start])),
                         "copy_bit_errors_long": float(np.mean(curves[kind][long])),
                         "recall_accuracy": float(np.mean(errors == 0))}
    recipe.table(list(results.values()))

    # ## Report: errors against length, and the heads at work
    plot_errors(run, curves, args.max_train_length)
    plot_heads(run, trained["ntm"], args)
    return run.finish(
        test={"copy_bit_error_ntm_long": results["ntm"]["copy_bit_errors_long"],
              "copy_bit_error_lstm_long": results["lstm"]["copy_bit_errors_long"],
              "recall_accuracy_ntm": results["ntm"]["recall_accuracy"],
              "recall_accuracy_lstm": results["lstm"]["recall_accuracy"]},
        model=trained["ntm"], curves=("loss",), models=list(results.values()),
        copy_bit_errors_by_length=curves)


def plot_errors(run, curves, max_train_length):
    figure, axis = plots.pyplot().subplots(figsize=(6, 3.6))
    for kind, errors in curves.items():
        axis.plot(range(1, len(errors) + 1), errors, marker="o", label=kind)
    axis.axvline(max_train_length + 0.5, color="grey", linestyle=":", label="longest trained")
    axis.set_xlabel("sequence length")
    axis.set_ylabel("bit errors per sequence")
    axis.legend()
    plots.save_figure(figure, run.plot_path("copy_errors_by_length"))


def plot_heads(run, model, args):
    """Read and write weights of every step of one copy example (unrolled by hand)."""
    cell = model.get_layer("ntm").cell
    inputs, _, _ = algorithmic.copy_task(1, (args.max_train_length,) * 2, BITS, seed=7)
    states = cell.get_initial_state(1)
    reads, writes = [], []
    for step in range(inputs.shape[1]):
        _, states = cell(inputs[:, step], states)
        reads.append(keras.ops.convert_to_numpy(states[4])[0])
        writes.append(keras.ops.convert_to_numpy(states[5])[0])
    figure, axes = plots.pyplot().subplots(1, 2, figsize=(10, 3.6))
    for axis, weights, title in ((axes[0], writes, "write weights"), (axes[1], reads,
                                                                       "read weights")):
        axis.imshow(np.array(weights).T, cmap="gray_r", aspect="auto")
        axis.set_xlabel("time step")
        axis.set_ylabel("memory row")
        axis.set_title(title)
    plots.save_figure(figure, run.plot_path("heads"))


if __name__ == "__main__":
    main()
