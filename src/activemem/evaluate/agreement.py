"""Agreement diagnostic on the demo corpus: does each output noun phrase agree with its own noun?

The paper argues that a decoder writing every output at once cannot keep dependent choices
consistent. The demo grammar makes such choices visible: English *car* is French *voiture* (f.) or
*véhicule* (m.), and the article, the adjectives and a past participle further right must follow
whichever noun the output chose. This module measures, for one system's translations, the share of
noun phrases whose determiner, adjectives or agreeing past participle disagree in gender or number
with the noun the *output itself* used — a wrong but consistent choice is no error here; BLEU counts
those.

Input: one record per test sentence (``demo.Pair.agreement_record``, stored as ``<split>.np.jsonl``
by the download and prepare stages): its noun phrases in surface order, each with every French
noun allowed (all synonyms, singular and plural forms, gender), and its past participles in
surface order, each with the noun phrase it agrees with (or none). For each hypothesis:

1. Words: lower-cased, split at spaces, end punctuation removed, and elided words split after the
   apostrophe (``l'amie`` → ``l'`` ``amie``, ``qu'un`` → ``qu'`` ``un``).
2. Nouns: the record's noun phrases are aligned in order to the words that are one of their allowed
   nouns (a longest common subsequence, so a missing or extra noun does not shift the rest). A noun
   phrase without a match is **not found**: counted apart, never as an error; a noun the output
   adds beyond the record (a repeated clause) is not checked. Where the output has fewer matches
   than the record, the earlier noun phrases get them. The noun's features are its synonym's gender
   and the number its form shows (for ``repas``, which shows none, the number of the English noun).
3. Modifiers of a found noun: adjective forms (any adjective of the lexicon) right before it, the
   determiner before those, and adjective forms right after it. A determiner is any form of the
   lexicon's determiners, elided or contracted: ``l'`` is singular of either gender, ``du``/``au``
   masculine singular, ``des``/``aux`` plural; ``mon``, ``cet``, ``bel``, ``nouvel`` count as the
   forms before a vowel they are (``mon`` is feminine singular only before a vowel).
4. Participles: the record's participles are aligned in order to the words that inflect their lemma
   (``allé``/``allée``/``allés``/``allées``), one that agrees with a noun phrase only after that
   noun phrase's noun; each agreeing one found is compared with the noun its noun phrase matched.
   The participles that agree with nothing (``il a vu``) take part in the alignment only, so that
   ``nous sommes venus … l'homme est venu`` pairs each participle with its own subject.

A modifier *disagrees* when no (gender, number) is allowed both by its form and by the noun's form.
A noun phrase with at least one disagreeing modifier is one error; ``errors_by_kind`` counts the
disagreeing modifiers by kind. Whatever is not a form of the lexicon is skipped, not guessed at.
Subject pronouns are not noun phrases: ``elle est allé`` goes uncounted.

On every valid reference of a generated split the checker finds every noun and no error
(tests/test_agreement.py), so a nonzero rate is the system's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from activemem.data import demo
from activemem.data import demo_lexicon as lex
from activemem.data.lines import DataError, Lines, read_lines
from activemem.evaluate.bleu import check_aligned

SINGULAR = {"m": frozenset({("m", "sg")}), "f": frozenset({("f", "sg")})}
PLURAL = frozenset({("m", "pl"), ("f", "pl")})
KINDS = ("determiner", "adjective", "participle")
APOSTROPHES = ("'", "\u2019")


def _add(table: dict, form: str, features: frozenset, before_vowel_only: bool = False) -> None:
    table.setdefault(form, []).append((features, before_vowel_only))


def _determiners() -> dict[str, list]:
    """Surface form → [(features, only before a vowel)] for every determiner the grammar writes."""
    table: dict[str, list] = {}
    underlying = {}
    for masculine, feminine, plural in lex.DETERMINERS.values():
        for form, feats in ((masculine, SINGULAR["m"]), (feminine, SINGULAR["f"]), (plural, PLURAL)):
            underlying[form] = feats
            _add(table, form, feats)
    for form, elided in demo.ELIDED.items():           # le, la → l'
        if form in underlying:
            _add(table, elided, underlying[form])
    for (_, form), merged in demo.CONTRACTIONS.items():  # de le → du, à les → aux, …
        _add(table, merged, underlying[form])
    for form, vowel_form in demo.BEFORE_VOWEL.items():  # ce → cet, ma → mon
        if form in underlying:
            _add(table, vowel_form, underlying[form], before_vowel_only=True)
    return table


def _adjectives() -> dict[str, list]:
    table: dict[str, list] = {}
    for adjective in lex.ADJECTIVES:
        for gender in "mf":
            for number in ("sg", "pl"):
                _add(table, adjective.form(gender, number), frozenset({(gender, number)}))
        if adjective.before_vowel:  # bel, nouvel: masculine singular before a vowel
            _add(table, adjective.before_vowel, SINGULAR["m"], before_vowel_only=True)
    return table


DETERMINERS, ADJECTIVES = _determiners(), _adjectives()


def _features(table: dict, word: str, next_word: str) -> frozenset:
    """What ``word`` allows, given the word after it; empty if it is no form in ``table``."""
    vowel_next = next_word.startswith(lex.VOWEL_START)
    allowed = frozenset()
    for feats, before_vowel_only in table.get(word, ()):
        if vowel_next or not before_vowel_only:
            allowed |= feats
    return allowed


def participle_features(lemma: str, word: str) -> frozenset:
    """The (gender, number) pairs for which ``word`` is the participle of ``lemma``; empty if none."""
    return frozenset((g, n) for g in "mf" for n in ("sg", "pl") if lex.participle_form(lemma, g, n) == word)


def words(text: str) -> list[str]:
    """The hypothesis as the checker reads it (see step 1 of the module docstring)."""
    out = []
    for token in text.lower().split():
        token = token.strip(".,;:!?\"«»()")
        for mark in APOSTROPHES[1:]:
            token = token.replace(mark, "'")
        while "'" in token[:-1]:  # l'amie → l' amie; qu'l'… cannot happen, but is handled
            cut = token.index("'") + 1
            out.append(token[:cut])
            token = token[cut:]
        if token:
            out.append(token)
    return out


def align(m: int, n: int, matches) -> dict[int, int]:
    """Longest order-preserving matching of ``m`` items to ``n`` word positions, where
    ``matches(k, j)`` says whether word ``j`` can stand for item ``k``; ``{item: position}``."""
    best = [[0] * (n + 1) for _ in range(m + 1)]  # best[k][j]: items k.., positions j..
    for k in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            take = best[k + 1][j + 1] + 1 if matches(k, j) else 0
            best[k][j] = max(take, best[k + 1][j], best[k][j + 1])
    found, k, j = {}, 0, 0
    # Walk forwards; on a tie keep the item and try the next word, so that where a hypothesis has
    # fewer matches than the record, the earlier items get them (a truncated output loses its end).
    while k < m and j < n:
        if matches(k, j) and best[k][j] == best[k + 1][j + 1] + 1:
            found[k] = j
            k, j = k + 1, j + 1
        elif best[k][j + 1] >= best[k + 1][j]:
            j += 1
        else:
            k += 1
    return found


def noun_features(noun_phrase: dict, word: str) -> frozenset:
    """(gender, number) of ``word`` as a noun of ``noun_phrase``; a form that shows no number
    (``repas``) takes the number of the source, so ``ce grands repas`` still disagrees."""
    found = frozenset((n["gender"], number) for n in noun_phrase["nouns"] for number in ("sg", "pl")
                      if n[number] == word)
    return frozenset(f for f in found if f[1] == noun_phrase["number"]) if len(found) > 1 else found


@dataclass
class SentenceCheck:
    """One hypothesis against its record."""

    noun_phrases: int = 0
    checked: int = 0
    errors: int = 0                       # noun phrases with at least one disagreeing modifier
    modifiers_checked: int = 0
    checked_by_kind: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors_by_kind: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    disagreements: list = field(default_factory=list)  # (kind, modifier, noun), for messages and tests

    @property
    def not_found(self) -> int:
        return self.noun_phrases - self.checked


def check(hypothesis: str, record: dict) -> SentenceCheck:
    """Agreement of one hypothesis with itself, guided by its sentence's record."""
    toks = words(hypothesis)
    phrases = record["noun_phrases"]
    result = SentenceCheck(noun_phrases=len(phrases))
    nouns = align(len(phrases), len(toks), lambda k, j: bool(noun_features(phrases[k], toks[j])))
    wrong: dict[int, list] = {}  # noun phrase → its disagreements

    def compare(kind: str, k: int, position: int, allowed: frozenset) -> None:
        result.modifiers_checked += 1
        result.checked_by_kind[kind] += 1
        noun = toks[nouns[k]]
        if not allowed & noun_features(phrases[k], noun):
            result.errors_by_kind[kind] += 1
            wrong.setdefault(k, []).append((kind, toks[position], noun))

    for k, j in nouns.items():
        i = j - 1
        while i >= 0 and _features(ADJECTIVES, toks[i], toks[i + 1]):
            compare("adjective", k, i, _features(ADJECTIVES, toks[i], toks[i + 1]))
            i -= 1
        if i >= 0 and _features(DETERMINERS, toks[i], toks[i + 1]):
            compare("determiner", k, i, _features(DETERMINERS, toks[i], toks[i + 1]))
        i = j + 1
        while i < len(toks) and _features(ADJECTIVES, toks[i], toks[i + 1] if i + 1 < len(toks) else ""):
            compare("adjective", k, i, _features(ADJECTIVES, toks[i], toks[i + 1] if i + 1 < len(toks) else ""))
            i += 1

    participles = record.get("participles", [])

    def participle_at(p: int, j: int) -> bool:
        k = participles[p]["noun_phrase"]
        after_its_noun = k not in nouns or j > nouns[k]
        return after_its_noun and bool(participle_features(participles[p]["lemma"], toks[j]))

    for p, position in align(len(participles), len(toks), participle_at).items():
        k = participles[p]["noun_phrase"]
        if k in nouns:  # agrees with a noun phrase whose noun was found (None never is)
            compare("participle", k, position, participle_features(participles[p]["lemma"], toks[position]))

    result.checked = len(nouns)
    result.errors = len(wrong)
    result.disagreements = [d for k in sorted(wrong) for d in wrong[k]]
    return result


def agreement_scores(hypotheses: list[str], records: list[dict]) -> dict:
    """Corpus totals for evaluation.json: ``{noun_phrases, checked, errors, error_rate, not_found,
    modifiers_checked, checked_by_kind, errors_by_kind}``; ``error_rate`` is errors per *found*
    noun phrase."""
    check_aligned(records, hypotheses=hypotheses)
    total = SentenceCheck()
    for hypothesis, record in zip(hypotheses, records):
        one = check(hypothesis, record)
        total.noun_phrases += one.noun_phrases
        total.checked += one.checked
        total.errors += one.errors
        total.modifiers_checked += one.modifiers_checked
        for kind in KINDS:
            total.checked_by_kind[kind] += one.checked_by_kind[kind]
            total.errors_by_kind[kind] += one.errors_by_kind[kind]
    return {"noun_phrases": total.noun_phrases, "checked": total.checked, "errors": total.errors,
            "error_rate": total.errors / total.checked if total.checked else None,
            "not_found": total.not_found, "modifiers_checked": total.modifiers_checked,
            "checked_by_kind": total.checked_by_kind, "errors_by_kind": total.errors_by_kind}


def load_records(path: str | Path) -> Lines:
    """The records of ``<split>.np.jsonl``, one per line; a bad line is a DataError naming it."""
    records = Lines(source=path)
    for number, line in enumerate(read_lines(path), start=1):
        try:
            record = json.loads(line)
            for np_ in record["noun_phrases"]:
                if not np_["nouns"] or any(not {"sg", "pl", "gender"} <= set(n) for n in np_["nouns"]):
                    raise KeyError("nouns")
            for p in record.get("participles", []):
                k = p["noun_phrase"]
                if not p["lemma"] or not (k is None or 0 <= k < len(record["noun_phrases"])):
                    raise KeyError("participles")
        except (ValueError, KeyError, TypeError) as err:
            raise DataError(f"{path}:{number}: not a noun-phrase record ({type(err).__name__}: {err})") from None
        records.append(record)
    return records
