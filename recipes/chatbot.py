"""
Title: Chatbots: retrieval (TF-IDF, dual encoder) vs generative (transformer), single- vs
multi-turn
Course section: "Chatbots" (the generator is the transformer of "Transformers")
Description: On kerasnn_dialogues (five intents, follow-up questions such as "and tomorrow?" that
only the history completes, slot values held out of training), one table compares retrieval
chatbots — TF-IDF and a dual encoder trained with in-batch negatives (sizes, temperature and
learning rate searched with KerasTuner), and a dual encoder whose question side is the
hierarchical encoder (utterance LSTM, then context LSTM over the turns) — with a generative
transformer encoder-decoder, each reading the question alone (single-turn) or the notes'
concatenation [q_{i-2}; a_{i-2}; q_{i-1}; a_{i-1}; q_i] of the last turns (multi-turn; the
corpus' dialogues hold one earlier turn). Figures: recall@1 of the right answer
among 10 candidates; exact match and slot accuracy of the answer given (the knowledge base's
nearest answer, or the generated one); accuracy on follow-up questions; slot accuracy on
held-out slot values (a retrieval base never holds them; a generator copies them from the
context through copy placeholders, kerasnn.text.chat). --chat then answers questions from
standard input, one per line, until its end.
How to run:
    python recipes/chatbot.py                      # kerasnn_dialogues, offline
    python recipes/chatbot.py --chat               # the run (a finished one is resumed), then
                                                   # a chat: a question per line, Ctrl-D ends
    printf 'weather in rome today?\\nand tomorrow?\\n' | python recipes/chatbot.py --chat
    python recipes/chatbot.py --smoke              # seconds-long end-to-end check
"""

import kerasnn.quiet  # noqa: F401  (before keras: TensorFlow starts without its notices)

import sys

import keras
import keras_tuner
import numpy as np

from kerasnn import cli, recipe
from kerasnn.data import text as text_data
from kerasnn.models import chatbot, transformer
from kerasnn.text import chat, retrieval

MAX_CONTEXT, MAX_ANSWER, MAX_WORDS = 48, 16, 14  # words: context, answer (+<end>), one turn


def flags(parser):
    integer = cli.positive_int
    parser.add_argument("--turns", type=integer, default=2,
                        help="earlier turns in a multi-turn context (2, the notes'; the corpus' "
                             "dialogues have one)")
    parser.add_argument("--model-dim", type=integer, default=64, help="transformer d_model (64)")
    parser.add_argument("--num-heads", type=integer, default=4, help="attention heads (4)")
    parser.add_argument("--num-layers", type=integer, default=1, help="N blocks of each (1)")
    parser.add_argument("--generator-epochs", type=integer, default=6,
                        help="epochs of each transformer (6)")
    parser.add_argument("--min-count", type=integer, default=30,
                        help="rarer training words are copied, not generated (30)")
    parser.add_argument("--copy-rate", type=float, default=0.15,
                        help="share of known context words taught as copies (0.15)")
    parser.add_argument("--chat", action="store_true",
                        help="after the run, answer questions from standard input until its end")


def smoke(args):
    args.generator_epochs, args.min_count = 1, 3


# ## Data: contexts, answers and candidates
#
# A context is the question alone (turns=0, single-turn) or the notes' concatenation of the
# last turns and the question, joined by " | " (retrieval.multi_turn_context).


def contexts(examples, turns):
    return [retrieval.multi_turn_context(list(zip(e["history"][::2], e["history"][1::2])),
                                         e["question"], turns=turns) for e in examples]


def with_earlier_turns(examples, seed):
    """The training dialogues as a chat goes on: half of them after one more, unrelated turn
    (so that a question that needs no history learns to ignore it, and a follow-up to read the
    last turn), the corpus' dialogues having at most one earlier turn."""
    rng = np.random.default_rng(seed)
    earlier = rng.integers(len(examples), size=len(examples))
    return [{**e, "history": [examples[j]["question"], examples[j]["answer"], *e["history"]]}
            if rng.random() < 0.5 else e for e, j in zip(examples, earlier)]


# ## Retrieval: TF-IDF, then learned dual encoders
#
# Candidates are ranked by the cosine of context and answer vectors (recall@1 of 10); the chatbot's
# own answer is the nearest of its knowledge base (the training split): TF-IDF finds the nearest
# training context and answers with its answer, a dual encoder the nearest training answer.


def tfidf_row(train, test, turns):
    encoder = retrieval.TfidfEncoder().fit(contexts(train, turns) + [e["answer"] for e in train])
    candidates = np.stack([encoder(e["candidates"]) for e in test])
    ranks = retrieval.rank_candidates(encoder(contexts(test, turns)), candidates)
    base = retrieval.RetrievalChatbot(contexts(train, turns), [e["answer"] for e in train],
                                      encoder)
    nearest, _ = base.top_k(contexts(test, turns))
    return chat.dialogue_scores([base.answers[i] for i in nearest[:, 0]], test, ranks)


def question_ids(vocabulary, texts, turns, hierarchical):
    """A dual encoder's question input: the context's words, or its turns (hierarchical)."""
    if hierarchical:
        return vocabulary.encode_turns(texts, 2 * turns + 1, MAX_WORDS)
    return vocabulary.encode_words(texts, MAX_CONTEXT)


def dual_encoder_arrays(vocabulary, examples, turns, hierarchical):
    return [question_ids(vocabulary, contexts(examples, turns), turns, hierarchical),
            vocabulary.encode_words([e["answer"] for e in examples], MAX_WORDS)]


def build_dual_encoder(hp, vocabulary_size, hierarchical_turns=None):
    embedding_dim = hp.Choice("embedding_dim", [32, 64, 128], default=64)
    units = hp.Choice("units", [32, 64, 128], default=64)
    question_encoder = None if hierarchical_turns is None else chatbot.hierarchical_encoder(
        vocabulary_size, max_turns=hierarchical_turns, max_words=MAX_WORDS,
        embedding_dim=embedding_dim, units=units)
    return chatbot.dual_encoder(
        vocabulary_size, embedding_dim=embedding_dim, units=units,
        temperature=hp.Choice("temperature", [0.05, 0.1, 0.2], default=0.1),
        learning_rate=hp.Choice("learning_rate", [1e-3, 3e-3, 1e-2], default=3e-3),
        question_encoder=question_encoder)


def dual_encoder_row(run, name, vocabulary, train, test, turns, hierarchical=False):
    keras.utils.set_random_seed(run.args.seed)
    model, ask, answer = build_dual_encoder(
        run.hp, len(vocabulary), 2 * turns + 1 if hierarchical else None)
    x = dual_encoder_arrays(vocabulary, train, turns, hierarchical)
    run.fit(name, model, x, y=np.zeros(len(train)), batch_size=run.args.batch_size)

    def ask_texts(texts):
        return ask.predict(question_ids(vocabulary, texts, turns, hierarchical), verbose=0)

    def answer_texts(texts):
        return answer.predict(vocabulary.encode_words(texts, MAX_WORDS), verbose=0)

    questions = contexts(test, turns)
    candidates = answer_texts([c for e in test for c in e["candidates"]])
    ranks = retrieval.rank_candidates(ask_texts(questions),
                                      candidates.reshape(len(test), -1, candidates.shape[-1]))
    base = sorted({e["answer"] for e in train})
    nearest, _ = retrieval.RetrievalChatbot(base, base, ask_texts, answer_texts).top_k(questions)
    return chat.dialogue_scores([base[i] for i in nearest[:, 0]], test, ranks)


# ## Generative: the transformer encoder-decoder on (context, answer) pairs
#
# Contexts of the multi-turn model's training dialogues get an unrelated earlier turn half of the
# time: in a chat the history is long, and most new questions do not depend on it.


def generator(run, name, vocabulary, train, turns):
    train = with_earlier_turns(train, run.args.seed) if turns else train
    source, inputs, targets = chat.training_arrays(
        contexts(train, turns), [e["answer"] for e in train], vocabulary,
        source_length=MAX_CONTEXT, target_length=MAX_ANSWER, copy_rate=run.args.copy_rate,
        seed=run.args.seed)
    keras.utils.set_random_seed(run.args.seed)
    model = transformer.Transformer(len(vocabulary), max_length=MAX_CONTEXT,
                                    model_dim=run.args.model_dim, num_heads=run.args.num_heads,
                                    intermediate_dim=2 * run.args.model_dim,
                                    num_layers=run.args.num_layers)
    model.model.compile(transformer.paper_optimizer(run.args.model_dim, 400),
                        keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
                        metrics=["accuracy"], jit_compile=False)  # XLA: slower here on CPU
    run.fit(name, model.model, [source, inputs], y=targets, batch_size=run.args.batch_size,
            epochs=run.args.generator_epochs)
    return chat.GenerativeChatbot(model, vocabulary, max_context_length=MAX_CONTEXT,
                                  max_answer_length=MAX_ANSWER, turns=turns)


@cli.recipe_main
def main(argv=None):
    run = recipe.Run("chatbot", __doc__, argv, dataset="kerasnn_dialogues", epochs=4,
                     batch_size=64, max_trials=4, flags=flags, smoke=smoke)
    if run.args.dataset != "kerasnn_dialogues":
        raise cli.UserError("chatbot.py reads kerasnn_dialogues; other datasets are not "
                            "supported yet")
    if run.args.model_dim % run.args.num_heads:
        raise cli.UserError(f"--model-dim ({run.args.model_dim}) must be divisible by "
                            f"--num-heads ({run.args.num_heads})")
    if not 0 <= run.args.copy_rate <= 1:
        raise cli.UserError(f"--copy-rate must be between 0 and 1, received {run.args.copy_rate}")
    chat_after = vars(run.args).pop("chat")  # talking does not change the run's figures
    limit = 128 if run.args.smoke else None
    train, validation, test = (
        text_data.load_dialogues(split=split, data_dir=run.args.data_dir, limit=limit)
        for split in ("train", "validation", "test"))
    run.open()
    turns = run.args.turns
    texts = contexts(train, turns) + [e["answer"] for e in train]
    vocabulary = chat.Vocabulary.fit(texts, min_count=run.args.min_count)  # the generator's
    words = chat.Vocabulary.fit(texts)  # the dual encoders': every training word

    # ## The search: the dual encoder's sizes, temperature and learning rate (multi-turn), by
    # in-batch recall@1 on the validation split (its loss depends on the temperature searched)
    run.search(lambda hp: build_dual_encoder(hp, len(words))[0],
               dual_encoder_arrays(words, train, turns, False), np.zeros(len(train)),
               batch_size=run.args.batch_size,
               objective=keras_tuner.Objective("val_in_batch_accuracy", "max"),
               validation_data=(dual_encoder_arrays(words, validation, turns, False),
                                np.zeros(len(validation))))

    rows = []
    for label, context in (("single-turn", 0), ("multi-turn", turns)):
        rows.append({"chatbot": "tfidf", "context": label, **tfidf_row(train, test, context)})
        rows.append({"chatbot": "dual_encoder", "context": label, **dual_encoder_row(
            run, f"dual_encoder_{context}", words, train, test, context)})
    rows.append({"chatbot": "dual_encoder_hierarchical", "context": "turns",
                 **dual_encoder_row(run, "dual_encoder_hierarchical", words, train, test,
                                    turns, hierarchical=True)})
    for label, context in (("single-turn", 0), ("multi-turn", turns)):  # bot: the multi-turn
        bot = generator(run, f"transformer_{context}", vocabulary, train, context)
        answers = bot.generate(contexts(test, context))
        rows.append({"chatbot": "transformer", "context": label,
                     **chat.dialogue_scores(answers, test)})
    recipe.table(rows)
    row = {(r["chatbot"], r["context"]): r for r in rows}
    samples = [{"context": c, "answer": a, "reference": e["answer"]}
               for c, a, e in zip(contexts(test, turns)[:8], answers, test)]
    metrics = run.finish(
        test={"recall_at_1_tfidf": row["tfidf", "multi-turn"]["recall_at_1"],
              "recall_at_1_dual_encoder": row["dual_encoder", "multi-turn"]["recall_at_1"],
              "slot_accuracy_generative": row["transformer", "multi-turn"]["slot_accuracy"],
              "followup_accuracy_single_turn":
                  row["transformer", "single-turn"]["followup_accuracy"],
              "followup_accuracy_multi_turn":
                  row["transformer", "multi-turn"]["followup_accuracy"]},
        model=bot.model.model, chatbots=rows, samples=samples,
        vocabulary_size=len(vocabulary), curves=("loss",))
    if chat_after:
        print("chat: one question per line, end of input (Ctrl-D) ends", flush=True)
        chat.chat(bot, sys.stdin, write=lambda line: print(line, flush=True))
    return metrics


if __name__ == "__main__":
    main()
