"""
Title: word2vec: skip-gram and CBOW, three outputs, scored against the generator's truth
Course section: "Word Embedding", "Embedding", "Distributed Representation", "Word2Vec",
"Skip-gram architecture", "Summary", "Embedding and Softmax"
Description: Learn word vectors from the sentences of a grammar whose categories, agreement and
selection are known, with skip-gram (centre -> each context word) and CBOW (mean of the context
-> centre word), each with a full softmax, a hierarchical softmax over a Huffman tree, and
negative sampling (an extension beyond the notes). Score them against the truth: precision@10 of
a noun's neighbours in its category, 3CosAdd analogies (cat : cats :: dog : dogs, sees : see ::
eats : eat), Spearman correlation with the generator's word similarities; compare with LSA
(truncated SVD of the co-occurrence matrix), the notes' other "continuous representation".
How to run:
    python recipes/word2vec.py                    # kerasnn_grammar/small, offline, ~3 minutes
    python recipes/word2vec.py --variants skipgram_negative cbow_hierarchical --epochs 5
    python recipes/word2vec.py --dataset kerasnn_grammar/large
    python recipes/word2vec.py --smoke            # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import itertools

import keras
import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD

from kerasnn import cli, losses, metrics, models, plots, recipe, text
from kerasnn.data import text as text_data
from kerasnn.data.builders import grammar as grammar_builder

VARIANTS = [f"{a}_{o}" for a in models.language.WORD2VEC_ARCHITECTURES
            for o in models.language.WORD2VEC_OUTPUTS]
SMOKE_SENTENCES = 600
SHOWN_WORDS = ("cat", "apple", "car", "park", "farmer", "eats", "fresh")


def flags(parser):
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS,
                        help="architecture_output pairs to train (default: all six)")
    parser.add_argument("--embedding-dim", type=cli.positive_int, default=32,
                        help="word vector size m (default 32)")
    parser.add_argument("--window", type=cli.positive_int, default=2,
                        help="context words on each side (default 2)")
    parser.add_argument("--negatives", type=cli.positive_int, default=5,
                        help="negative samples per pair (default 5)")


# ## Training examples, written in tf.data
#
# Skip-gram: one (centre, context) pair per word within the window; CBOW: one (context window,
# centre) example per word. The hierarchical softmax model takes the target as an input and
# outputs log P(target) (the loss is its negative); negative sampling adds K words drawn from
# the unigram counts to the power 3/4 and trains 1 + K logistic regressions.


def training_data(variant, sentences, counts, args):
    architecture, output = variant.split("_")
    if architecture == "skipgram":
        examples = text.skipgram_pairs(sentences, args.window)
    else:
        examples = text.cbow_examples(sentences, args.window)
    batches = (examples.cache().shuffle(200_000, seed=args.seed)
               .batch(args.batch_size, drop_remainder=True))
    if output == "negative":
        return text.negative_samples(batches, counts, args.negatives, seed=args.seed)
    if output == "hierarchical":
        return batches.map(lambda source, target: ((source, target), keras.ops.zeros_like(target)))
    return batches


def build(variant, vocabulary_size, counts, args):
    architecture, output = variant.split("_")
    model = models.word2vec(vocabulary_size, args.embedding_dim, architecture=architecture,
                            output=output, window=args.window, word_counts=counts,
                            num_negatives=args.negatives)
    loss = {"softmax": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "hierarchical": losses.NegativeLogLikelihood(),
            "negative": keras.losses.BinaryCrossentropy(from_logits=True)}[output]
    model.compile(keras.optimizers.Adam(0.01), loss)
    return model


# ## The LSA baseline
#
# Count co-occurrences within the same window, weight them by log(1 + count), and keep the top
# m singular directions (scikit-learn's TruncatedSVD): a count-based continuous representation.


def lsa_vectors(sentences, vocabulary_size, window, dim, seed):
    counts = np.zeros((vocabulary_size, vocabulary_size))
    for sentence in sentences:
        for offset in range(1, window + 1):
            np.add.at(counts, (sentence[:-offset], sentence[offset:]), 1.0)
    counts += counts.T
    return TruncatedSVD(dim, random_state=seed).fit_transform(np.log1p(counts))


# ## Scoring against the generator's truth


def score(vectors, truth):
    return {
        "neighbor_precision": metrics.neighbor_precision_at_k(
            vectors, truth["categories"], k=10, words=truth["nouns"]),
        "analogy_accuracy": metrics.analogy_accuracy(vectors, truth["questions"]),
        "spearman": metrics.spearman_correlation(
            metrics.text.cosine_similarities(vectors, truth["pairs"]), truth["similarities"]),
    }


def generator_truth(corpus):
    info = corpus.word_info
    nouns = np.array([i for i, pos in enumerate(info["pos"]) if pos == "noun"])
    content = [i for i, pos in enumerate(info["pos"]) if pos not in ("special",)]
    pairs = np.array(list(itertools.combinations(content, 2)))
    return {"nouns": nouns, "categories": np.array(info["category"]), "pairs": pairs,
            "questions": grammar_builder.analogy_questions(info),
            "similarities": [grammar_builder.attribute_similarity(info, a, b) for a, b in pairs]}


def plot_projection(vectors, truth, vocabulary, path):
    plt = plots.pyplot()
    nouns = truth["nouns"]
    points = PCA(2).fit_transform(vectors[nouns])
    figure, axis = plt.subplots(figsize=(7, 6))
    categories = truth["categories"][nouns]
    for category in sorted(set(categories)):
        chosen = categories == category
        axis.scatter(points[chosen, 0], points[chosen, 1], label=category, s=18)
    for (x, y), word in zip(points, nouns):
        axis.annotate(vocabulary[word], (x, y), fontsize=6)
    axis.set(title="Noun vectors, first two principal components")
    axis.legend()
    plots.save_figure(figure, path)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("word2vec", __doc__, argv, dataset="kerasnn_grammar/small", epochs=3,
                     batch_size=512, tuner="none", flags=flags)
    if not run.args.dataset.startswith("kerasnn_grammar/"):
        raise cli.UserError("word2vec is scored against the generator's truth: use "
                            "--dataset kerasnn_grammar/small or kerasnn_grammar/large.")
    train = text_data.load_corpora(run.args.dataset, data_dir=run.args.data_dir,
                                   limit=SMOKE_SENTENCES if run.args.smoke else None)["train"]
    run.open()
    vocabulary = train.vocabulary
    sentences = [sentence[:-1] for sentence in train.sentences]  # words only, no </s>
    counts = text.unigram_counts(sentences, len(vocabulary))
    truth = generator_truth(train)

    rows, vectors = [], {}
    for variant in run.args.variants:
        model = build(variant, len(vocabulary), counts, run.args)
        run.fit(variant, model, training_data(variant, sentences, counts, run.args))
        vectors[variant] = models.word_vectors(model)
        rows.append({"variant": variant, **score(vectors[variant], truth),
                     "seconds_per_epoch": run.epoch_seconds()[variant]})
    vectors["lsa"] = lsa_vectors(sentences, len(vocabulary), run.args.window,
                                 run.args.embedding_dim, run.args.seed)
    rows.append({"variant": "lsa", **score(vectors["lsa"], truth)})
    recipe.table(rows)

    # ## What the vectors look like
    best = max(rows[:-1], key=lambda row: row["neighbor_precision"])["variant"]
    plot_projection(vectors[best], truth, vocabulary, run.plot_path("noun_projection"))
    ids = [vocabulary.index(word) for word in SHOWN_WORDS if word in vocabulary]
    neighbors = metrics.text.nearest_neighbors(vectors[best], ids, 5,
                                               candidates=np.arange(3, len(vocabulary)))
    shown = recipe.table([{"word": vocabulary[i], "nearest": " ".join(vocabulary[j] for j in row)}
                          for i, row in zip(ids, neighbors)])

    test = {}
    for row in rows:
        test[f"analogy_accuracy_{row['variant']}"] = row["analogy_accuracy"]
        test[f"neighbor_precision_{row['variant']}"] = row["neighbor_precision"]
        test[f"spearman_{row['variant']}"] = row["spearman"]
    return run.finish(test=test, model=model, table=rows, best_variant=best, neighbors=shown,
                      analogy_questions=len(truth["questions"]), curves=("loss",))


if __name__ == "__main__":
    main()
