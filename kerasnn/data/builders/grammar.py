"""`kerasnn_grammar`: English-like sentences from a grammar whose true probabilities are known.

The sentences come from a *unifilar stochastic finite-state grammar*: from each state the next
word is drawn from a fixed distribution, and the word alone determines the next state. So the
path of states is a function of the words, and the exact probability of any sentence is the
product of its word probabilities, ``log P(s) = sum_t log p(w_t | state_t)`` (the chain rule of
"N-Gram Language Model" with the grammar's states as the whole context). Each example stores it,
and ``exp(-sum log P / number of predicted tokens)`` over the test split is the **oracle
perplexity**: the lower bound every language model is compared with.

The language has what the course's language chapters need to score a model against the truth:

- a lexicon with **categories** (animals, people, foods, vehicles, places), singular and plural
  noun forms, verbs in two agreement forms, category-specific and generic adjectives;
- **Zipfian** word frequencies inside every choice (weights ``1 / rank``, ``1 / rank^2`` for
  nouns and verbs): rare words exist and n-gram counts are sparse;
- **number agreement** of the main verb with its subject across a variable gap (adjectives, a
  relative clause "that eats apples", a prepositional phrase "near the park");
- **selection**: a verb takes subjects and objects of given categories (``eat`` -> foods,
  ``drive`` -> vehicles, only people ``drive``);
- **lemma preferences**: each verb ranks its objects, and each subject its verbs, in an order of
  its own (the Zipf weights rotated), so two nouns of a category differ in their contexts while
  the singular and the plural of one noun share theirs (what makes ``cat : cats :: dog : dogs``
  answerable from co-occurrences).

Examples: ``tokens`` (int32 ids, the words and a final ``</s>``; no ``<s>``), ``text``,
``length`` (number of ids) and ``log_probability`` (natural log; ``float32``, as tfds stores
floats: relative precision 1e-7). The vocabulary is fixed in the dataset's metadata
(``info.metadata["vocabulary"]``, with each word's part of speech, category, number and lemma):
id 0 is ``<pad>``, 1 ``<s>``, 2 ``</s>``.

Examples are a pure function of ``(config, split, index)``.
"""

import dataclasses
import functools

import numpy as np
import tensorflow_datasets as tfds

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPLITS = ("train", "validation", "test")

# Nouns by category, most frequent first (Zipf rank order): (singular, plural).
NOUNS = {
    "animal": [
        ("cat", "cats"), ("dog", "dogs"), ("horse", "horses"), ("bird", "birds"),
        ("mouse", "mice"), ("fox", "foxes"), ("cow", "cows"), ("rabbit", "rabbits"),
        ("wolf", "wolves"), ("goat", "goats"), ("duck", "ducks"), ("pig", "pigs"),
        ("lion", "lions"), ("tiger", "tigers"), ("bear", "bears"), ("frog", "frogs"),
        ("owl", "owls"), ("donkey", "donkeys"), ("camel", "camels"), ("zebra", "zebras"),
    ],
    "person": [
        ("farmer", "farmers"), ("child", "children"), ("teacher", "teachers"),
        ("doctor", "doctors"), ("man", "men"), ("woman", "women"), ("baker", "bakers"),
        ("driver", "drivers"), ("student", "students"), ("nurse", "nurses"),
        ("pilot", "pilots"), ("king", "kings"), ("queen", "queens"), ("artist", "artists"),
        ("sailor", "sailors"), ("judge", "judges"), ("singer", "singers"),
        ("writer", "writers"), ("soldier", "soldiers"), ("miner", "miners"),
    ],
    "food": [
        ("apple", "apples"), ("cake", "cakes"), ("carrot", "carrots"), ("banana", "bananas"),
        ("cookie", "cookies"), ("egg", "eggs"), ("pear", "pears"), ("plum", "plums"),
        ("pie", "pies"), ("sandwich", "sandwiches"), ("tomato", "tomatoes"),
        ("potato", "potatoes"), ("peach", "peaches"), ("lemon", "lemons"),
        ("cherry", "cherries"), ("onion", "onions"), ("melon", "melons"), ("muffin", "muffins"),
        ("pizza", "pizzas"), ("grape", "grapes"),
    ],
    "vehicle": [
        ("car", "cars"), ("bus", "buses"), ("truck", "trucks"), ("bike", "bikes"),
        ("train", "trains"), ("boat", "boats"), ("van", "vans"), ("tram", "trams"),
        ("ship", "ships"), ("taxi", "taxis"), ("tractor", "tractors"), ("scooter", "scooters"),
        ("canoe", "canoes"), ("jeep", "jeeps"), ("wagon", "wagons"), ("yacht", "yachts"),
        ("rocket", "rockets"), ("sled", "sleds"), ("ferry", "ferries"), ("plane", "planes"),
    ],
    "place": [
        ("park", "parks"), ("city", "cities"), ("house", "houses"), ("school", "schools"),
        ("farm", "farms"), ("market", "markets"), ("village", "villages"),
        ("garden", "gardens"), ("town", "towns"), ("museum", "museums"),
        ("church", "churches"), ("library", "libraries"), ("beach", "beaches"),
        ("forest", "forests"), ("castle", "castles"), ("harbor", "harbors"),
        ("station", "stations"), ("palace", "palaces"), ("island", "islands"),
        ("valley", "valleys"),
    ],
}
CATEGORIES = tuple(NOUNS)
SUBJECT_CATEGORIES = frozenset({"animal", "person"})
ALL = frozenset(CATEGORIES)

# Verbs, most frequent first: (plural form, singular form, subject categories, object
# categories); no object categories: intransitive.
VERBS = [
    ("see", "sees", SUBJECT_CATEGORIES, frozenset({"animal", "person", "vehicle", "place"})),
    ("eat", "eats", SUBJECT_CATEGORIES, frozenset({"food"})),
    ("like", "likes", SUBJECT_CATEGORIES, ALL),
    ("sleep", "sleeps", SUBJECT_CATEGORIES, frozenset()),
    ("visit", "visits", frozenset({"person"}), frozenset({"place"})),
    ("drive", "drives", frozenset({"person"}), frozenset({"vehicle"})),
    ("chase", "chases", SUBJECT_CATEGORIES, frozenset({"animal", "vehicle"})),
    ("run", "runs", SUBJECT_CATEGORIES, frozenset()),
    ("buy", "buys", frozenset({"person"}), frozenset({"food", "vehicle"})),
    ("feed", "feeds", frozenset({"person"}), frozenset({"animal"})),
    ("cook", "cooks", frozenset({"person"}), frozenset({"food"})),
    ("ride", "rides", frozenset({"person"}), frozenset({"vehicle", "animal"})),
    ("leave", "leaves", SUBJECT_CATEGORIES, frozenset({"place"})),
    ("help", "helps", frozenset({"person"}), frozenset({"person"})),
    ("meet", "meets", frozenset({"person"}), frozenset({"person"})),
    ("smell", "smells", frozenset({"animal"}), frozenset({"food", "animal"})),
    ("fix", "fixes", frozenset({"person"}), frozenset({"vehicle"})),
    ("hunt", "hunts", frozenset({"animal"}), frozenset({"animal"})),
    ("sing", "sings", frozenset({"person"}), frozenset()),
    ("wait", "waits", SUBJECT_CATEGORIES, frozenset()),
]

# Adjectives, most frequent first, with the categories of nouns they may precede.
ADJECTIVES = [
    ("big", ALL), ("small", ALL), ("old", ALL), ("young", frozenset({"person", "animal"})),
    ("fresh", frozenset({"food"})), ("fast", frozenset({"vehicle", "animal"})),
    ("wild", frozenset({"animal"})), ("quiet", frozenset({"place", "person"})),
    ("sweet", frozenset({"food"})), ("red", frozenset({"vehicle", "food"})),
    ("hungry", frozenset({"animal", "person"})), ("tall", frozenset({"person"})),
    ("ripe", frozenset({"food"})), ("electric", frozenset({"vehicle"})),
    ("crowded", frozenset({"place", "vehicle"})), ("kind", frozenset({"person"})),
    ("furry", frozenset({"animal"})), ("rusty", frozenset({"vehicle"})),
    ("sunny", frozenset({"place"})), ("tasty", frozenset({"food"})),
]

# Determiners and the number they impose ("any": either).
DETERMINERS = [("the", "any"), ("some", "plural"), ("every", "singular"), ("these", "plural"),
               ("this", "singular"), ("many", "plural")]
PREPOSITIONS = ["near", "in"]
RELATIVE = "that"

# The grammar's choice probabilities.
P_RELATIVE, P_SUBJECT_PP = 0.2, 0.1  # after the subject noun (else the main verb follows)
P_ADJECTIVE = (0.35, 0.15)  # another adjective after 0 or 1 of them (at most 2)
P_PLURAL = 0.4  # a noun after "the"
P_FINAL_PP = 0.25  # a prepositional phrase closes the sentence
# Zipf exponent of the lemma preferences (a verb's nouns, a subject's verbs): above 1, sharp
# enough that each lemma's contexts identify it.
PREFERENCE_EXPONENT = 2.0


def zipf(count, exponent=1.0):
    """Zipf weights ``1 / rank**exponent`` for ranks 1..count, normalized."""
    weights = 1.0 / np.arange(1, count + 1) ** exponent
    return weights / weights.sum()


@dataclasses.dataclass(frozen=True)
class GrammarSpec:
    nouns_per_category: int
    split_sizes: tuple  # (train, validation, test)
    seed: int


class Grammar:
    """The finite-state grammar of one configuration.

    States are tuples; ``transitions(state)`` is the list of ``(word, probability, next state)``
    (probabilities summing to 1, one next state per word: unifilar). ``None`` is the final state,
    reached by ``</s>``.
    """

    def __init__(self, spec):
        self.spec = spec
        count = spec.nouns_per_category
        self.nouns = {category: NOUNS[category][:count] for category in CATEGORIES}
        self.vocabulary, self.word_info = _vocabulary(self.nouns)
        self.ids = {word: index for index, word in enumerate(self.vocabulary)}

    @functools.lru_cache(maxsize=None)  # noqa: B019  (one Grammar per config, kept for the process)
    def transitions(self, state):
        kind = state[0]
        if kind == "np":
            return self._noun_phrase(*state[1:])
        if kind == "after_subject":
            _, category, number, lemma = state  # the subject's lemma rank travels to its verb
            subject = (category, number, lemma)
            prepositions = [(word, P_SUBJECT_PP / len(PREPOSITIONS),
                             ("np", "subject_pp", frozenset({"place"}), "any", -1, index,
                              subject)) for index, word in enumerate(PREPOSITIONS)]
            relative = [(RELATIVE, P_RELATIVE, ("verb", "relative", *subject))]
            verbs = [(word, p * (1 - P_RELATIVE - P_SUBJECT_PP), next_state)
                     for word, p, next_state in self.transitions(("verb", "main", *subject))]
            return relative + prepositions + verbs
        if kind == "verb":
            _, clause, category, number, lemma = state
            allowed = [verb for verb in VERBS if category in verb[2]
                       and (clause == "main" or verb[3])]  # a relative clause has an object
            # Each subject lemma ranks the verbs its own way (the Zipf weights rotated by the
            # lemma's rank): "cat" and "cats" share verbs that "dog" and "dogs" use less.
            weights = np.roll(zipf(len(allowed), PREFERENCE_EXPONENT), lemma)
            result = []
            for verb, weight in zip(allowed, weights):
                plural, singular, _, objects = verb
                word = singular if number == "singular" else plural
                shift = VERBS.index(verb)  # each verb ranks its objects its own way
                if not objects:
                    next_state = ("end", False)
                elif clause == "main":
                    next_state = ("np", "object", objects, "any", -1, shift, None)
                else:
                    next_state = ("np", "relative_object", objects, "any", -1, shift,
                                  (category, number, lemma))
                result.append((word, float(weight), next_state))
            return result
        if kind == "end":
            _, after_pp = state
            if after_pp:
                return [(EOS, 1.0, None)]
            return [(EOS, 1.0 - P_FINAL_PP, None)] + [
                (word, P_FINAL_PP / len(PREPOSITIONS),
                 ("np", "final_pp", frozenset({"place"}), "any", -1, index, None))
                for index, word in enumerate(PREPOSITIONS)]
        raise ValueError(f"Unknown grammar state {state!r}.")

    def _noun_phrase(self, role, categories, number, adjectives, shift, carried):
        if adjectives == -1:  # the determiner
            weights = zipf(len(DETERMINERS))
            return [(word, float(weight), ("np", role, categories, imposed, 0, shift, carried))
                    for (word, imposed), weight in zip(DETERMINERS, weights)]
        result = []
        p_adjective = P_ADJECTIVE[adjectives] if adjectives < len(P_ADJECTIVE) else 0.0
        compatible = [(word, allowed & categories) for word, allowed in ADJECTIVES
                      if allowed & categories]
        weights = zipf(len(ADJECTIVES))[[i for i, (_, allowed) in enumerate(ADJECTIVES)
                                         if allowed & categories]]
        weights = weights / weights.sum()
        for (word, narrowed), weight in zip(compatible, weights):
            if p_adjective > 0:
                result.append((word, float(p_adjective * weight),
                               ("np", role, narrowed, number, adjectives + 1, shift, carried)))
        ordered = [category for category in CATEGORIES if category in categories]
        p_number = {"singular": {"singular": 1.0, "plural": 0.0},
                    "plural": {"singular": 0.0, "plural": 1.0},
                    "any": {"singular": 1.0 - P_PLURAL, "plural": P_PLURAL}}[number]
        for category in ordered:
            nouns = self.nouns[category]
            # The verb (or preposition) before the noun ranks the nouns its own way.
            weights = np.roll(zipf(len(nouns), PREFERENCE_EXPONENT), shift)
            for rank, ((singular, plural), weight) in enumerate(zip(nouns, weights)):
                for form, word in (("singular", singular), ("plural", plural)):
                    p = (1 - p_adjective) / len(ordered) * p_number[form] * weight
                    if p > 0:
                        result.append((word, float(p), self._after_noun(role, category, form,
                                                                        rank, carried)))
        return result

    @staticmethod
    def _after_noun(role, category, number, lemma, carried):
        if role == "subject":
            return ("after_subject", category, number, lemma)
        if role in ("relative_object", "subject_pp"):
            return ("verb", "main", *carried)
        if role == "object":
            return ("end", False)
        return ("end", True)  # final_pp

    def start_state(self):
        return ("np", "subject", SUBJECT_CATEGORIES, "any", -1, 0, None)

    def sample(self, rng):
        """One sentence: ``(words, log_probability)``, words ending with ``</s>``."""
        state, words, log_probability = self.start_state(), [], 0.0
        while state is not None:
            options = self.transitions(state)
            choice = np.searchsorted(self._cumulative(state), rng.random(), side="right")
            word, p, state = options[min(choice, len(options) - 1)]
            words.append(word)
            log_probability += np.log(p)
        return words, log_probability

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def _cumulative(self, state):
        return np.cumsum([p for _, p, _ in self.transitions(state)])

    def log_probability(self, words):
        """The exact ``log P`` of a sentence (words ending with ``</s>``), following the unique
        state path; ``-inf`` for a sentence the grammar cannot produce."""
        state, total = self.start_state(), 0.0
        for word in words:
            if state is None:
                return -np.inf
            step = {option[0]: option for option in self.transitions(state)}
            if word not in step:
                return -np.inf
            _, p, state = step[word]
            total += np.log(p)
        return total if state is None else -np.inf

    def example(self, split, index):
        rng = np.random.default_rng([self.spec.seed, SPLITS.index(split), index])
        words, log_probability = self.sample(rng)
        return {
            "tokens": np.array([self.ids[word] for word in words], dtype=np.int32),
            "text": " ".join(words[:-1]),
            "length": len(words),
            "log_probability": np.float32(log_probability),
        }


def _vocabulary(nouns):
    """The fixed vocabulary and, per word, its part of speech, category, number and lemma."""
    entries = [(PAD, "special", "", "", PAD), (BOS, "special", "", "", BOS),
               (EOS, "special", "", "", EOS)]
    entries += [(word, "determiner", "", number if number != "any" else "", word)
                for word, number in DETERMINERS]
    entries += [(word, "preposition", "", "", word) for word in PREPOSITIONS]
    entries += [(RELATIVE, "relative", "", "", RELATIVE)]
    entries += [(word, "adjective", "", "", word) for word, _ in ADJECTIVES]
    for plural, singular, _, objects in VERBS:
        kind = "verb" if objects else "intransitive_verb"
        entries += [(singular, kind, "", "singular", plural), (plural, kind, "", "plural", plural)]
    for category, pairs in nouns.items():
        for singular, plural in pairs:
            entries += [(singular, "noun", category, "singular", singular),
                        (plural, "noun", category, "plural", singular)]
    vocabulary = [entry[0] for entry in entries]
    assert len(set(vocabulary)) == len(vocabulary), "a word has two entries"
    info = {"pos": [e[1] for e in entries], "category": [e[2] for e in entries],
            "number": [e[3] for e in entries], "lemma": [e[4] for e in entries]}
    return vocabulary, info


class GrammarConfig(tfds.core.BuilderConfig):
    def __init__(self, *, spec, **kwargs):
        super().__init__(**kwargs)
        self.spec = spec


CONFIGS = (
    GrammarConfig(
        name="small",
        description="10 nouns per category (172 words), 12000 / 1000 / 1000 sentences.",
        spec=GrammarSpec(nouns_per_category=10, split_sizes=(12000, 1000, 1000), seed=11),
    ),
    GrammarConfig(
        name="large",
        description="20 nouns per category (272 words), 60000 / 4000 / 4000 sentences.",
        spec=GrammarSpec(nouns_per_category=20, split_sizes=(60000, 4000, 4000), seed=12),
    ),
)


@functools.lru_cache(maxsize=None)
def grammar(config_name="small"):
    """The ``Grammar`` of a configuration of ``kerasnn_grammar``."""
    for config in CONFIGS:
        if config.name == config_name:
            return Grammar(config.spec)
    raise ValueError(f"Unknown kerasnn_grammar config {config_name!r}; "
                     f"expected one of {[config.name for config in CONFIGS]}.")


class KerasnnGrammar(tfds.core.GeneratorBasedBuilder):
    """Sentences of a unifilar stochastic finite-state grammar, with exact log-probabilities."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = list(CONFIGS)

    def _info(self):
        language = grammar(self.builder_config.name)
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "tokens": tfds.features.Sequence(np.int32),
                "text": tfds.features.Text(),
                "length": np.int32,
                "log_probability": np.float32,  # tfds stores floats as float32
            }),
            supervised_keys=None,
            metadata=tfds.core.MetadataDict(vocabulary=language.vocabulary,
                                            **language.word_info),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # generated locally
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        language = grammar(self.builder_config.name)
        for index in range(language.spec.split_sizes[SPLITS.index(split)]):
            yield index, language.example(split, index)


# -- the generator's truth about its words, for scoring embeddings ------------------------------


def analogy_questions(word_info):
    """``a : b :: c : d`` id quadruples the grammar makes true: singular : plural of two nouns
    (``cat : cats :: dog : dogs``) and the two agreement forms of two verbs (``sees : see ::
    eats : eat``), every ordered pair of distinct lemmas."""
    forms = {}
    for index, (pos, number, lemma) in enumerate(zip(word_info["pos"], word_info["number"],
                                                     word_info["lemma"])):
        if pos in ("noun", "verb", "intransitive_verb") and number:
            forms.setdefault((pos != "noun", lemma), {})[number] = index
    questions = []
    for kind in (False, True):
        pairs = [(f["singular"], f["plural"]) for (is_verb, _), f in forms.items()
                 if is_verb == kind]
        questions += [(a, b, c, d) for a, b in pairs for c, d in pairs if a != c]
    return np.array(questions, dtype=np.int64).reshape(-1, 4)


def attribute_similarity(word_info, first, second):
    """The generator's similarity of two words: the fraction of their defined attributes (part
    of speech, category, number, lemma) they share. ``cat``/``dog`` share part of speech,
    category and number (3 of 4), ``cat``/``cats`` part of speech, category and lemma."""
    shared, defined = 0, 0
    for key in ("pos", "category", "number", "lemma"):
        a, b = word_info[key][first], word_info[key][second]
        if a or b:
            defined += 1
            shared += a == b
    return shared / defined if defined else 0.0
