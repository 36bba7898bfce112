"""The word class of every French word the demo grammar writes: what ``evaluate/by_word_class.py`` groups by.

The grammar (``demo.py``) knows each word's role when it writes it; the lexicon (``demo_lexicon.py``)
lists every form, so a surface word is classified by looking it up. The classes are the ones that tell
the paper's argument apart:
- **noun**: the lexical choice (a synonym, possibly of the other gender);
- **determiner** and **adjective**: their gender and number depend on the noun the output chose
  (agreement), contracted forms (``au``, ``du``, ``des``) included;
- **verb**: present forms, the auxiliaries and the agreeing past participles;
- **pronoun**: the subject pronouns;
- **function**: prepositions, conjunctions, relative pronouns, negation, ``est-ce`` and the end punctuation;
- **end of sentence**: the EOS token (where a model decides the length).

Elided words are split after the apostrophe (``l'homme`` → ``l'`` + ``homme``), capitals are lowered.
"""

from __future__ import annotations

import functools

from activemem.data import demo_lexicon as lex

CLASSES = ("noun", "determiner", "adjective", "verb", "pronoun", "function", "end of sentence")
END = "end of sentence"
OTHER = "other"  # a word the lexicon does not know (a model's output can hold one; a reference never does)

_FUNCTION = ("que", "qu'", "qui", "est-ce", "et", "mais", "parce", "à", "de", "d'", "ne", "n'", "pas", ".", "?",
             *(word for _, french in lex.PREPOSITIONS for word in french.split()))
_DETERMINER = ("l'", "cet", "mon", "au", "aux", "du", "des")


@functools.cache
def classes_of_forms() -> dict[str, str]:
    """Every surface form of the lexicon → its class; a form claimed by two classes is an error here."""
    groups = {
        "noun": [noun.form(number) for english in lex.NOUNS + lex.PLACES for noun in english.french
                 for number in ("sg", "pl")],
        "determiner": [form for forms in lex.DETERMINERS.values() for form in forms] + list(_DETERMINER),
        "adjective": [form for a in lex.ADJECTIVES for form in a.forms + ((a.before_vowel,) if a.before_vowel else ())],
        "verb": [form for verb in lex.TRANSITIVE + lex.MOTION + lex.INTRANSITIVE for form in verb.present]
                + list(lex.AVOIR) + list(lex.ETRE)
                + [lex.participle_form(verb.participle, g, n) for verb in lex.TRANSITIVE + lex.MOTION + lex.INTRANSITIVE
                   for g in ("m", "f") for n in ("sg", "pl")],
        "pronoun": [french for _, french, *_ in lex.PRONOUNS] + ["j'"],
        "function": list(_FUNCTION),
    }
    table: dict[str, str] = {}
    for kind, forms in groups.items():
        for form in forms:
            if table.setdefault(form, kind) != kind:
                raise ValueError(f"demo lexicon: {form!r} is both a {table[form]} and a {kind}")
    return table


def split_word(word: str) -> list[str]:
    """A whitespace word's parts, each one lexicon form: ``L'homme`` → ``l'``, ``homme``; ``dort.`` →
    ``dort``, ``.``."""
    word = word.lower()
    parts: list[str] = []
    while "'" in word[:-1]:
        cut = word.index("'") + 1
        parts.append(word[:cut])
        word = word[cut:]
    if len(word) > 1 and word[-1] in ".?":
        parts += [word[:-1], word[-1]]
    elif word:
        parts.append(word)
    return parts


def word_class(part: str) -> str:
    return classes_of_forms().get(part, OTHER)
