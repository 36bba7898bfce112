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


def test_valid_references_share_the_english_and_list_the_synonym_choices():
    counts = {}
    for i in range(300):
        refs = demo.valid_references(f"r{i}", f"r{i}/fr", 4, 2, 2)
        first = demo.make_pair(f"r{i}", f"r{i}/fr", 2, 2)
        assert (refs[0].en, refs[0].fr) == (first.en, first.fr)  # the first is the split's test.fr line
        assert all(r.en == first.en for r in refs) and len({r.fr for r in refs}) == len(refs)
        choices = 1
        for np_ in refs[0].noun_phrases:
            choices *= len(np_.english.french)
        assert len(refs) == min(4, choices)  # every combination of synonyms is a valid reference
        counts[len(refs)] = counts.get(len(refs), 0) + 1
    assert counts[1] and counts[2] and counts[4] > 20
    again = [[r.fr for r in demo.valid_references(f"r{i}", f"r{i}/fr", 4, 2, 2)] for i in range(20)]
    assert again == [[r.fr for r in demo.valid_references(f"r{i}", f"r{i}/fr", 4, 2, 2)] for i in range(20)]


def test_clause_counts_between_fewest_and_most():
    links = re.compile(r"\b(and|but|because)\b")  # the clause links, in English
    seen = set()
    for p in demo.generate(2, "test_long", 200, 4, 1, min_clauses=3):
        seen.add(len(links.findall(p.en)) + 1)
    assert seen == {3, 4}
    assert all(not links.search(p.en) for p in demo.generate(2, "train", 200, 1, 1))


def test_demo_stages_write_in_distribution_test_long_and_reference_streams(prepared):
    """The smoke scale's prepared data (conftest): test drawn like train, test_long longer, four
    aligned reference streams and noun-phrase records, all in manifest.json."""
    import json

    from activemem.data.lines import read_lines
    from activemem.data.store import EncodedSplit

    manifest = json.loads((prepared / "manifest.json").read_text())
    train_words = [len(s.split()) for s in read_lines(prepared / "train.en")]
    assert manifest["longest_train_source"]["words"] == max(train_words)
    longest_subwords = int(EncodedSplit(prepared, "train").src_lengths.max())
    assert manifest["longest_train_source"]["subwords"] == longest_subwords
    lengths = {s: [len(x.split()) for x in read_lines(prepared / f"{s}.en")] for s in ("test", "test_long")}
    assert max(lengths["test"]) <= max(train_words) + 3  # same clause counts as train
    assert min(lengths["test_long"]) > sum(train_words) / len(train_words)  # more clauses than train
    assert manifest["pairs"]["test_long"] == len(lengths["test_long"]) == 12
    for split in ("test", "test_long"):
        streams = [read_lines(prepared / name) for name in manifest["references"][split]]
        assert len(streams) == 4 and {len(s) for s in streams} == {manifest["pairs"][split]}
        assert any(len({s[i] for s in streams}) > 1 for i in range(len(streams[0])))  # other synonyms
        assert manifest["noun_phrases"][split] in manifest["files"]
        assert all(name in manifest["files"] for name in manifest["references"][split])
    assert "dev" not in manifest["references"] and "train" not in manifest["noun_phrases"]


def test_bad_clause_settings_name_the_key(tmp_path):
    """Checked once, where params.yaml is read (the download stage then reads them as they are)."""
    import pytest
    import yaml

    from activemem.config import ParamsError, load_params

    from conftest import REPO
    for bad in ([2, 1], [0, 1], 3, [1, "2"]):
        raw = yaml.safe_load((REPO / "params.yaml").read_text())
        raw["smoke"]["data"]["clauses"]["test_long"] = bad
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(ParamsError, match=r"'smoke\.data\.clauses\.test_long' must be"):
            load_params(tmp_path / "params.yaml", "smoke")
