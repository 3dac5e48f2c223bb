"""Generative chatbots: a word vocabulary that copies unknown words, the chatbot, the chat loop.

Course notes, "Chatbots": a generative chatbot "encode[s] the question into a context vector and
generate[s] the answer word by word" (an encoder-decoder: ``kerasnn.models.transformer.Transformer``
or ``kerasnn.models.seq2seq.Seq2Seq``); a multi-turn one reads the notes' concatenation
``[q_{i-2}; a_{i-2}; q_{i-1}; a_{i-1}; q_i]`` (``retrieval.multi_turn_context``, turns joined by
``" | "``, which stays a word here: the turn boundary).

A word-level generator cannot name a word it has no id for (a city, an amount never seen in
training). ``Vocabulary`` gives such words **copy placeholders**: the i-th distinct unknown word
of the context, counted from its end, becomes ``<copy_i>`` in the context and in the answer,
and decoding puts the word back, so the model learns to copy a placeholder rather than a word
(the placeholder scheme of Luong et al., 2015, "Addressing the Rare Word Problem in Neural
Machine Translation" — not in the notes). Training teaches it by treating known words shared by
context and answer as unknown now and then (``copy_rate`` of ``training_arrays``).

Scores of answers compare words (``retrieval.tokenize``: punctuation is not scored):
``exact_match`` and ``slot_accuracy`` (every slot value of the reference appears in the answer);
``dialogue_scores`` gives them all on dialogue examples, with follow-ups and held-out slots.
"""

from collections import Counter

import numpy as np

from kerasnn import arguments
from kerasnn.data.padding import pad_sequences
from kerasnn.text.retrieval import multi_turn_context, recall_at_k, tokenize

SEPARATOR = "|"
PAD, START, END, UNKNOWN = "<pad>", "<start>", "<end>", "<unk>"


def words(text):
    """The words of a (multi-turn) text: ``tokenize`` of each turn, turns separated by ``|``."""
    turns = [tokenize(turn) for turn in str(text).split(SEPARATOR)]
    return [word for turn in turns[:1] for word in turn] + [
        word for turn in turns[1:] for word in (SEPARATOR, *turn)]


class Vocabulary:
    """Word ids: 0 padding, 1 ``<start>``, 2 ``<end>``, 3 ``<unk>``, then ``num_copies``
    placeholders ``<copy_i>``, then the known words (the turn separator ``|`` always).

    Args:
        known: the known words (``fit`` picks them from texts).
        num_copies: placeholders, i.e. distinct unknown words a context can hand to the answer.
    """

    def __init__(self, known, num_copies=8):
        num_copies = arguments.positive_int("num_copies", num_copies)
        self.copies = tuple(f"<copy_{i}>" for i in range(num_copies))
        self.tokens = (PAD, START, END, UNKNOWN, *self.copies, *sorted(set(known) | {SEPARATOR}))
        self.ids = {token: index for index, token in enumerate(self.tokens)}
        self.start_id, self.end_id, self.unknown_id = 1, 2, 3

    @classmethod
    def fit(cls, texts, min_count=1, num_copies=8):
        """The words of ``texts`` seen at least ``min_count`` times (rarer ones are copied)."""
        counts = Counter(word for text in texts for word in words(text))
        return cls([w for w, n in counts.items() if n >= min_count], num_copies)

    def __len__(self):
        return len(self.tokens)

    def known(self, word):
        return word in self.ids and not word.startswith("<")

    def unknown_words(self, text):
        """The words of ``text`` without an id, in order, each once."""
        return list(dict.fromkeys(w for w in words(text) if not self.known(w)))

    def encode_context(self, text, copy=()):
        """``(ids, copied)``: the context's ids and the copied words, ``copied[i]`` behind
        ``<copy_i>``. Each distinct unknown word (and each word of ``copy``) gets a placeholder,
        numbered from the end of the context (the question's words first, then the latest
        turn's, ...), so that a word of the question has the same placeholder however long the
        history; once they run out, older unknown words are ``<unk>`` and words of ``copy`` stay
        words."""
        tokens = words(text)
        copied = []
        for word in reversed(tokens):
            if ((not self.known(word) or word in copy) and word not in copied
                    and len(copied) < len(self.copies)):
                copied.append(word)
        ids = [self.ids[self.copies[copied.index(word)]] if word in copied
               else self.ids[word] if self.known(word) else self.unknown_id for word in tokens]
        return ids, copied

    def encode_answer(self, text, copied):
        """The answer's ids then ``<end>``: words of ``copied`` as their placeholders."""
        return [self.ids[self.copies[copied.index(word)]] if word in copied
                else self.ids[word] if self.known(word) else self.unknown_id
                for word in words(text)] + [self.end_id]

    def decode(self, ids, copied=()):
        """The text of generated ids up to ``<end>``, placeholders replaced by their words."""
        out = []
        for index in np.asarray(ids).tolist():
            if index == self.end_id:
                break
            if index in (0, self.start_id):  # an untrained model may emit them: not words
                continue
            token = self.tokens[index] if 0 < index < len(self.tokens) else UNKNOWN
            if token in self.copies:
                slot = self.copies.index(token)
                token = copied[slot] if slot < len(copied) else UNKNOWN
            out.append(token)
        return " ".join(out)

    def encode_words(self, texts, length):
        """``(len(texts), length)`` ids of plain words (unknown ones ``<unk>``, no copying),
        cut at ``length``: the input of a retrieval encoder."""
        return pad_sequences([[self.ids[w] if self.known(w) else self.unknown_id
                               for w in words(text)][:length] for text in texts], length)

    def encode_turns(self, texts, max_turns, max_words):
        """``(len(texts), max_turns, max_words)`` ids of multi-turn contexts, one row per turn
        (the last ``max_turns`` turns, split at ``|``): a hierarchical encoder's input."""
        turns = np.zeros((len(texts), max_turns, max_words), np.int32)
        for row, text in enumerate(texts):
            parts = str(text).split(SEPARATOR)[-max_turns:]
            turns[row, : len(parts)] = self.encode_words(parts, max_words)
        return turns


def training_arrays(contexts, answers, vocabulary, *, source_length, target_length,
                    copy_rate=0.0, seed=0):
    """Teacher-forcing arrays ``(source, decoder_inputs, targets)`` of (context, answer) pairs,
    contexts cut to their last ``source_length`` ids, answers (with ``<end>``) to their first
    ``target_length``, each array padded to its longest row.

    With ``copy_rate``, each known word found in both a context and its answer is, with that
    probability, treated as unknown (a placeholder the answer must copy), so that the model
    learns to copy the placeholders that unknown words get at test time.
    """
    rate = arguments.probability("copy_rate", copy_rate)
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for context, answer in zip(contexts, answers):
        shared = sorted(set(words(context)) & set(words(answer)) - {SEPARATOR})
        copy = {word for word in shared if rng.random() < rate}
        ids, copied = vocabulary.encode_context(context, copy)
        sources.append(ids[-source_length:])
        targets.append(vocabulary.encode_answer(answer, copied)[:target_length])
    targets = pad_sequences(targets)
    decoder_inputs = np.concatenate(
        [np.full((len(targets), 1), vocabulary.start_id, np.int32), targets[:, :-1]], axis=1)
    return pad_sequences(sources), decoder_inputs, targets


class GenerativeChatbot:
    """An encoder-decoder answering a question in the context of the conversation so far.

    Args:
        model: a trained ``Transformer`` or ``Seq2Seq`` (anything with ``decode(source,
            start_id=, end_id=, max_length=)`` returning ``(tokens, ...)``).
        vocabulary: the ``Vocabulary`` it was trained with.
        max_context_length: the longest context (in words) the model reads.
        max_answer_length: the longest answer generated (words and ``<end>``).
        turns: earlier (question, answer) turns in the context (0: single-turn).

    A context longer than ``max_context_length`` loses its oldest turns; a question that alone
    is too long, holds no word, or no word the chatbot knows raises ``ValueError``.
    """

    def __init__(self, model, vocabulary, *, max_context_length, max_answer_length, turns=2):
        self.model, self.vocabulary = model, vocabulary
        self.max_context_length = arguments.positive_int("max_context_length",
                                                         max_context_length)
        self.max_answer_length = arguments.positive_int("max_answer_length", max_answer_length)
        self.turns = turns

    def context(self, question, history=()):
        """The context text the model reads: the last ``turns`` turns that fit, the question."""
        words_of_question = words(multi_turn_context([], question, turns=0))
        if len(words_of_question) > self.max_context_length:
            raise ValueError(f"The question must be at most {self.max_context_length} words "
                             f"long. Received: {len(words_of_question)} words")
        if not any(self.vocabulary.known(word) for word in words_of_question):
            raise ValueError("The question must hold at least one word the chatbot knows "
                             f"(unknown words are only copied). Received: {question!r}")
        for turns in range(min(self.turns, len(history)), -1, -1):
            text = multi_turn_context(history, question, turns=turns)
            if len(words(text)) <= self.max_context_length:
                return text
        return question  # unreachable: turns=0 is the question, which fits

    def generate(self, contexts, batch_size=256):
        """The answers (texts) to context texts, decoded greedily in batches."""
        answers = []
        for start in range(0, len(contexts), batch_size):
            encoded = [self.vocabulary.encode_context(text) for text in
                       contexts[start: start + batch_size]]
            source = pad_sequences([ids[-self.max_context_length:] for ids, _ in encoded])
            tokens = self.model.decode(source, start_id=self.vocabulary.start_id,
                                       end_id=self.vocabulary.end_id,
                                       max_length=self.max_answer_length)[0]
            answers += [self.vocabulary.decode(row, copied)
                        for row, (_, copied) in zip(tokens, encoded)]
        return answers

    def reply(self, question, history=()):
        """The answer to ``question`` after the ``(question, answer)`` pairs of ``history``."""
        return self.generate([self.context(question, history)])[0]


def chat(bot, lines, write=print):
    """Answer the questions of ``lines`` (an iterable of text lines, e.g. ``sys.stdin``) one by
    one until they end, each in the context of the earlier ones; write ``"bot: <answer>"`` per
    question, or ``"error: <why>"`` for a question that cannot be answered (then go on).
    Returns the ``(question, answer)`` pairs."""
    history = []
    for line in lines:
        question = line.strip()
        try:
            answer = bot.reply(question, history)
        except ValueError as error:
            write(f"error: {error}")
            continue
        new = bot.vocabulary.unknown_words(question)
        write(f"bot: {answer}" + (f"  (new words, copied: {', '.join(new)})" if new else ""))
        history.append((question, answer))
    return history


def exact_match(answers, references):
    """The fraction of answers whose words equal the reference's (punctuation not scored);
    ``nan`` for no answer."""
    matches = [tokenize(a) == tokenize(r) for a, r in zip(answers, references)]
    return float(np.mean(matches)) if matches else float("nan")


def slot_accuracy(answers, slots):
    """The fraction of answers holding every slot value of their reference as whole words
    (``slots``: one list of values per answer); answers without slots are not counted (``nan``
    when none has any)."""
    scored = [(f" {' '.join(tokenize(a))} ", values) for a, values in zip(answers, slots)
              if len(values)]
    if not scored:
        return float("nan")
    return float(np.mean([all(f" {' '.join(tokenize(v))} " in a for v in values)
                          for a, values in scored]))


def dialogue_scores(answers, examples, ranks=None):
    """A chatbot's figures on dialogue examples (``kerasnn_dialogues`` dicts with ``answer``,
    ``slots``, ``followup``, ``held_out``), from its answers and, for a retrieval chatbot, the
    ranks of the right answer among each example's candidates (``retrieval.rank_candidates``).

    Returns:
        ``{"recall_at_1", "recall_at_1_followups"}`` (``None`` without ranks), ``exact_match``
        and ``slot_accuracy`` of the answers, ``followup_accuracy`` (exact match on the
        follow-up questions) and ``held_out_slot_accuracy`` (slot accuracy on the examples whose
        slot values training never saw).
    """
    followup = np.array([e["followup"] for e in examples], bool)
    held_out = np.array([e["held_out"] for e in examples], bool)
    references = [e["answer"] for e in examples]
    slots = [e["slots"] for e in examples]

    def part(values, keep):
        return [value for value, kept in zip(values, keep) if kept]

    recall = (lambda keep: None) if ranks is None else (
        lambda keep: recall_at_k(np.asarray(ranks)[keep]))
    return {"recall_at_1": recall(np.ones(len(examples), bool)),
            "recall_at_1_followups": recall(followup),
            "exact_match": exact_match(answers, references),
            "slot_accuracy": slot_accuracy(answers, slots),
            "followup_accuracy": exact_match(part(answers, followup), part(references, followup)),
            "held_out_slot_accuracy": slot_accuracy(part(answers, held_out),
                                                    part(slots, held_out))}
