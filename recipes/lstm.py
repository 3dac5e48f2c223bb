"""
Title: LSTM gates, the constant error carousel, stacked and bidirectional LSTMs
Course section: "LSTM", "Constant Error Carousel", "Forget Gate", "Input Gate", "Memory Gate",
"Output Gate", "Multiple Layer and Bidirectional LSTM", "Sequential Data Problems"
Description: Our LSTMCell (not keras.layers.LSTM, which is timed against it in the same run) on
the adding problem: its gates over time on one example, the carousel's gradient prod f_k against
the gradient of an RNN, stacks of 1, 2 and 3 layers. Bidirectional vs unidirectional LSTMs on
future tagging (the label at t is the input at t + 3), and a bidirectional "language model" that
reads the future: a perplexity below the best possible. Online: many-to-one sentiment on
imdb_reviews and a character model of tiny_shakespeare through --dataset.
How to run:
    python recipes/lstm.py                                # offline, embedded kerasnn_sequences
    python recipes/lstm.py --dataset imdb_reviews         # many-to-one BiLSTM (downloads)
    python recipes/lstm.py --dataset tiny_shakespeare     # character language model (downloads)
    python recipes/lstm.py --smoke                        # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np
from keras import ops

from kerasnn import cli, data, models, plots, recipe
from kerasnn.data.builders import sequences
from kerasnn.layers import recurrent

TAGGING, ADDING = "kerasnn_sequences/future_tagging", "kerasnn_sequences/adding_50"
ONLINE = ("imdb_reviews", "tiny_shakespeare")


def flags(parser):
    parser.add_argument("--units", type=cli.positive_int, default=16,
                        help="units of every LSTM layer (default: 16)")
    parser.add_argument("--max-layers", type=cli.positive_int, default=3,
                        help="stack 1 .. N LSTM layers on the adding problem (default: 3)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=1e-2,
                        help="Adam learning rate, gradients clipped to norm 1 (default: 0.01)")


def smoke(args):
    args.max_layers = 2


def compiled(model, learning_rate, loss="mean_squared_error", metrics=()):
    model.compile(keras.optimizers.Adam(learning_rate, clipnorm=1.0), loss, metrics=list(metrics))
    return model


def arrays(run, name):
    parts = data.load_splits(name, data_dir=run.args.data_dir,
                             limit=run.smoke_examples if run.args.smoke else None)
    return parts["train"], parts["validation"], parts["test"]


# ## Stacked LSTMs on the adding problem, and the built-in LSTM timed against ours


def adding_part(run, train, validation, test):
    results, trained = {}, {}
    for cell, layers in [("lstm", n) for n in range(1, run.args.max_layers + 1)] + [
            ("keras_lstm", 1)]:
        model = compiled(models.recurrent_network(train[0].shape[1:], 1, cell=cell,
                                                  units=run.args.units, num_layers=layers),
                         run.args.learning_rate)
        phase = f"adding/{cell}_{layers}"
        run.fit(phase, model, train[0], y=train[1], validation_data=validation, batch_size=32)
        key = f"adding_mse_stacked_{layers}" if cell == "lstm" else "adding_mse_keras_lstm"
        results[key] = float(model.evaluate(*test, verbose=0))
        trained[phase] = model
    seconds = run.epoch_seconds()
    timing = {"ours": seconds["adding/lstm_1"], "keras": seconds["adding/keras_lstm_1"]}
    return results, trained["adding/lstm_1"], timing


# ## The gates over time, and the carousel
#
# c_t = f_t c_{t-1} + i_t c~_t: along the memory, dc_T/dc_t = prod_{k>t} f_k. A trained LSTM keeps
# f near 1 between the markers, so the product stays large over all 50 steps; an RNN's gradient
# is a product of tanh'(z) V factors and shrinks geometrically.


def plot_gates(gates, example, path):
    plt = plots.pyplot()
    figure, axes = plt.subplots(5, 1, figsize=(7, 8), sharex=True)
    axes[0].plot(example[:, 0], label="value")
    axes[0].plot(example[:, 1], label="marker")
    axes[0].legend(fontsize=7)
    for axis, name in zip(axes[1:], ("forget_gate", "input_gate", "output_gate", "memory")):
        axis.plot(ops.convert_to_numpy(gates[name][0]), linewidth=0.8)
        axis.set_ylabel(name, fontsize=8)
    axes[-1].set_xlabel("step t")
    plots.save_figure(figure, path)


def carousel_vs_rnn(lstm_cell, x, units):
    # mean over the examples: (T, units); the unit that holds the memory is the largest
    carousel = np.mean(ops.convert_to_numpy(recurrent.carousel_gradient(lstm_cell, x)), axis=0)
    rnn = models.recurrent_network(x.shape[1:], 1, cell="rnn", units=units)
    norms = recurrent.gradient_norms_through_time(rnn.get_layer("recurrent_0").cell, x,
                                                   lambda outputs: ops.mean(outputs))
    return carousel[::-1], norms[::-1] / norms[-1]  # index: T - t - 1


def plot_carousel(carousel, rnn, path):
    plt = plots.pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    steps = np.arange(1, len(carousel) + 1)
    axis.semilogy(steps, carousel.max(axis=1), label="LSTM: prod f_k, largest unit (trained)")
    axis.semilogy(steps, carousel.mean(axis=1), label="LSTM: prod f_k, mean of the units")
    axis.semilogy(steps, np.maximum(rnn, 1e-30), label="RNN: ||dL/dh_t|| / ||dL/dh_T-1||")
    axis.set(xlabel="T - t", title="Gradient T - t steps back")
    axis.legend(fontsize=8)
    plots.save_figure(figure, path)


# ## Bidirectional vs unidirectional, and a language model that reads the future
#
# The label at t is the symbol at t + 3: a forward LSTM has not seen it (chance, 1/4); the
# backward half of a BiLSTM has. The same leak makes a "bidirectional language model" predict
# the next symbol from the backward pass: its perplexity drops below 4, the best any real
# language model can do on independent uniform symbols.


def tagging_part(run, train, validation, test):
    delay, results = sequences.TAGGING.delay, {}
    lm = lambda x: (x[:, :-1], x.argmax(-1)[:, 1:])  # noqa: E731  next-symbol targets
    for bidirectional in (False, True):
        direction = "bidirectional" if bidirectional else "unidirectional"
        for task, (x, y), val, (x_test, y_test) in [
                ("tagging", train, validation, test),
                ("lm", lm(train[0]), lm(validation[0]), lm(test[0]))]:
            model = compiled(
                models.recurrent_network(x.shape[1:], sequences.TAGGING.num_symbols, cell="lstm",
                                         units=run.args.units, bidirectional=bidirectional,
                                         per_step=True),
                run.args.learning_rate,
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            run.fit(f"{task}/{direction}", model, x, y=y, validation_data=val, batch_size=32,
                    epochs=max(1, run.args.epochs // 2))
            logits = model.predict(x_test, verbose=0)
            if task == "tagging":  # the last `delay` labels lie beyond the sequence: not scored
                correct = logits.argmax(-1)[:, :-delay] == y_test[:, :-delay]
                results[f"future_tagging_accuracy_{direction}"] = float(np.mean(correct))
            else:
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                results[f"lm_perplexity_{direction}"] = float(np.exp(loss(y_test, logits)))
    results["lm_perplexity_best_possible"] = float(sequences.TAGGING.num_symbols)
    return results


# ## Online data: many-to-one sentiment (imdb_reviews), a character model (tiny_shakespeare)


def online_part(run):
    spec = run.spec  # offline: exits 2 here, naming the embedded datasets
    run.open()
    units = run.args.units
    if run.args.dataset == "imdb_reviews":
        train, validation, test = run.splits()
        vectorize = keras.layers.TextVectorization(10_000, output_sequence_length=200)
        vectorize.adapt(train.map(lambda text, label: text))
        train, validation, test = [s.map(lambda text, label: (vectorize(text), label))
                                   for s in (train, validation, test)]
        model = models.recurrent_network((200,), 1, cell="lstm", units=units, bidirectional=True,
                                         output_activation="sigmoid", vocabulary_size=10_000)
        compiled(model, 1e-3, "binary_crossentropy", ["accuracy"])
        run.fit("imdb", model, train, validation_data=validation)
        return run.finish(test={"accuracy": float(model.evaluate(test, verbose=0)[1])},
                          model=model)
    texts = {part: next(iter(data.get_builder(spec.name, run.args.data_dir).as_dataset(
        split=part).as_numpy_iterator()))["text"].decode() for part in ("train", "test")}
    alphabet = {c: i + 1 for i, c in enumerate(sorted(set(texts["train"])))}  # 0: unknown
    ids = {part: np.array([alphabet.get(c, 0) for c in text]) for part, text in texts.items()}

    def windows(series, length=101):
        return series[: len(series) // length * length].reshape(-1, length)

    train, test = windows(ids["train"]), windows(ids["test"])
    model = models.recurrent_network((100,), len(alphabet) + 1, cell="lstm", units=4 * units,
                                     per_step=True, vocabulary_size=len(alphabet) + 1)
    compiled(model, 1e-2, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    run.fit("characters", model, train[:, :-1], y=train[:, 1:], batch_size=64)
    loss = model.evaluate(test[:, :-1], test[:, 1:], verbose=0)
    return run.finish(test={"perplexity": float(np.exp(loss))}, model=model, curves=("loss",))


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("lstm", __doc__, argv, dataset=TAGGING, epochs=10, tuner="none",
                     flags=flags, smoke=smoke)
    if run.args.dataset in ONLINE:
        return online_part(run)
    if run.args.dataset != TAGGING:
        raise cli.UserError(f"--dataset must be {TAGGING} or one of {', '.join(ONLINE)}; "
                            f"received {run.args.dataset!r}")
    adding = arrays(run, ADDING)
    tagging = arrays(run, TAGGING)
    run.open()

    test, lstm, timing = adding_part(run, *adding)
    recipe.table([{"model": key, "test_mse": value} for key, value in test.items()])
    print(f"seconds per epoch: our LSTMCell {timing['ours']:.3g}, "
          f"keras.layers.LSTMCell {timing['keras']:.3g}")

    x_test = adding[2][0]
    cell = lstm.get_layer("recurrent_0").cell
    plot_gates(cell.gate_activations(x_test[:1]), x_test[0], run.plot_path("gates"))
    carousel, rnn = carousel_vs_rnn(cell, x_test[:64], run.args.units)
    plot_carousel(carousel, rnn, run.plot_path("carousel"))
    carousel = {"largest": float(carousel[-1].max()), "mean": float(carousel[-1].mean())}
    print(f"gradient {x_test.shape[1]} steps back: LSTM carousel {carousel['largest']:.3g} "
          f"(largest unit; mean {carousel['mean']:.3g}), RNN {rnn[-1]:.3g} (relative to 1 back)")

    test.update(tagging_part(run, *tagging))
    recipe.table([{"figure": key, "value": value} for key, value in test.items()
                  if not key.startswith("adding")])
    return run.finish(test=test, model=lstm, curves=("loss",), epoch_seconds_ours=timing["ours"],
                      epoch_seconds_keras=timing["keras"], carousel_T_back=carousel,
                      rnn_gradient_T_back=float(rnn[-1]))


if __name__ == "__main__":
    main()
