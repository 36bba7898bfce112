"""The demo grammar: deterministic, grammatical agreement, and several valid references."""

from __future__ import annotations

import hashlib
import re

from activemem.data import demo
from activemem.data import demo_lexicon as lex

ARTICLES = {  # (gender, number) -> forms an agreeing determiner may take (before elision)
    ("m", "sg"): {"le", "un", "ce", "mon"},
    ("f", "sg"): {"la", "une", "cette", "ma"},
    ("m", "pl"): {"les", "des", "ces", "mes"},
    ("f", "pl"): {"les", "des", "ces", "mes"},
}


def corpus_digest(seed, split, n, clauses):
    h = hashlib.sha256()
    for p in demo.generate(seed, split, n, clauses):
        h.update((p.en + "\t" + p.fr + "\n").encode())
    return h.hexdigest()


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert corpus_digest(7, "train", 300, 3) == corpus_digest(7, "train", 300, 3)
    assert corpus_digest(7, "train", 300, 3) != corpus_digest(8, "train", 300, 3)
    assert corpus_digest(7, "train", 300, 3) != corpus_digest(7, "test", 300, 3)


def test_articles_and_adjectives_agree_with_the_chosen_noun():
    checked = 0
    for pair in demo.generate(3, "train", 400, 3):
        for np_ in pair.noun_phrases:
            g, n = np_.noun.gender, np_.number
            assert np_.determiner in ARTICLES[(g, n)], (pair.fr, np_)
            for form in np_.adjectives:
                adjective = next(a for a in lex.ADJECTIVES if form in a.forms)
                if len(set(adjective.forms)) == 4:  # rouge/célèbre do not show gender
                    # feminine forms end in -e/-es, plurals in -s/-x: morphology, not the lexicon table
                    assert form.endswith("e" if (g, n) == ("f", "sg") else "es" if g == "f" else
                                         ("s", "x") if n == "pl" else tuple("tdcrxu")), (pair.fr, form)
                assert form == adjective.form(g, n)
                checked += 1
    assert checked > 200


def test_french_surface_rules():
    texts = [p.fr for p in demo.generate(5, "test", 500, 3)]
    joined = " ".join(texts)
    # elision and contraction happened, and their underlying forms never survive
    for pattern in (r"\bl'[aeiouhéèâ]", r"\bau\b", r"\bdu\b", r"\bqu'", r"\bn'"):
        assert re.search(pattern, joined), pattern
    for bad in (r"\b(le|la) [aeiouéh]", r"\bà le\b", r"\bde le\b", r"\bà les\b", r"\bde les\b",
                r"\bque [aeiouéè]", r"\bne [aeiouéè]", r"\bce [aeiouéh]"):
        assert not re.search(bad, joined.lower()), bad
    assert all(t[0].isupper() and t[-1] in ".?" for t in texts)


def test_past_participles_agree():
    # être: with the subject ("elle est allée"); avoir: with a preceding direct object ("qu'il a achetée")
    found_etre = found_avoir = False
    for p in demo.generate(11, "train", 3000, 2):
        found_etre |= bool(re.search(r"\belle (n')?est (pas )?(allée|venue|retournée)\b", p.fr))
        found_avoir |= bool(re.search(r"\b(que|qu')\S* .*\b(a|ont|avons|avez|ai) \S+ées?\b", p.fr))
        assert not re.search(r"\belle (n')?est (pas )?(allé|venu|retourné)\b", p.fr), p.fr
    assert found_etre and found_avoir


def test_synonyms_give_several_valid_references_for_one_english_sentence():
    nouns = {n.form(num) for e in lex.NOUNS + lex.PLACES for n in e.french for num in ("sg", "pl")}
    differing = beyond_the_noun = 0
    for i in range(200):
        a = demo.make_pair(f"s{i}", "fr-a", 2)
        b = demo.make_pair(f"s{i}", "fr-b", 2)
        assert a.en == b.en  # the structure seed alone fixes the English
        if a.fr != b.fr:
            differing += 1
            changed = set(a.fr.lower().split()) ^ set(b.fr.lower().split())
            # an article, adjective, participle or elision changed too, not only the noun
            beyond_the_noun += bool(changed - nouns)
    assert differing > 25
    assert beyond_the_noun > differing / 2


def test_lengths_span_short_to_long():
    lengths = [len(p.en.split()) for p in demo.generate(1, "test", 2000, 4)]
    assert min(lengths) <= 4 and max(lengths) >= 60
