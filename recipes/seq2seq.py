"""
Title: Seq2seq with teacher forcing, and Luong and Bahdanau attention with measured alignments
Course section: "Seq2Seq Learning", "Sequential Data Problems", "Attention Mechanism in Seq2Seq
Models"
Description: Translate human-written dates ("tuesday, march 3, 1998", "3 mar 98", ...) into ISO
1998-03-03 with an LSTM encoder-decoder trained by teacher forcing: without attention (the final
encoder state is the decoder's only view of the source), with Bahdanau's additive score and with
Luong's multiplicative score. On one table: exact match under greedy and beam decoding,
teacher-forced against free-running token accuracy (exposure bias), accuracy by source length
(the fixed-length bottleneck), and the alignment accuracy of the attention maps: the fraction of
output characters whose attention peak falls on the source field (year, month, day) they come
from.
How to run:
    python recipes/seq2seq.py                     # kerasnn_dates, offline, a few minutes
    python recipes/seq2seq.py --tuner random      # search units, embedding size, learning rate
    python recipes/seq2seq.py --smoke             # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import keras
import numpy as np

from kerasnn import cli, metrics, plots, recipe
from kerasnn.data import padding
from kerasnn.data.builders import dates
from kerasnn.models import seq2seq

VARIANTS = (None, "bahdanau", "luong")


def flags(parser):
    parser.add_argument("--beam-width", type=cli.positive_int, default=3,
                        help="beam of the beam-search decoding (default: 3)")


# ## Data: characters in, characters out
#
# Targets are <start> YYYY-MM-DD <end>. Teacher forcing feeds the decoder the reference shifted
# right (<start> YYYY-MM-DD) and asks it for the next character at every position.


def split(run, name):
    limit = 256 if run.args.smoke else None
    arrays = padding.padded_arrays(run.args.dataset, name, data_dir=run.args.data_dir,
                                   limit=limit)
    target = arrays["target"]
    return {"source": arrays["source"], "inputs": target[:, :-1], "outputs": target[:, 1:],
            "spans": arrays["spans"][:, 1:], "text": arrays["source_text"]}


def build(attention, embedding_dim=32, units=64, learning_rate=3e-3):
    model = seq2seq.Seq2Seq(len(dates.VOCABULARY), attention=attention,
                            embedding_dim=embedding_dim, units=units)
    model.model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_model(hp):
    """The tuner's hypermodel: the Luong model's sizes and learning rate."""
    return build("luong", hp.Choice("embedding_dim", [16, 32], default=32),
                 hp.Choice("units", [32, 64, 96], default=64),
                 hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3)).model


def teacher_forcing(data):
    """``(inputs, outputs)`` of teacher forcing: the source and the shifted reference."""
    return [data["source"], data["inputs"]], data["outputs"]


# ## Free-running decoding, scored


def evaluate(model, data, run):
    decode = dict(start_id=dates.START, end_id=dates.END, max_length=data["outputs"].shape[1])
    greedy, attention = model.decode(data["source"], **decode)
    beam, _ = model.decode(data["source"], beam_width=run.args.beam_width, **decode)
    forced = model.model.predict([data["source"], data["inputs"]], verbose=0).argmax(-1)
    row = {"exact_match_greedy": metrics.exact_match(greedy, data["outputs"]),
           "exact_match_beam": metrics.exact_match(beam, data["outputs"]),
           "token_accuracy_teacher_forced": metrics.token_accuracy(forced, data["outputs"]),
           "token_accuracy_free_running": metrics.token_accuracy(greedy, data["outputs"])}
    if attention is not None:
        row["alignment_accuracy"] = metrics.alignment_accuracy(attention, data["spans"])
    lengths = (data["source"] != 0).sum(axis=1)
    right = np.all((greedy == data["outputs"]) | (data["outputs"] == 0), axis=1)
    by_length = {f"{low}-{low + 7}": float(right[(lengths >= low) & (lengths < low + 8)].mean())
                 for low in range(8, 32, 8) if ((lengths >= low) & (lengths < low + 8)).any()}
    return row, by_length, greedy, attention


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("seq2seq", __doc__, argv, dataset="kerasnn_dates", epochs=12,
                     batch_size=64, tuner="none", max_trials=3, flags=flags)
    if run.args.dataset != "kerasnn_dates":
        raise cli.UserError("seq2seq.py trains on kerasnn_dates (its target spans score the "
                            "attention); other datasets are not supported yet")
    train, validation, test = (split(run, name) for name in ("train", "validation", "test"))
    run.open()

    inputs, outputs = teacher_forcing(train)
    fit = dict(y=outputs, batch_size=run.args.batch_size,
               validation_data=teacher_forcing(validation))
    hp = run.search(build_model, inputs, **fit)
    rows, by_length, examples = [], {}, {}
    for attention in VARIANTS:
        name = attention or "no_attention"
        keras.utils.set_random_seed(run.args.seed)
        model = build(attention, **hp.values)
        run.fit(name, model.model, inputs, **fit)
        row, by_length[name], tokens, attention_weights = evaluate(model, test, run)
        rows.append({"model": name, "params": model.model.count_params(), **row})
        examples[name] = (tokens[:4], attention_weights)
    recipe.table(rows)
    recipe.table([{"model": name, **accuracy} for name, accuracy in by_length.items()])

    # ## Report: where each attention looks
    plot_attention(run, test, examples)
    result = {row["model"]: row for row in rows}
    return run.finish(
        test={"exact_match_no_attention": result["no_attention"]["exact_match_greedy"],
              "exact_match_bahdanau": result["bahdanau"]["exact_match_greedy"],
              "exact_match_luong": result["luong"]["exact_match_greedy"],
              "alignment_accuracy_bahdanau": result["bahdanau"]["alignment_accuracy"],
              "alignment_accuracy_luong": result["luong"]["alignment_accuracy"]},
        model=model.model, variants=rows, exact_match_by_source_length=by_length)


def plot_attention(run, test, examples):
    figure, axes = plots.pyplot().subplots(2, 3, figsize=(14, 6.5), squeeze=False)
    for column, name in enumerate(("bahdanau", "luong")):
        tokens, weights = examples[name]
        for row in range(min(3, len(tokens))):
            axis = axes[column][row]
            source = str(test["text"][row])
            output = dates.decode(tokens[row])
            axis.imshow(weights[row, : len(output) + 1, : len(source)], cmap="viridis",
                        aspect="auto")
            axis.set_xticks(range(len(source)), list(source), fontsize=7)
            axis.set_yticks(range(len(output) + 1), list(output) + ["<end>"], fontsize=7)
            axis.set_title(f"{name}: {source!r}", fontsize=8)
    figure.tight_layout()
    plots.save_figure(figure, run.plot_path("attention"))


if __name__ == "__main__":
    main()
