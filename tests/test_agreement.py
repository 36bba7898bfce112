"""The agreement diagnostic and multi-reference BLEU: exact on valid references, and every planted
disagreement is counted once, of the right kind."""

from __future__ import annotations

import json

import pytest
from sacrebleu.metrics import BLEU

from activemem.data import demo
from activemem.data import demo_lexicon as lex
from activemem.data.lines import DataError, read_lines, write_lines
from activemem.evaluate import agreement
from activemem.evaluate.agreement import agreement_scores, check, load_records
from activemem.evaluate.bleu import corpus_scores, length_ratio_within


def generated(count=250, clauses=3, depth=2, seed=4):
    """Every valid reference (up to 4) of ``count`` generated sentences, relative clauses included."""
    return [demo.valid_references(f"{seed}/t/{i}", f"{seed}/t/{i}/fr", 4, clauses, depth) for i in range(count)]


SENTENCES = generated()


def np_record(english: str, number: str = "sg") -> dict:
    noun = next(n for n in lex.NOUNS + lex.PLACES if n.sg == english)
    return demo.NounPhrase(noun.french[0], number, "", [], [], noun).record()


def record(*phrases, participles=()) -> dict:
    return {"noun_phrases": list(phrases),
            "participles": [{"lemma": lemma, "noun_phrase": k} for lemma, k in participles]}


# -- valid references --------------------------------------------------------------------------------

def test_every_valid_reference_agrees_and_every_noun_is_found():
    kinds = dict.fromkeys(agreement.KINDS, 0)
    several = 0
    for refs in SENTENCES:
        rec = refs[0].agreement_record()
        several += len(refs) > 1
        for pair in refs:
            assert pair.agreement_record() == rec  # one record serves every reference
            result = check(pair.fr, rec)
            assert (result.errors, result.not_found) == (0, 0), (pair.fr, result.disagreements)
            for kind in kinds:
                kinds[kind] += result.checked_by_kind[kind]
    assert several > 100
    assert min(kinds.values()) > 50, kinds  # determiners, adjectives and participles were all compared


def test_prepared_smoke_split_has_four_streams_that_all_agree(prepared):
    manifest = json.loads((prepared / "manifest.json").read_text())
    for split in ("test", "test_long"):
        names = manifest["references"][split]
        assert names == [f"{split}.fr"] + [f"{split}.fr.ref{i}" for i in (2, 3, 4)]
        records = load_records(prepared / manifest["noun_phrases"][split])
        for name in names:
            assert name in manifest["files"]
            scores = agreement_scores(read_lines(prepared / name), records)
            assert scores["errors"] == 0 and scores["not_found"] == 0 and scores["error_rate"] == 0
            assert scores["noun_phrases"] == scores["checked"] > len(records)


# -- planted errors ------------------------------------------------------------------------------------

FLIP_GENDER = {"le": "la", "la": "le", "un": "une", "une": "un", "ce": "cette", "cette": "ce"}


def test_each_flipped_article_is_one_determiner_error():
    flipped = 0
    for refs in SENTENCES[:120]:
        rec, words = refs[0].agreement_record(), agreement.words(refs[0].fr)
        for i, word in enumerate(words):
            if word in FLIP_GENDER and not words[i + 1].startswith(lex.VOWEL_START):
                wrong = " ".join(words[:i] + [FLIP_GENDER[word]] + words[i + 1:])
                result = check(wrong, rec)
                assert (result.errors, result.errors_by_kind["determiner"], result.not_found) == (1, 1, 0), wrong
                flipped += 1
    assert flipped > 100


def test_each_adjective_in_the_other_number_is_one_adjective_error():
    other_number = {}
    for a in lex.ADJECTIVES:
        for g in "mf":
            sg, pl = a.form(g, "sg"), a.form(g, "pl")
            if sg != pl and sg not in (a.form("m", "pl"), a.form("f", "pl")):
                other_number[sg] = pl
    changed = 0
    for refs in SENTENCES[:150]:
        rec, words = refs[0].agreement_record(), agreement.words(refs[0].fr)
        for i, word in enumerate(words):
            if word in other_number:
                wrong = " ".join(words[:i] + [other_number[word]] + words[i + 1:])
                result = check(wrong, rec)
                assert (result.errors, result.errors_by_kind["adjective"]) == (1, 1), wrong
                changed += 1
    assert changed > 30


def test_each_agreeing_participle_in_the_wrong_gender_is_one_participle_error():
    changed = 0
    for refs in SENTENCES:
        pair = refs[0]
        words = agreement.words(pair.fr)
        lemmas = [lemma for lemma, _ in pair.participles]
        # participles in surface order: the record lists them that way
        positions = [i for i, w in enumerate(words) if any(agreement.participle_features(m, w) for m in lemmas)]
        assert len(positions) == len(pair.participles), pair.fr
        for position, (lemma, k) in zip(positions, pair.participles):
            if k is None:
                continue
            np_ = pair.noun_phrases[k]
            g = "m" if np_.noun.gender == "f" else "f"
            wrong_form = lex.participle_form(lemma, g, np_.number)
            wrong = " ".join(words[:position] + [wrong_form] + words[position + 1:])
            result = check(wrong, pair.agreement_record())
            assert (result.errors, result.errors_by_kind["participle"]) == (1, 1), wrong
            changed += 1
    assert changed > 20


@pytest.mark.parametrize("hypothesis, errors, kinds", [
    ("La voiture rouge est ici.", 0, {}),
    ("Le véhicule rouge est ici.", 0, {}),             # the other synonym, consistently: no error
    ("Le voiture rouge est ici.", 1, {"determiner": 1}),
    ("La véhicule verte est ici.", 1, {"determiner": 1, "adjective": 1}),  # one noun phrase, two modifiers
    ("Les voitures rouge.", 1, {"adjective": 1}),      # wrong adjective number
    ("La voiture verts.", 1, {"adjective": 1}),
    ("Les voitures vertes.", 0, {}),                  # wrong number vs the English, but agreeing
    ("Cette véhicule.", 1, {"determiner": 1}),
    ("Du véhicule, au véhicule, cet véhicule.", 0, {}),
    ("Du voiture.", 1, {"determiner": 1}),
    ("Ma belle voiture.", 0, {}),
    ("Mon beau voiture.", 1, {"determiner": 1, "adjective": 1}),
    ("L'voitures.", 1, {"determiner": 1}),
])
def test_hand_made_noun_phrases(hypothesis, errors, kinds):
    result = check(hypothesis, record(np_record("car")))
    assert result.errors == errors and result.not_found == 0
    assert {k: v for k, v in result.errors_by_kind.items() if v} == kinds


@pytest.mark.parametrize("hypothesis, errors", [
    ("L'image bleue.", 0), ("L'image bleu.", 1), ("Le tableau bleu.", 0), ("L'images.", 1),
    ("Aux images bleues.", 0), ("Au image.", 1), ("Cet image.", 1), ("Mon image.", 0), ("Mon tableau.", 0),
    ("Le nouvel image.", 2), ("Le nouvel tableau.", 0), ("La nouvelle image.", 0),
])
def test_elision_contraction_and_forms_before_a_vowel(hypothesis, errors):
    # picture: tableau (m.) or image (f.), which starts with a vowel
    result = check(hypothesis, record(np_record("picture")))
    assert result.errors_by_kind["determiner"] + result.errors_by_kind["adjective"] == errors, result.disagreements
    assert result.not_found == 0


def test_a_noun_that_shows_no_number_takes_the_source_number():
    assert check("Ce grand repas.", record(np_record("meal"))).errors == 0
    assert check("Ce grands repas.", record(np_record("meal"))).errors == 1
    assert check("Ces grands repas.", record(np_record("meal", "pl"))).errors == 0


@pytest.mark.parametrize("hypothesis, errors", [
    ("Mon amie est allée à la gare.", 0),   # mon before a vowel is feminine singular
    ("Mon amie est allé à la gare.", 1),
    ("Mon ami est allée à la gare.", 1),
    ("Mon ami est allé à la gare.", 0),
    ("Mes amies sont allées à la gare.", 0),
    ("Mes amies sont allés à la gare.", 1),
    ("Ma ami est allé à la gare.", 1),       # "ma" never agrees with a masculine noun
])
def test_participles_follow_the_synonym_the_output_chose(hypothesis, errors):
    rec = record(np_record("friend"), np_record("station"), participles=[("allé", 0)])
    result = check(hypothesis, rec)
    assert result.errors == errors and result.not_found == 0, result.disagreements


def test_avoir_participle_after_a_preceding_object_and_participles_of_other_subjects():
    rec = record(np_record("car"), np_record("man"), participles=[("acheté", 0)])
    assert check("La voiture que l'homme a achetée.", rec).errors == 0
    assert check("Le véhicule que l'homme a acheté.", rec).errors == 0
    wrong = check("La voiture que l'homme a acheté.", rec)
    assert wrong.errors_by_kind["participle"] == 1 and wrong.errors == 1
    # "nous sommes venus" agrees with no noun phrase: it must not be taken for the man's participle
    rec = record(np_record("man"), participles=[("venu", None), ("venu", 0)])
    assert check("Nous sommes venus et l'homme est venu.", rec).errors == 0
    assert check("Nous sommes venus et l'homme est venue.", rec).errors == 1


def test_a_missing_noun_is_not_found_not_an_error():
    rec = record(np_record("car"), np_record("dog"), np_record("car"))
    result = check("La voiture voit la voiture.", rec)
    assert (result.checked, result.not_found, result.errors) == (2, 1, 0)
    result = check("Il dort.", rec)
    assert (result.checked, result.not_found, result.errors, result.modifiers_checked) == (0, 3, 0, 0)
    scores = agreement_scores(["Il dort.", "Le voiture."], [rec, record(np_record("car"))])
    assert scores["noun_phrases"] == 4 and scores["not_found"] == 3 and scores["checked"] == 1
    assert scores["errors"] == 1 and scores["error_rate"] == 1.0
    assert agreement_scores(["Il dort."], [rec])["error_rate"] is None


def test_records_are_checked_when_read(tmp_path):
    good = json.dumps(record(np_record("car"), participles=[("vu", None)]))
    write_lines(tmp_path / "ok.np.jsonl", [good, good])
    assert len(load_records(tmp_path / "ok.np.jsonl")) == 2
    for bad in ("{not json", json.dumps({"noun_phrases": [{"nouns": []}]}),
                json.dumps(record(np_record("car"), participles=[("vu", 3)]))):
        write_lines(tmp_path / "bad.np.jsonl", [good, bad])
        with pytest.raises(DataError, match=r"bad\.np\.jsonl:2: not a noun-phrase record"):
            load_records(tmp_path / "bad.np.jsonl")
    with pytest.raises(DataError, match="hypotheses has 1 lines"):
        agreement_scores(["La voiture."], load_records(tmp_path / "ok.np.jsonl"))


# -- several references --------------------------------------------------------------------------------

def test_multi_reference_bleu_scores_each_valid_reference_fully(tmp_path):
    refs = [r for r in SENTENCES if len(r) == 4][:20]
    assert len(refs) == 20
    streams = [[r[k].fr for r in refs] for k in range(4)]
    other = streams[2]  # the hypotheses are the third valid reference of each sentence
    single, multi = corpus_scores(other, streams[0]), corpus_scores(other, *streams)
    assert multi["bleu"] == pytest.approx(100.0) and single["bleu"] < 90
    assert multi["sacrebleu_signature"].startswith("nrefs:4|")
    assert single["sacrebleu_signature"].startswith("nrefs:1|")
    assert multi["bleu"] == pytest.approx(BLEU().corpus_score(other, streams).score)
    # padding a stream with the first reference changes nothing (what download does when a
    # sentence has fewer valid references)
    hyps = [r[1].fr.replace("la ", "le ") for r in refs]
    padded = corpus_scores(hyps, streams[0], streams[1], streams[0], streams[0])
    assert padded["bleu"] == pytest.approx(corpus_scores(hyps, streams[0], streams[1])["bleu"])
    write_lines(tmp_path / "test.fr.ref3", streams[2][:-1])
    with pytest.raises(DataError, match=r"reference stream 3 .*test\.fr\.ref3 has 19 lines"):
        corpus_scores(other, streams[0], streams[1], read_lines(tmp_path / "test.fr.ref3"))


def test_length_ratio_within_training_lengths():
    sources = ["a b", "a b c", "a b c d e f"]
    refs = ["x y", "x y z", "x y z w v u"]
    hyps = ["x y", "x y z z z z", "x"]
    assert corpus_scores(hyps, refs)["length_ratio"] == pytest.approx(9 / 11)
    assert length_ratio_within(sources, hyps, refs, 3) == (pytest.approx(8 / 5), 2)
    assert length_ratio_within(sources, hyps, refs, 1) == (None, 0)


def test_a_truncated_output_keeps_the_first_participle_with_its_noun():
    # "la professeure est retournée … parce qu'ils sont retournés …", cut after the first clause
    rec = record(np_record("teacher"), np_record("hotel"), participles=[("retourné", 0), ("retourné", None)])
    assert check("La professeure est retourné à l'hôtel.", rec).errors_by_kind["participle"] == 1
    assert check("La professeure est retournée à l'hôtel.", rec).errors == 0
    rec = record(np_record("car"), np_record("car"))
    assert check("Le voiture.", rec).disagreements == [("determiner", "le", "voiture")]
