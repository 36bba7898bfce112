"""The embedded demo corpus: English→French pairs from a small grammar, generated from a seed.

It stands in for WMT'14 on machines without internet and keeps the paper's question visible at small
scale. The grammar (lexicon in ``demo_lexicon.py``) covers gendered articles with elision and
contraction, adjectives that agree and mostly follow the noun, verbs by person, number and tense
(present; passé composé with *avoir* or *être*, participles agreeing with the subject or a preceding
direct object), ``ne … pas``, ``est-ce que`` questions, ``qui``/``que`` relative clauses,
prepositional phrases and coordinated clauses.

Two random streams drive each sentence: ``structure`` makes every English-side choice and
``synonyms`` only picks among French synonyms. The same structure seed with another synonym seed
therefore gives the *same English sentence* with a *different, equally valid French reference* whose
articles, adjectives and participles agree with the other noun's gender. :func:`valid_references`
goes further: it lists the sentence's synonym choices and builds other references from them, each
distinct from the first (a sentence without synonym nouns has just one).

Each :class:`Pair` also records what agreement checking needs (:meth:`Pair.agreement_record`): its
noun phrases in surface order (every French synonym of the noun with its gender, the number, the
determiner and adjective lemmas) and its past participles in surface order, each with the noun
phrase it agrees with (None: it agrees with none, e.g. after *avoir* or a pronoun subject).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Iterator

from activemem.data import demo_lexicon as lex


@dataclass
class NounPhrase:
    """What a test needs to check agreement: the French head of one noun phrase."""

    noun: lex.Noun
    number: str
    determiner: str                 # underlying French determiner (before elision)
    adjectives: list[str]           # French adjective forms used, in order
    french: list[str]               # determiner, adjectives and noun, underlying forms
    english: lex.EnglishNoun | None = None   # the English noun, whose French synonyms are all valid
    determiner_lemma: str = ""      # masculine singular French determiner (le, un, ce, mon)
    adjective_lemmas: list[str] = field(default_factory=list)  # masculine singular French adjectives

    def record(self) -> dict:
        synonyms = self.english.french if self.english else (self.noun,)
        return {"nouns": [{"sg": n.form("sg"), "pl": n.form("pl"), "gender": n.gender} for n in synonyms],
                "number": self.number, "determiner": self.determiner_lemma,
                "adjectives": list(self.adjective_lemmas)}


@dataclass
class Pair:
    en: str
    fr: str
    noun_phrases: list[NounPhrase] = field(default_factory=list)
    # (masculine singular participle, index of the noun phrase it agrees with or None), surface order
    participles: list[tuple[str, int | None]] = field(default_factory=list)

    def agreement_record(self) -> dict:
        """JSON-ready: what ``activemem.evaluate.agreement`` needs to check a translation of ``en``.

        The same for every valid reference of the sentence (it lists every synonym of each noun).
        """
        return {"noun_phrases": [np_.record() for np_ in self.noun_phrases],
                "participles": [{"lemma": lemma, "noun_phrase": i} for lemma, i in self.participles]}


@dataclass
class Subject:
    en: list[str]
    fr: list[str]
    person: int       # 0 je, 2 il/elle/noun singular, 3 nous, 4 vous, 5 ils/noun plural
    number: str
    gender: str
    noun_phrase: int | None = None  # index in Sentence.noun_phrases; None for a pronoun


class Sentence:
    """Builds one parallel sentence; English and French are produced side by side."""

    def __init__(self, structure: random.Random, synonyms, max_clauses: int, max_depth: int = 2,
                 min_clauses: int = 1):
        if not 1 <= min_clauses <= max_clauses:
            raise ValueError(f"clause counts must satisfy 1 <= min <= max, got {min_clauses}..{max_clauses}")
        self.rs, self.ry = structure, synonyms  # ry: anything with random.Random's choice()
        self.min_clauses, self.max_clauses, self.max_depth = min_clauses, max_clauses, max_depth
        self.noun_phrases: list[NounPhrase] = []
        self.participles: list[tuple[str, int | None]] = []

    # -- noun phrases ------------------------------------------------------------------------
    def noun_phrase(self, pool, depth: int, definite_only: bool = False) -> tuple[list, list, lex.Noun, str]:
        rs = self.rs
        english = rs.choice(pool)
        number = "pl" if rs.random() < 0.3 else "sg"
        det = rs.choices(["the", "a", "this", "my"], weights=[5, 2, 1.5, 1.5])[0]
        if definite_only and det == "a":
            det = "the"
        n_adj = rs.choices([0, 1, 2], weights=[6, 3.5, 0.5])[0]
        adjectives = rs.sample(lex.ADJECTIVES, n_adj)
        noun = self.ry.choice(english.french)       # the synonym choice: French side only
        g, n = noun.gender, number

        det_en = det if number == "sg" else lex.ENGLISH_PLURAL_DETERMINER[det]
        en = [det_en] + [a.en for a in adjectives] + [english.sg if n == "sg" else english.pl]
        det_fr = lex.DETERMINERS[det][2 if n == "pl" else (g == "f")]
        pre = [a.form(g, n) for a in adjectives if a.before]
        post = [a.form(g, n) for a in adjectives if not a.before]
        if det == "a" and n == "pl" and pre:
            pre, post = [], [a.form(g, n) for a in adjectives]  # "des" + pre-adjective avoided
        fr = [det_fr] + pre + [noun.form(n)] + post
        index = len(self.noun_phrases)
        self.noun_phrases.append(NounPhrase(noun, n, det_fr, pre + post, list(fr), english,
                                            lex.DETERMINERS[det][0], [a.forms[0] for a in adjectives]))

        if depth < self.max_depth:
            roll = rs.random()
            if roll < 0.2:      # "the car of my friend" → "la voiture de mon ami"
                en2, fr2, _, _ = self.noun_phrase(lex.NOUNS, depth + 1, definite_only=True)
                en, fr = en + ["of"] + en2, fr + ["de"] + fr2
            elif roll < 0.4:    # relative clause
                en2, fr2 = self.relative_clause(english, noun, n, index, depth + 1)
                en, fr = en + en2, fr + fr2
        return en, fr, noun, n

    def relative_clause(self, english: lex.EnglishNoun, noun: lex.Noun, number: str, antecedent: int,
                        depth: int):
        rs = self.rs
        if rs.random() < 0.5:   # subject gap: "the man who sees the dog" → "l'homme qui voit le chien"
            subject = Subject([], [], 2 if number == "sg" else 5, number, noun.gender, antecedent)
            en, fr = self.predicate(subject, rs.choice(["present", "past"]), "affirmative", depth)
            return ["who" if english.animate else "that"] + en, ["qui"] + fr
        # object gap: "the car that she bought" → "la voiture qu'elle a achetée": with avoir the
        # participle agrees with the preceding direct object (the antecedent).
        subject = self.subject(depth)
        verb = rs.choice(lex.TRANSITIVE)
        tense = rs.choice(["present", "past"])
        en_verb, fr_verb = self.verb_group(verb, subject, tense, "affirmative",
                                           agree=(noun.gender, number, antecedent))
        return ["that"] + subject.en + en_verb, ["que"] + subject.fr + fr_verb

    def subject(self, depth: int) -> Subject:
        if self.rs.random() < 0.35:
            en, fr, person, number, gender = self.rs.choice(lex.PRONOUNS)
            return Subject([en], [fr], person, number, gender)
        animate = [n for n in lex.NOUNS if n.animate]
        index = len(self.noun_phrases)  # the subject's own noun phrase comes first
        en, fr, noun, number = self.noun_phrase(animate, depth)
        return Subject(en, fr, 2 if number == "sg" else 5, number, noun.gender, index)

    # -- verbs -----------------------------------------------------------------------------
    def verb_group(self, verb: lex.Verb, subject: Subject, tense: str, mode: str,
                   agree: tuple[str, str, int] | None = None) -> tuple[list, list]:
        """English and French verb group; for questions the English auxiliary is returned first.

        ``agree``: (gender, number, noun phrase) of a preceding direct object, which an *avoir*
        participle agrees with."""
        base, third, past = verb.en
        third_singular = subject.person == 2
        if mode == "affirmative":
            en = [third if third_singular else base] if tense == "present" else [past]
        else:
            aux = ("does" if third_singular else "do") if tense == "present" else "did"
            en = [aux, "not", base] if mode == "negative" else [aux, base]
        if tense == "present":
            fr = [verb.present[subject.person]]
        else:
            auxiliary = (lex.ETRE if verb.etre else lex.AVOIR)[subject.person]
            if verb.etre:
                gender, number, controller = subject.gender, subject.number, subject.noun_phrase
            else:
                gender, number, controller = agree or ("m", "sg", None)
            # Every participle is recorded, in surface order, so that a checker can tell them apart;
            # those agreeing with no noun phrase (avoir without a preceding object, a pronoun
            # subject) have controller None.
            self.participles.append((verb.participle, controller))
            fr = [auxiliary, lex.participle_form(verb.participle, gender, number)]
        if mode == "negative":
            fr = ["ne", fr[0], "pas"] + fr[1:]
        return en, fr

    def predicate(self, subject: Subject, tense: str, mode: str, depth: int) -> tuple[list, list]:
        rs = self.rs
        kind = rs.choices(["transitive", "motion", "intransitive"], weights=[6, 2, 2])[0]
        if kind == "transitive":
            verb = rs.choice(lex.TRANSITIVE)
            en, fr = self.verb_group(verb, subject, tense, mode)
            # After a negation French needs "de" instead of un/une/des: use definite objects there.
            obj_en, obj_fr, _, _ = self.noun_phrase(lex.NOUNS, depth, definite_only=mode == "negative")
            en, fr = en + obj_en, fr + obj_fr
        elif kind == "motion":
            verb = rs.choice(lex.MOTION)
            en, fr = self.verb_group(verb, subject, tense, mode)
            place_en, place_fr, _, _ = self.noun_phrase(lex.PLACES, self.max_depth, definite_only=True)
            en, fr = en + ["to"] + place_en, fr + ["à"] + place_fr
        else:
            verb = rs.choice(lex.INTRANSITIVE)
            en, fr = self.verb_group(verb, subject, tense, mode)
        if kind != "motion" and rs.random() < 0.35:
            prep_en, prep_fr = rs.choice(lex.PREPOSITIONS)
            place_en, place_fr, _, _ = self.noun_phrase(lex.PLACES, self.max_depth, definite_only=True)
            en, fr = en + [prep_en] + place_en, fr + prep_fr.split() + place_fr
        return en, fr

    # -- clauses and sentences ---------------------------------------------------------------
    def clause(self, mode: str) -> tuple[list, list]:
        subject = self.subject(depth=1)
        tense = self.rs.choice(["present", "past"])
        en, fr = self.predicate(subject, tense, mode, depth=1)
        if mode == "question":   # "does the man see …" / "est-ce que l'homme voit …"
            return en[:1] + subject.en + en[1:], ["est-ce", "que"] + subject.fr + fr
        return subject.en + en, subject.fr + fr

    def build(self) -> Pair:
        rs = self.rs
        clauses = rs.randint(self.min_clauses, self.max_clauses)
        if clauses == 1 and rs.random() < 0.15:
            en, fr = self.clause("question")
            return self.finish(en + ["?"], fr + ["?"])
        en, fr = [], []
        for i in range(clauses):
            if i:
                en_link, fr_link = rs.choice([("and", "et"), ("but", "mais"), ("because", "parce que")])
                en, fr = en + [en_link], fr + fr_link.split()
            mode = "negative" if rs.random() < 0.25 else "affirmative"
            c_en, c_fr = self.clause(mode)
            en, fr = en + c_en, fr + c_fr
        return self.finish(en + ["."], fr + ["."])

    def finish(self, en: list[str], fr: list[str]) -> Pair:
        return Pair(finish_english(en), finish_french(fr), self.noun_phrases, self.participles)


def _starts_with_vowel(word: str) -> bool:
    return word.lower().startswith(lex.VOWEL_START)


ELIDED = {"le": "l'", "la": "l'", "de": "d'", "que": "qu'", "ne": "n'", "je": "j'"}
BEFORE_VOWEL = {"ce": "cet", "ma": "mon", **{a.forms[0]: a.before_vowel for a in lex.ADJECTIVES if a.before_vowel}}
CONTRACTIONS = {("à", "le"): "au", ("à", "les"): "aux", ("de", "le"): "du", ("de", "les"): "des"}


def finish_french(tokens: list[str]) -> str:
    """Apply elision, contraction and vowel forms to underlying tokens, then join them."""
    # 1. le/la before a vowel elide first, so that "de le hôtel" becomes "de l'hôtel", not "du hôtel".
    out: list[str] = []
    for tok, nxt in zip(tokens, tokens[1:] + [""]):
        out.append("l'" if tok in ("le", "la") and _starts_with_vowel(nxt) else tok)
    # 2. à le → au, de les → des, …
    merged: list[str] = []
    for tok in out:
        if merged and (merged[-1], tok) in CONTRACTIONS:
            merged[-1] = CONTRACTIONS[(merged[-1], tok)]
        else:
            merged.append(tok)
    # 3. ce → cet, ma → mon, beau → bel before a vowel; then de/que/ne/je elide and glue.
    words: list[str] = []
    for tok, nxt in zip(merged, merged[1:] + [""]):
        words.append(BEFORE_VOWEL[tok] if tok in BEFORE_VOWEL and _starts_with_vowel(nxt) else tok)
    glued: list[str] = []
    for tok, nxt in zip(words, words[1:] + [""]):
        if glued and glued[-1].endswith("'"):
            glued[-1] += tok
        elif tok in ELIDED and _starts_with_vowel(nxt):
            glued.append(ELIDED[tok])
        else:
            glued.append(tok)
    text = " ".join(glued).replace(" .", ".")  # French keeps the space before "?"
    return text[0].upper() + text[1:]


def finish_english(tokens: list[str]) -> str:
    words = ["an" if tok == "a" and _starts_with_vowel(nxt) and not nxt.startswith("h") else tok
             for tok, nxt in zip(tokens, tokens[1:] + [""])]
    text = " ".join(words).replace(" .", ".").replace(" ?", "?")
    return text[0].upper() + text[1:]


def make_pair(seed: str, synonym_seed: str, max_clauses: int, max_depth: int = 2,
              min_clauses: int = 1) -> Pair:
    """One sentence pair; ``seed`` fixes the English, ``synonym_seed`` the French synonym choices."""
    return Sentence(random.Random(seed), random.Random(synonym_seed), max_clauses, max_depth,
                    min_clauses).build()


class _RecordedChoices:
    """Synonym choices from a random stream, remembering each choice among several synonyms."""

    def __init__(self, rng: random.Random):
        self.rng, self.picked, self.arities = rng, [], []

    def choice(self, options):
        pick = self.rng.randrange(len(options))  # what random.choice does, with the index kept
        if len(options) > 1:
            self.picked.append(pick)
            self.arities.append(len(options))
        return options[pick]


class _PlannedChoices:
    """Synonym choices from a fixed plan: the k-th choice among several synonyms takes ``plan[k]``."""

    def __init__(self, plan: list[int]):
        self.plan, self.k = plan, 0

    def choice(self, options):
        if len(options) == 1:
            return options[0]
        pick = self.plan[self.k]
        self.k += 1
        return options[pick]


def valid_references(seed: str, synonym_seed: str, count: int, max_clauses: int, max_depth: int = 2,
                     min_clauses: int = 1) -> list[Pair]:
    """Up to ``count`` pairs with the same English and *distinct* valid French references.

    The first is ``make_pair(seed, synonym_seed, …)``. The structure stream makes the same calls
    whatever synonyms are picked, so the sentence's synonym choices form a fixed list (one entry per
    noun phrase whose English noun has several French nouns); every combination of them is a valid
    reference. The others are drawn without repetition from those combinations, seeded by ``seed``.
    A sentence with k such noun phrases has 2^k references (with two-way synonyms), so fewer than
    ``count`` may come back: callers decide how to fill the gap.
    """
    recorded = _RecordedChoices(random.Random(synonym_seed))
    first = Sentence(random.Random(seed), recorded, max_clauses, max_depth, min_clauses).build()
    combinations = math.prod(recorded.arities)
    own = 0  # the first reference's combination as a mixed-radix number
    for pick, arity in zip(recorded.picked, recorded.arities):
        own = own * arity + pick
    others = range(combinations - 1)  # every combination but ``own``: x >= own stands for x + 1
    wanted = min(count - 1, len(others))
    chosen = sorted(random.Random(f"{seed}/references").sample(others, wanted))
    pairs = [first]
    for code in chosen:
        code += code >= own
        plan = []
        for arity in reversed(recorded.arities):
            code, pick = divmod(code, arity)
            plan.append(pick)
        pairs.append(Sentence(random.Random(seed), _PlannedChoices(plan[::-1]), max_clauses, max_depth,
                              min_clauses).build())
    return pairs


def generate(seed: int, split: str, count: int, max_clauses: int, max_depth: int = 2,
             min_clauses: int = 1) -> Iterator[Pair]:
    """``count`` pairs of one split; the same arguments always give the same pairs."""
    for i in range(count):
        yield make_pair(f"{seed}/{split}/{i}", f"{seed}/{split}/{i}/fr", max_clauses, max_depth, min_clauses)


def generate_references(seed: int, split: str, count: int, references: int, max_clauses: int,
                        max_depth: int = 2, min_clauses: int = 1) -> Iterator[list[Pair]]:
    """Like :func:`generate`, but each item lists up to ``references`` distinct valid pairs of one
    English sentence, the first being the pair :func:`generate` gives."""
    for i in range(count):
        yield valid_references(f"{seed}/{split}/{i}", f"{seed}/{split}/{i}/fr", references, max_clauses,
                               max_depth, min_clauses)
