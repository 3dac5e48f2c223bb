"""
Title: Memoryless models vs recurrent networks; backpropagation through time and its truncation
Course section: "Memoryless Models for Sequences", "Autoregressive Models", "Feed Forward NN",
"Dynamic Systems", "Recurrent NN", "Backpropagation Through Time", "The Vanishing Gradient"
Description: (1) Predict the next value of an AR(2) process and of a linear-Gaussian dynamic
system with memoryless models -- AR(p) by least squares, a feed-forward net on p delay taps --
and with the course's RNN, against the optimal predictor (the Kalman filter). (2) BPTT: the notes'
update with the average of the replicas' gradients is autodiff's with eta/U. (3) Vanishing and
exploding gradients: ||dL_T/dh_t|| against T - t for sigmoid, tanh and ReLU RNNs with a good and a
bad initialization, and clipping. (4) The adding problem at T = 50/100/200 for the RNN and the
LSTM, and truncated BPTT with U below the marker distance.
How to run:
    python recipes/rnn.py                               # offline, embedded kerasnn_sequences
    python recipes/rnn.py --lengths 100 --epochs 25     # T = 100 only, a larger budget
    python recipes/rnn.py --smoke                       # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np
from keras import ops

from kerasnn import backend, cli, data, models, plots, recipe
from kerasnn.data.builders import sequences
from kerasnn.layers import recurrent

SERIES = {"kerasnn_sequences/ar_process": "ar", "kerasnn_sequences/linear_dynamics": "dynamics"}
SOLVED_MSE = 0.005  # the adding problem counts as solved below this validation MSE


def flags(parser):
    parser.add_argument("--lengths", default="50,100,200",
                        help="adding-problem lengths T, from 50, 100, 200 (default: 50,100,200)")
    parser.add_argument("--units", type=cli.positive_int, default=16,
                        help="units of every recurrent layer (default: 16)")
    parser.add_argument("--order", type=cli.positive_int, default=4,
                        help="p, delay taps of the memoryless models (default: 4)")
    parser.add_argument("--truncation", type=cli.positive_int, default=25,
                        help="U of the truncated-BPTT run at the shortest T (default: 25)")
    parser.add_argument("--series-epochs", type=cli.positive_int, default=5,
                        help="epochs of the RNN of part (1), half for the feed-forward net "
                             "(default: 5; --epochs is the adding problem's budget)")
    parser.add_argument("--learning-rate", type=cli.positive_float, default=1e-2,
                        help="Adam learning rate, gradients clipped to norm 1 (default: 0.01)")


def smoke(args):
    args.lengths, args.series_epochs = "50", 1


def parse_lengths(text):
    lengths = sorted({int(p) for p in text.split(",") if p.isdigit()})
    if not lengths or not set(lengths) <= {50, 100, 200}:
        raise cli.UserError(f"--lengths must be a comma-separated subset of 50,100,200; "
                            f"received {text!r}")
    return lengths


def compile_regressor(model, learning_rate):
    model.compile(keras.optimizers.Adam(learning_rate, clipnorm=1.0), "mean_squared_error")
    return model


class StopWhenSolved(keras.callbacks.Callback):
    """Stop once the validation MSE is below ``SOLVED_MSE`` (the same rule for every model)."""

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("val_loss", np.inf) < SOLVED_MSE:
            self.model.stop_training = True


def mse(predictions, targets):
    return float(np.mean((np.reshape(predictions, np.shape(targets)) - targets) ** 2))


# ## (1) Memoryless models vs a model with memory
#
# A memoryless model sees only the last p values (delay taps). For the AR(2) process p >= 2 taps
# are enough; the dynamic system's hidden state depends on the whole past, which the RNN's
# context c^t can summarise and no finite p can.


def series_part(run, name, splits):
    (x, y), _, (x_test, y_test) = splits
    p, key = run.args.order, SERIES[name]
    optimal, _ = sequences.kalman_predictions(sequences.SYSTEMS[name.split("/")[1]],
                                              x_test[..., 0])
    coefficients, intercept = models.autoregressive_least_squares(x[..., 0], y, p)
    least_squares = models.delay_taps(x_test[..., 0], p) @ coefficients + intercept

    feedforward = models.mlp((p,), 1, hidden_units=(32,), output_activation=None,
                             name="feedforward")
    compile_regressor(feedforward, 1e-2)
    run.fit(f"{key}/feedforward", feedforward, models.delay_taps(x[..., 0], p).reshape(-1, p),
            y=y.reshape(-1), epochs=max(1, run.args.series_epochs // 2), batch_size=1024)
    taps = models.delay_taps(x_test[..., 0], p).reshape(-1, p)

    rnn = models.recurrent_network(x.shape[1:], 1, cell="rnn", units=run.args.units,
                                   hidden_units=8, per_step=True, name="course_rnn")
    compile_regressor(rnn, run.args.learning_rate)
    run.fit(f"{key}/rnn", rnn, x, y=y[..., None], epochs=run.args.series_epochs, batch_size=32)
    return {
        f"{key}_mse_optimal": mse(optimal, y_test),
        f"{key}_mse_least_squares": mse(least_squares, y_test),
        f"{key}_mse_feedforward": mse(feedforward.predict(taps, verbose=0), y_test),
        f"{key}_mse_rnn": mse(rnn.predict(x_test, verbose=0), y_test),
        f"{key}_optimal_expected": sequences.optimal_mse(name.split("/")[1]),
    }


# ## (2) BPTT: replicas and their average
#
# Unrolled for U steps, the network holds U replicas W^t of each weight. The notes update
# W <- W - eta (1/U) sum_t dE/dW^t; autodiff's gradient of the shared weight is the sum over the
# replicas, so the notes' step is autodiff's with a learning rate eta / U.


def bptt_identity(sequence, eta=0.1):
    cell = models.make_cell("rnn", 4, hidden_units=2)
    rnn = keras.layers.RNN(cell)
    rnn(sequence)  # builds the weights

    def loss(outputs):
        return ops.mean(outputs**2)

    replicas = recurrent.replica_gradients(cell, sequence, loss)
    weights = [v.value for v in rnn.trainable_variables]
    _, shared = backend.value_and_gradient(
        lambda w: loss(rnn.stateless_call(w, [], sequence)[0]), weights)
    steps = sequence.shape[1]
    notes_step = [eta * np.mean(r, axis=0) for r in replicas]
    autodiff_step = [eta / steps * ops.convert_to_numpy(g) for g in shared]
    return max(float(np.max(np.abs(a - b))) for a, b in zip(notes_step, autodiff_step))


# ## (3) Vanishing and exploding gradients
#
# dL_T/dh_t is a product of T - t Jacobians diag(f'(z)) V. With sigmoid (f' <= 1/4) or saturated
# tanh it shrinks geometrically; ReLU keeps f' = 1 where active, so the recurrent weights decide:
# a good (orthogonal) initialization keeps the norm, a large random one makes it explode.

def gradient_study(sequences_, targets, units):
    # "large": N(0, 4/units) recurrent weights, spectral radius about 2
    inits = {"orthogonal": "orthogonal",
             "large": keras.initializers.RandomNormal(stddev=2.0 / np.sqrt(units), seed=0)}
    curves = {}
    for activation in ("sigmoid", "tanh", "relu"):
        for init_name, initializer in inits.items():
            model = models.recurrent_network(sequences_.shape[1:], 1, cell="rnn", units=units,
                                             activation=activation,
                                             recurrent_initializer=initializer)
            head = model.get_layer("output")

            def loss(outputs, head=head):
                return ops.mean((head(outputs)[:, 0] - targets) ** 2)

            norms = recurrent.gradient_norms_through_time(
                model.get_layer("recurrent_0").cell, sequences_, loss)
            curves[f"{activation}, {init_name}"] = norms[::-1]  # index: T - t - 1
    return curves


def plot_gradients(curves, path, clip_norm=1.0):
    plt = plots.pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, norms in curves.items():
        axis.semilogy(np.arange(1, len(norms) + 1), np.maximum(norms, 1e-30), label=label)
    axis.axhline(clip_norm, color="black", linestyle=":", label="clipping threshold")
    axis.set(xlabel="T - t (steps back from the loss)", ylabel="||dL_T / dh_t||",
             title="Gradient through time of untrained RNNs")
    axis.legend(fontsize=7)
    plots.save_figure(figure, path)


def clipped_total(norms, clip_norm=1.0):
    """Clipping by the global norm rescales the whole gradient by min(1, c / ||g||): an exploding
    gradient is bounded, its direction (and a vanishing one) unchanged."""
    total = float(np.sqrt(np.sum(np.square(norms, dtype=np.float64))))
    return total, total * min(1.0, clip_norm / total) if total > 0 else 0.0


# ## (4) The adding problem and truncated BPTT


def adding_part(run, length, cells, truncation=None):
    parts = data.load_splits(f"kerasnn_sequences/adding_{length}", data_dir=run.args.data_dir,
                             limit=run.smoke_examples if run.args.smoke else None)
    (x, y), validation, (x_test, y_test) = parts["train"], parts["validation"], parts["test"]
    results, model = {}, None
    for cell in cells:
        model = models.recurrent_network((length, 2), 1, cell=cell, units=run.args.units,
                                         truncation=truncation, name=f"adding_{cell}")
        compile_regressor(model, run.args.learning_rate)
        suffix = f"_U{truncation}" if truncation else ""
        history = run.fit(f"adding/T{length}/{cell}{suffix}", model, x, y=y, batch_size=32,
                          validation_data=validation, callbacks=[StopWhenSolved()])
        key = f"adding_mse_{cell}_T{length}" + (f"_truncated{suffix}" if truncation else "")
        results[key] = mse(model.predict(x_test, verbose=0), y_test)
        results[key.replace("adding_mse", "adding_epochs")] = len(history["loss"])
    return results, model


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("rnn", __doc__, argv, dataset="kerasnn_sequences/ar_process", epochs=20,
                     tuner="none", flags=flags, smoke=smoke)
    lengths = parse_lengths(run.args.lengths)
    if run.args.dataset not in SERIES:
        raise cli.UserError(f"--dataset must be one of {', '.join(SERIES)} (next-value series); "
                            f"received {run.args.dataset!r}")
    limit = run.smoke_examples if run.args.smoke else None
    series = {name: list(data.load_splits(name, data_dir=run.args.data_dir, limit=limit).values())
              for name in dict.fromkeys([run.args.dataset, *SERIES])}
    run.open()

    test = {}
    for name, splits in series.items():
        test.update(series_part(run, name, splits))
    recipe.table([{"data": key.split("_mse_")[0], "model": key.split("_mse_")[1], "test_mse": value}
                  for key, value in test.items() if "_mse_" in key])

    identity_gap = bptt_identity(series[run.args.dataset][2][0][:4, :8])
    print(f"BPTT: |notes' averaged step - autodiff step with eta/U| = {identity_gap:.2e}")

    x_probe, y_probe = sequences.adding_problem(64, lengths[0], np.random.default_rng(0))
    curves = gradient_study(x_probe.astype("float32"), y_probe.astype("float32"), run.args.units)
    plot_gradients(curves, run.plot_path("gradient_through_time"))
    decay = {label: float(norms[-1] / norms[0]) for label, norms in curves.items()}
    recipe.table([{"rnn": label, "norm_T_back/norm_1_back": decay[label],
                   "total_norm": clipped_total(norms)[0],
                   "clipped_total_norm": clipped_total(norms)[1]}
                  for label, norms in curves.items()])

    for length in lengths:  # the last length's LSTM is the saved model
        results, model = adding_part(run, length, ("rnn", "lstm"))
        test.update(results)
    truncated, _ = adding_part(run, lengths[0], ("lstm",), truncation=run.args.truncation)
    test.update(truncated)
    recipe.table([{"model": key[len("adding_mse_"):], "test_mse": value,
                   "epochs": test[key.replace("adding_mse", "adding_epochs")]}
                  for key, value in test.items() if key.startswith("adding_mse")])
    return run.finish(test=test, model=model, curves=("loss",), bptt_identity_gap=identity_gap,
                      gradient_norm_ratio=decay, adding_constant_mse=sequences.ADDING_CONSTANT_MSE,
                      lengths=lengths)


if __name__ == "__main__":
    main()
