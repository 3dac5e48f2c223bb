"""
Title: Language models against a known entropy: n-grams, Bengio's NNLM and an LSTM
Course section: "N-Gram Language Model", "Curse of Dimensionality", "Neural Net Language Model"
("Input Layer", "Projection Layer", "Hidden Layer", "Output Layer")
Description: Sentences of a grammar whose every probability is known give the oracle perplexity,
the bound no model can beat. Unigram to 5-gram models with each smoothing (maximum likelihood,
add-k, Katz back-off, Kneser-Ney), Bengio's model y = b + U tanh(d + Hx) and an LSTM language
model are scored against it; then perplexity against training-set size (n-grams need far more
data), parameters and seconds per epoch against the vocabulary size (the h x |V| term), and
sentences sampled from the models, checked by the grammar.
How to run:
    python recipes/language_models.py                    # kerasnn_grammar/small, offline, ~3 min
    python recipes/language_models.py --dataset kerasnn_grammar/large --epochs 8
    python recipes/language_models.py --dataset tiny_shakespeare   # online: perplexity only
    python recipes/language_models.py --smoke            # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import time

import keras
import numpy as np

from kerasnn import cli, metrics, models, plots, recipe, text
from kerasnn.data import text as text_data
from kerasnn.data.builders import grammar as grammar_builder

SMOKE_SENTENCES = 400


def flags(parser):
    integer = cli.positive_int
    parser.add_argument("--max-order", type=integer, default=5, help="largest n-gram order (5)")
    parser.add_argument("--context-size", type=integer, default=4, help="NNLM's n - 1 (4)")
    parser.add_argument("--embedding-dim", type=integer, default=30, help="NNLM's m (30)")
    parser.add_argument("--hidden-units", type=integer, default=64, help="NNLM's h (64)")
    parser.add_argument("--direct-connections", action="store_true",
                        help="add the NNLM's direct connections W x (off by default)")
    parser.add_argument("--units", type=integer, default=128, help="LSTM units (128)")


def smoke(args):
    args.max_order = 2


def compile_lm(model, ignore_padding=False):
    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=0 if ignore_padding else None)
    model.compile(keras.optimizers.Adam(3e-3), loss)
    return model


def neural_perplexity(model, inputs, targets, mask=None):
    """Perplexity from the model's logits (log-softmax of the target, padding masked)."""
    logits = model.predict(inputs, batch_size=1024, verbose=0)
    return metrics.perplexity(metrics.text.sequence_log_probabilities(logits, targets), mask)


# ## n-gram models
#
# Counts for every order, then four smoothings (kerasnn.text.NGramModel). Maximum likelihood
# gives an infinite perplexity as soon as one test n-gram was never counted.


def ngram_table(train, test, vocabulary_size, max_order):
    rows = []
    for order in range(1, max_order + 1):
        for smoothing in text.SMOOTHINGS:
            started = time.time()
            model = text.NGramModel(order, vocabulary_size, smoothing, k=0.1).fit(train.sentences)
            rows.append({"model": f"{order}gram_{smoothing}", "perplexity":
                         model.perplexity(test.sentences), "params": model.num_parameters(),
                         "seconds": time.time() - started})
    return rows


# ## Neural models
#
# The NNLM reads <context, target> couples: the n - 1 previous words (padded with <s>) and the
# next one. The LSTM reads whole sentences and predicts every next word; its state carries the
# whole history, so agreement across a relative clause is within its reach.


def train_nnlm(run, phase, train, validation, vocabulary_size, epochs=None):
    args = run.args
    x, y = text.context_windows(train.sentences, args.context_size)
    model = compile_lm(models.nnlm(vocabulary_size, args.context_size, args.embedding_dim,
                                   args.hidden_units, direct_connections=args.direct_connections))
    fit = dict(y=y, batch_size=4 * args.batch_size, validation_data=text.context_windows(
        validation.sentences, args.context_size), epochs=epochs or args.epochs)
    if phase is None:
        model.fit(x, verbose=0, **fit)
    else:
        run.fit(phase, model, x, **fit)
    return model


def curse_of_dimensionality(run, corpora, vocabulary_size):
    """Test perplexity of Kneser-Ney n-grams and of the NNLM against training-set size."""
    train, validation, test = corpora["train"], corpora["validation"], corpora["test"]
    steps = (1, 0) if run.args.smoke else (3, 2, 1, 0)
    sizes = sorted({max(len(train.sentences) // 3**k, 10) for k in steps})
    contexts, targets = text.context_windows(test.sentences, run.args.context_size)
    rows = []
    for size in sizes:
        subset = train.subset(size)
        row = {"sentences": size, "tokens": subset.num_tokens}
        for order in (3, run.args.max_order):
            row[f"{order}gram_kneser_ney"] = text.NGramModel(
                order, vocabulary_size).fit(subset.sentences).perplexity(test.sentences)
        nnlm = train_nnlm(run, None, subset, validation, vocabulary_size)
        row["nnlm"] = neural_perplexity(nnlm, contexts, targets)
        rows.append(row)
    return rows


def complexity(run, vocabulary_sizes=(1000, 4000, 16000), examples=8192):
    """NNLM parameters and seconds per epoch against |V| (random ids: only the shapes matter)."""
    args, rows = run.args, []
    for size in vocabulary_sizes:
        rng = np.random.default_rng(0)
        x = rng.integers(0, size, (examples, args.context_size))
        y = rng.integers(0, size, examples)
        model = compile_lm(models.nnlm(size, args.context_size, args.embedding_dim,
                                       args.hidden_units))
        model.fit(x[:512], y[:512], batch_size=256, epochs=1, verbose=0)  # build and trace
        started = time.time()
        model.fit(x, y, batch_size=256, epochs=1, verbose=0)
        m, h, n = args.embedding_dim, args.hidden_units, args.context_size
        cost = n * m + n * m * h + h * size  # the notes' n x m + n x m x h + h x |V|
        rows.append({"vocabulary": size, "params": model.count_params(), "notes_cost": cost,
                     "h_x_V_share": h * size / cost,
                     "seconds_per_epoch": time.time() - started})
    return rows


# ## Sampling
#
# Ancestral sampling: draw a word from P(. | history), append it, repeat until </s>. On the
# embedded grammar, each sample's exact log-probability says whether it is a sentence at all.


def sample_rnn(model, rng, max_length=25):
    sentence = [grammar_builder.BOS_ID]
    while len(sentence) <= max_length:
        logits = model.predict(np.array([sentence]), verbose=0)[0, -1].astype(np.float64)
        logits[[grammar_builder.PAD_ID, grammar_builder.BOS_ID]] = -np.inf
        probabilities = np.exp(logits - logits.max())
        sentence.append(int(rng.choice(len(logits), p=probabilities / probabilities.sum())))
        if sentence[-1] == grammar_builder.EOS_ID:
            break
    return sentence[1:]


def samples_table(corpus, samplers, dataset, count=5):
    language = (grammar_builder.grammar(dataset.split("/")[1])
                if dataset.startswith("kerasnn_grammar/") else None)
    rows, rng = [], np.random.default_rng(0)
    for name, sampler in samplers.items():
        for _ in range(count):
            sentence = sampler(rng)
            words = [corpus.vocabulary[i] for i in sentence]
            row = {"model": name, "sentence": corpus.text(sentence)}
            if language is not None:
                row["log_probability"] = float(language.log_probability(words))
            rows.append(row)
    return rows


def plot_sizes(rows, path):
    plt = plots.pyplot()
    figure, axis = plt.subplots(figsize=(6, 4))
    for key in [k for k in rows[0] if k not in ("sentences", "tokens")]:
        axis.plot([r["tokens"] for r in rows], [r[key] for r in rows], marker="o", label=key)
    axis.set(xscale="log", yscale="log", xlabel="training tokens", ylabel="test perplexity",
             title="Curse of dimensionality: perplexity vs data")
    axis.legend()
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("language_models", __doc__, argv, dataset="kerasnn_grammar/small", epochs=6,
                     batch_size=64, tuner="none", flags=flags, smoke=smoke)
    corpora = text_data.load_corpora(run.args.dataset, data_dir=run.args.data_dir,
                                     limit=SMOKE_SENTENCES if run.args.smoke else None)
    run.open()
    train, validation, test = corpora["train"], corpora["validation"], corpora["test"]
    vocabulary_size = len(train.vocabulary)
    oracle = test.oracle_perplexity()

    ngrams = ngram_table(train, test, vocabulary_size, run.args.max_order)
    nnlm = train_nnlm(run, "nnlm", train, validation, vocabulary_size)
    nnlm_perplexity = neural_perplexity(
        nnlm, *text.context_windows(test.sentences, run.args.context_size))
    rnn = compile_lm(models.rnn_language_model(vocabulary_size, units=run.args.units), True)
    inputs, targets = text.shifted_sequences(train.sentences)
    run.fit("rnn_lm", rnn, inputs, y=targets, batch_size=run.args.batch_size,
            validation_data=text.shifted_sequences(validation.sentences))
    test_inputs, test_targets = text.shifted_sequences(test.sentences)
    rnn_perplexity = neural_perplexity(rnn, test_inputs, test_targets, test_targets > 0)

    # ## One table against the oracle bound
    neural = [{"model": "nnlm", "perplexity": nnlm_perplexity, "params": nnlm.count_params()},
              {"model": "rnn_lm", "perplexity": rnn_perplexity, "params": rnn.count_params()}]
    results = ngrams + neural
    for row in results:
        row["ratio_to_oracle"] = row["perplexity"] / oracle if oracle else None
    recipe.table([{"model": "oracle", "perplexity": oracle}] + results)
    sizes = recipe.table(curse_of_dimensionality(run, corpora, vocabulary_size))
    plot_sizes(sizes, run.plot_path("perplexity_vs_data"))
    costs = recipe.table(complexity(run, (500,) if run.args.smoke else (1000, 4000, 16000)))
    trigram = text.NGramModel(3, vocabulary_size).fit(train.sentences)
    samples = recipe.table(samples_table(train, {
        "rnn_lm": lambda rng: sample_rnn(rnn, rng), "3gram_kneser_ney": trigram.sample},
        run.args.dataset, count=2 if run.args.smoke else 5))

    grammatical = {name: float(np.mean([row["log_probability"] > -np.inf for row in samples
                                        if row["model"] == name]))
                   for name in ("rnn_lm", "3gram_kneser_ney") if "log_probability" in samples[0]}
    best_ngram = min(results[:-2], key=lambda row: row["perplexity"])
    test_figures = {"perplexity_oracle": oracle,
                    **{f"perplexity_{row['model']}": row["perplexity"] for row in results}}
    return run.finish(test=test_figures, model=rnn, vocabulary_size=vocabulary_size,
                      best_ngram=best_ngram["model"], table=results, sizes=sizes,
                      complexity=costs, samples=samples, grammatical_fraction=grammatical,
                      curves=("loss",))


if __name__ == "__main__":
    main()
