"""The paper stage: published cells, Table 1 through one template, claims a reviewer would accept,
provenance and truncation marks, sections that appear only with their metrics, reproducible figures.

Runs are hand-made: each sentence's hypothesis is either its reference or words the reference never
holds, all of one length, so a bucket's corpus BLEU is exactly 100 × (share of perfect sentences).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from activemem import dag, lineage
from activemem.config import load_params, preset_comparison, read
from activemem.data import sources
from activemem.data.store import file_digest
from activemem.data.lines import write_lines
from activemem.evaluate.bleu import bleu_by_length, corpus_scores
from activemem.models import PAPER_NAMES
from activemem.paper import tables
from activemem.paper.bootstrap import Sentences
from activemem.paper.claims import AvailableData, check_claims, display_verdict, load_claims
from activemem.paper.figures import bleu_by_length_figure
from activemem.paper.provenance import summary
from activemem.paper.published import load_published, parse_cell
from activemem.paper.report import build
from activemem.paper.run_data import scale_note
from activemem.stages import paper as paper_stage

from conftest import REPO

SETTINGS = {"far_below_margin": 5.0, "match_tolerance": 1.0, "significance_level": 0.05,
            "min_bucket_sentences": 10, "floor_bleu": 5.0}
EVALUATE = {"bootstrap_resamples": 200, "seed": 1, "width": "search"}
EDGES = [0, 10, 20, 40]
SOURCE_WORDS = (5, 15, 25)  # one source length per bucket of EDGES
PER_BUCKET = 100
CLAIMS = REPO / "paper" / "claims.yaml"
ALL = list(PAPER_NAMES)  # the paper's four models, in its row order


def provenance(**changes) -> dict:
    return {"git_commit": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False,
            "activemem_version": "0.1.0", "source_sha256": "5" * 64, "python": "3.11.9", "torch": "2.5.1",
            "sacrebleu": "2.6.0", "sentencepiece": "0.2.0", "device": "cpu", "threads": 2, "seed": 1,
            "params_sha256": "a1b2c3d4" * 8, "cpu_kernels": PINNED, **changes}


PINNED = {"setting": "avx2", "pinned": True, "why_not": None, "aten_capability": "AVX2", "machine": "x86_64",
          "cpu": "AMD EPYC"}


def make_run(root, perfect: dict[str, tuple[int, int, int]], extra: dict[str, dict] | None = None,
             shift: dict[str, int] | None = None, alternative: tuple[str, ...] = (), seed: int = 1,
             scored: int | None = None):
    """``perfect[model]``: how many of the PER_BUCKET sentences of each bucket the model gets exactly
    right: the first ones (so better models' perfect sentences include worse models'), or those from
    ``shift[model]`` on. With ``alternative``, the test set has a second valid reference per sentence
    (listed in manifest.json) and those models' right answers are the second one. With ``scored``,
    the runs were evaluated on the first ``scored`` sentences only (evaluate.max_sentences)."""
    sources, references, second, index = [], [], [], []
    for b, words in enumerate(SOURCE_WORDS):
        for i in range(PER_BUCKET):
            sources.append(" ".join(f"s{b}x{i}x{k}" for k in range(words)))
            references.append(" ".join(f"r{b}x{i}x{k}" for k in range(8)))
            second.append(" ".join(f"v{b}x{i}x{k}" for k in range(8)))
            index.append((b, i))
    write_lines(root / "data" / "test.en", sources)
    write_lines(root / "data" / "test.fr", references)
    if alternative:
        write_lines(root / "data" / "test.ref2.fr", second)
        (root / "data" / "manifest.json").write_text(json.dumps({"references": {"test": ["test.fr", "test.ref2.fr"]}}))
    for name, counts in perfect.items():
        start = (shift or {}).get(name, 0)
        right = second if name in alternative else references
        hyps = [ok if start <= i < start + counts[b] else " ".join(f"wrong{k}" for k in range(8))
                for (b, i), ok in zip(index, right)][:scored]
        run = root / "results" / name / f"seed{seed}"
        write_lines(run / "hypotheses.txt", hyps)
        (run / "train").mkdir(parents=True)
        (run / "train" / "train_log.csv").write_text("step,loss\n10,5.0\n20,4.0\n30,3.5\n")
        # converged: the best dev evaluation (step 20) followed by one that does not improve on it
        (run / "train" / "dev_log.csv").write_text("step,dev_perplexity\n10,40.0\n20,20.0\n30,21.0\n")
        refs, srcs = references[:len(hyps)], sources[:len(hyps)]
        scores = corpus_scores(hyps, refs)
        metrics = {"model": name, "scale": "demo", "bleu": scores["bleu"], "chrf": scores["chrf"],
                   "bleu_greedy": scores["bleu"], "perplexity": 2.0, "log_perplexity": 0.6931,
                   "sacrebleu_signature": scores["sacrebleu_signature"], "beam_size": 4, "length_penalty": 0.6,
                   "bleu_by_length": bleu_by_length(srcs, hyps, refs, EDGES),
                   "parameters": 100_000, "train_steps": 1500, "train_max_steps": 1500, "train_seconds": 60.0,
                   "train_stop_reason": "patience",
                   "decode_sentences_per_s": 100.0, "truncated": False, "provenance": provenance()}
        if scored is not None:
            metrics.update(max_sentences=scored, test_sentences=len(hyps), test_sentences_total=len(references))
        if alternative:
            metrics["bleu_multi_ref"] = corpus_scores(hyps, refs, second[:len(hyps)])["bleu"]
        for key, value in (extra or {}).get(name, {}).items():
            metrics[key] = value
        (run / "evaluation.json").write_text(json.dumps(metrics))
    return root


def seal(root) -> None:
    """What the prepare and evaluate stages record, for the stage's checks: the data files' digests in
    manifest.json, and in each evaluation.json the manifest it was made from and the hypotheses beside it."""
    data = root / "data"
    manifest = json.loads((data / "manifest.json").read_text()) if (data / "manifest.json").exists() else {}
    manifest["files"] = {f.name: file_digest(f) for f in sorted(data.iterdir()) if f.name != "manifest.json"}
    (data / "manifest.json").write_text(json.dumps(manifest))
    for evaluation in (root / "results").glob("*/seed*/evaluation.json"):
        metrics = json.loads(evaluation.read_text())
        metrics[lineage.KEY] = lineage.made_from(data / "manifest.json")
        metrics[lineage.OUTPUTS] = lineage.outputs(evaluation.parent, *(f.name for f in sorted(
            evaluation.parent.glob("hypotheses*.txt"))))
        evaluation.write_text(json.dumps(metrics))


def render(root, names, paper=REPO / "paper", out="out", seeds=(1,)):
    return build("demo", names, root / "results", root / "data", paper, root / out, SETTINGS, EVALUATE,
                 list(seeds))


def run_models(params_text: str, names: list[str]) -> str:
    """params.yaml's text with ``models`` (the models a run has) set to ``names``."""
    text, count = re.subn(r"(?m)^models: \[[^\]]*\]", f"models: [{', '.join(names)}]", params_text)
    assert count == 1
    return text


def claims_by_id(claims: list[dict]) -> dict[str, dict]:
    return {c["id"]: c for c in claims}


# ---- published cells and Table 1 ----------------------------------------------------------------
def test_published_yaml_holds_exact_values_bounds_relations_and_unknowns():
    published = load_published(REPO / "paper" / "published.yaml")
    cells = published["models"]
    assert cells["extended_neural_gpu"]["bleu"].kind == "exact" and cells["extended_neural_gpu"]["bleu"].value == 29.6
    assert cells["neural_gpu"]["bleu"].display(1) == "< 5"
    assert cells["gru_attention"]["bleu"].display(1) == "< Extended Neural GPU"
    assert all(cells[m]["perplexity"].kind == "unknown" for m in cells)
    assert all(c.provenance for row in cells.values() for c in row.values())
    assert set(cells["neural_gpu"]) == set(tables.TABLE1_KEYS)  # the one column definition
    # a regenerated value can be checked against a bound or a relation
    assert cells["neural_gpu"]["bleu"].holds_for(3.0, {}) is True
    assert cells["gru_attention"]["bleu"].holds_for(27.0, {"extended_neural_gpu": 29.6}) is True
    assert cells["gru_attention"]["bleu"].holds_for(31.0, {"extended_neural_gpu": 29.6}) is False


def test_bad_published_cells_and_rows_are_named(tmp_path):
    with pytest.raises(ValueError, match="x.bleu: value 'about 5'"):
        parse_cell({"value": "about 5", "provenance": "p"}, "x.bleu")
    with pytest.raises(ValueError, match="needs 'value' and 'provenance'"):
        parse_cell({"value": 5}, "x.bleu")
    bad = tmp_path / "published.yaml"
    bad.write_text("models:\n  neural_gpu:\n    bleu: {value: 1, provenance: p}\n")
    with pytest.raises(ValueError, match=r"published.yaml: model 'neural_gpu' must have exactly the Table 1 "
                                         r"columns .*missing \['log_perplexity', 'perplexity'\]"):
        load_published(bad)


def fake_metrics(bleu: dict[str, float], by_length: dict[str, list[float]] | None = None, **common) -> dict:
    out = {}
    for name, b in bleu.items():
        series = (by_length or {}).get(name, [b, b, b])
        out[name] = {"bleu": b, "perplexity": 2.0, "log_perplexity": 0.6931, "parameters": 1000,
                     "train_steps": 1500, "train_max_steps": 1500,
                     "selected": {"select": "last", "step": 1500, "flops": 1.5e13, "train_seconds": 60.0},
                     "bleu_by_length": [{"bucket": f"{lo + 1}-{hi}", "lo": lo, "hi": hi, "n": 20, "bleu": v}
                                        for lo, hi, v in zip(EDGES, EDGES[1:], series)], **common}
    return out


def test_both_tables_come_from_one_template_and_mark_a_truncated_run():
    env = tables.environment(REPO / "paper" / "templates")
    metrics = fake_metrics({"neural_gpu": 1.234, "extended_neural_gpu": 25.0})
    metrics["neural_gpu"].update(truncated=True, train_steps=1203)
    published, warnings = tables.published_table1(load_published(REPO / "paper" / "published.yaml"), list(metrics))
    regenerated = tables.render_table(env, "md", tables.regenerated_table1(list(metrics), metrics)).splitlines()
    original = tables.render_table(env, "md", published).splitlines()
    assert regenerated[:2] == original[:2] == ["| Model | Perplexity | log-Perplexity | BLEU | Steps | Training FLOPs |",
                                               "|:--|--:|--:|--:|--:|--:|"]
    assert regenerated[2] == "| Neural GPU † | 2.00 | 0.693 | 1.2 | 1500 | 1.50e+13 |"
    assert regenerated[3] == "| Extended Neural GPU | 2.00 | 0.693 | 25.0 | 1500 | 1.50e+13 |"
    assert any(line.startswith("† Training cut short by the wall-clock limit") and "step 1203 of 1500" in line
               for line in regenerated)
    assert original[2] == "| Neural GPU | ? | ? | < 5 | ? | ? |" and not any("†" in line for line in original)
    assert warnings == []
    latex = tables.render_table(env, "tex", tables.published_table1(
        load_published(REPO / "paper" / "published.yaml"), ["gru_attention"])[0])
    assert r"\toprule" in latex and r"GRU+Attention & ? & ? & $<$ Extended Neural GPU & ? & ? \\" in latex
    latex = tables.render_table(env, "tex", tables.regenerated_table1(list(metrics), metrics))
    assert r"Neural GPU \textsuperscript{\dag} & 2.00" in latex


def test_a_model_without_a_published_row_shows_unknown_with_a_warning():
    published = load_published(REPO / "paper" / "published.yaml")
    del published["models"]["gru_attention"]
    table, warnings = tables.published_table1(published, ["gru_attention", "neural_gpu"])
    assert table["rows"] == [["Neural GPU", "?", "?", "< 5", "?", "?"], ["GRU+Attention", "?", "?", "?", "?", "?"]]
    assert warnings == ["GRU+Attention has no row in published.yaml: its published cells show ?"]


# ---- claims ---------------------------------------------------------------------------------------
TODAY = {  # the demo run the issue describes: relative drops 69% vs 86% used to read "reproduced"
    "bleu": {"neural_gpu": 2.0, "markovian_neural_gpu": 3.7, "extended_neural_gpu": 7.4, "gru_attention": 29.8},
    "by_length": {"neural_gpu": [3.6, 1.2, 1.1], "markovian_neural_gpu": [8.2, 2.9, 2.5],
                  "extended_neural_gpu": [11.9, 7.2, 3.7], "gru_attention": [86.0, 25.4, 11.9]},
}


def test_length_claim_compares_the_models_on_the_same_buckets_not_relative_drops():
    metrics = fake_metrics(TODAY["bleu"], TODAY["by_length"])
    relative_drop = {n: (v[0] - v[-1]) / v[0] for n, v in TODAY["by_length"].items()}
    assert relative_drop["extended_neural_gpu"] < relative_drop["gru_attention"]  # the old rule's "reproduced"
    length = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, scale="demo"))["extended_degrades_less_with_length"]
    # Extended 11.9 → 3.7 loses 69%, GRU+Attention 86.0 → 11.9 loses 86%: the old rule said "reproduced".
    # On the same long sentences the Extended NGPU is 8.2 BLEU *below* attention: not what Figure 6 shows.
    assert length["verdict"] == "not reproduced"
    assert "21-40 words (20 sentences): 3.7 − 11.9 = -8.2" in length["evidence"]
    assert "below" in length["evidence"] and "no intervals" in length["method"]
    assert length["numbers"]["gap_change"] == pytest.approx(-8.2 - (11.9 - 86.0))  # the gap did shrink
    # staying above attention on long sentences and gaining there is what the claim asks for
    metrics = fake_metrics(TODAY["bleu"], {**TODAY["by_length"], "extended_neural_gpu": [80, 70, 60],
                                           "gru_attention": [90, 60, 40]})
    assert claims_by_id(check_claims(CLAIMS, metrics, SETTINGS))["extended_degrades_less_with_length"]["verdict"] \
        == "reproduced"
    # ...but not when both models are at the floor on long sentences
    metrics = fake_metrics(TODAY["bleu"], {**TODAY["by_length"], "extended_neural_gpu": [20, 5, 2],
                                           "gru_attention": [40, 10, 1.5]})
    floor = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS))["extended_degrades_less_with_length"]
    assert (floor["verdict"], floor["reason"]) == ("inconclusive", "both models below 5 BLEU on the longest bucket")


def test_length_claim_with_paired_bootstrap_intervals_per_bucket(tmp_path):
    # Same shape as today's demo: Extended 12 → 4 BLEU, GRU+Attention 86 → 12 (relative drops 67% vs 86%)
    make_run(tmp_path, {"extended_neural_gpu": (12, 8, 4), "gru_attention": (86, 25, 12)})
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"])
    length = claims_by_id(result["claims"])["extended_degrades_less_with_length"]
    assert length["verdict"] == "not reproduced"
    buckets = length["numbers"]["buckets"]
    assert [(b["bucket"], b["n"], round(b["gap"], 6)) for b in buckets] == \
        [("1-10", 100, -74.0), ("11-20", 100, -17.0), ("21-40", 100, -8.0)]
    lo, hi = buckets[-1]["interval"]
    assert lo < -8.0 < hi < -1.0  # the whole interval is below the tolerance: decided, not inconclusive
    assert "200 resamples" in length["method"]
    # the per-bucket differences and their intervals are in the report
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| 21-40 | 100 | 4.0 | 12.0 | -8.0 | [" in report
    # a small gap, the models right on different sentences: 100 sentences per bucket cannot tell
    make_run(tmp_path / "close", {"extended_neural_gpu": (50, 50, 51), "gru_attention": (50, 50, 50)},
             shift={"extended_neural_gpu": 25})
    close = claims_by_id(render(tmp_path / "close", ["extended_neural_gpu", "gru_attention"])["claims"])
    assert close["extended_degrades_less_with_length"]["verdict"] == "inconclusive"
    assert close["extended_matches_attention"]["verdict"] == "inconclusive"  # +0.3, interval across -1


def test_all_references_claim_counts_a_valid_alternative_translation(tmp_path):
    # Extended answers with the second valid reference: poor against test.fr alone, not against both
    make_run(tmp_path, {"extended_neural_gpu": (80, 80, 80), "gru_attention": (60, 60, 60)},
             alternative=("extended_neural_gpu",))
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"])
    verdicts = claims_by_id(result["claims"])
    assert verdicts["extended_matches_attention"]["verdict"] == "not reproduced"
    assert verdicts["extended_matches_attention_all_references"]["verdict"] == "reproduced"
    assert "difference +20.00 [" in verdicts["extended_matches_attention_all_references"]["evidence"]
    # re-scored with both streams, equal to evaluation.json: the one warning is that this run is a subset
    assert result["warnings"] == ["This run has 2 model(s); the paper's Neural GPU, Markovian Neural GPU are not "
                                  "in it (params.yaml models): their rows are missing and the claims about them "
                                  "are not checked."]
    # without several references (WMT) the claim is not checked
    make_run(tmp_path / "one", {"extended_neural_gpu": (80, 80, 80), "gru_attention": (60, 60, 60)})
    one = claims_by_id(render(tmp_path / "one", ["extended_neural_gpu", "gru_attention"])["claims"])
    assert display_verdict(one["extended_matches_attention_all_references"]) == "not checked (metric missing)"


def test_paired_intervals_use_the_same_sentences_for_both_models():
    refs = [f"r{i} a b c d e" for i in range(40)]
    good, bad = refs, ["x y z w v u"] * 40
    sentences = Sentences.from_text([f"s{i}" for i in range(40)], refs, {"a": good, "b": good, "c": bad}, 100, 1)
    everyone = sentences.members()
    assert sentences.bleu("a", everyone) == pytest.approx(100.0)
    # identical outputs differ by exactly zero in every resample (unpaired draws would not)
    assert set(sentences.difference_samples("a", "b", everyone)) == {0.0}
    assert sentences.difference_samples("a", "c", everyone).min() > 99


def test_claims_are_decided_by_the_numbers_and_name_the_budget():
    metrics = fake_metrics(
        {"neural_gpu": 2.0, "markovian_neural_gpu": 3.0, "extended_neural_gpu": 20.0, "gru_attention": 21.5},
        {"neural_gpu": [8, 2, 1], "markovian_neural_gpu": [5, 3, 3.5], "extended_neural_gpu": [30, 25, 20],
         "gru_attention": [40, 20, 10]})
    metrics["gru_attention"].update(parameters=571_792, truncated=True, train_steps=1203)
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, scale="demo"))
    assert verdicts["neural_gpu_far_below_extended"]["verdict"] == "reproduced"
    assert verdicts["extended_matches_attention"]["verdict"] == "not reproduced"  # 1.5 below, tolerance 1
    assert "difference -1.50" in verdicts["extended_matches_attention"]["evidence"]
    assert verdicts["extended_matches_attention"]["budget"] == (
        "scale demo: Extended Neural GPU stopped at the step cap (1500/1500 steps); no record of its dev "
        "evaluations, scored at step 1500, 1,000 parameters; GRU+Attention stopped by the wall clock (1203/1500 "
        "steps); no record of its dev evaluations, scored at step 1500, 571,792 parameters")
    assert verdicts["extended_degrades_less_with_length"]["verdict"] == "reproduced"  # -10 → +10
    # GRU+Attention loses 30 (40 → 10): the parallel decoders lose less, not more
    assert verdicts["parallel_decoders_degrade_more_than_attention"]["verdict"] == "not reproduced"
    assert "Markovian Neural GPU 5.0 → 3.5, loses 1.5: -28.5 more than GRU+Attention" in \
        verdicts["parallel_decoders_degrade_more_than_attention"]["evidence"]


def test_missing_models_and_metrics_are_not_checked_never_a_crash():
    metrics = fake_metrics({"neural_gpu": 2.0, "extended_neural_gpu": 20.0})
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, scale="demo"))
    matches = verdicts["extended_matches_attention"]
    assert (matches["verdict"], matches["reason"]) == ("not checked", "model missing")
    assert display_verdict(matches) == "not checked (model missing)"
    assert "GRU+Attention not in this run" in matches["evidence"]
    assert verdicts["markovian_far_below_extended"]["verdict"] == "not checked"
    assert verdicts["neural_gpu_far_below_extended"]["verdict"] == "reproduced"
    # the agreement diagnostic exists at demo scale only: without it the claim is not checked
    agreement = verdicts["parallel_decoder_disagrees_more"]
    assert (agreement["verdict"], agreement["reason"]) == ("not checked", "metric missing")
    metrics["neural_gpu"]["agreement"] = {"error_rate": 0.30, "checked": 400}
    metrics["extended_neural_gpu"]["agreement"] = {"error_rate": 0.05, "checked": 380}
    agreement = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS))["parallel_decoder_disagrees_more"]
    assert agreement["verdict"] == "reproduced" and "+25.0 points" in agreement["evidence"]


def test_every_bleu_claim_is_inconclusive_when_both_models_are_at_the_floor():
    # a WMT run the issue describes: Extended 0.00 vs GRU+Attention 0.04 BLEU read "matches or beats"
    metrics = fake_metrics({"neural_gpu": 0.0, "markovian_neural_gpu": 0.01, "extended_neural_gpu": 0.0,
                            "gru_attention": 0.04},
                           {"neural_gpu": [4, 2, 1], "markovian_neural_gpu": [0.1, 0.0, 0.0],
                            "extended_neural_gpu": [0.0, 0.0, 0.0], "gru_attention": [0.1, 0.0, 0.0]})
    metrics["extended_neural_gpu"]["bleu_multi_ref"] = 0.0
    metrics["gru_attention"]["bleu_multi_ref"] = 0.05
    unguarded = claims_by_id(check_claims(CLAIMS, metrics, {**SETTINGS, "floor_bleu": 0.0}))
    assert unguarded["extended_matches_attention"]["verdict"] == "reproduced"  # what the WMT run said
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS))
    matches = verdicts["extended_matches_attention"]
    assert (matches["verdict"], matches["reason"]) == ("inconclusive", "both models below 5 BLEU")
    assert display_verdict(matches) == "inconclusive (both models below 5 BLEU)"
    assert matches["evidence"].startswith("Extended Neural GPU 0.00 vs GRU+Attention 0.04: difference -0.04")
    assert matches["evidence"].endswith("; both models below 5 BLEU")
    assert verdicts["extended_matches_attention_all_references"]["reason"] == "both models below 5 BLEU"
    for far in ("neural_gpu_far_below_extended", "markovian_far_below_extended"):
        assert (verdicts[far]["verdict"], verdicts[far]["reason"]) == ("inconclusive", "both models below 5 BLEU")
    assert verdicts["extended_degrades_less_with_length"]["reason"] == "both models below 5 BLEU on the longest bucket"
    degrades = verdicts["parallel_decoders_degrade_more_than_attention"]  # 4 → 1 and 0.1 → 0: nothing to lose
    assert (degrades["verdict"], degrades["reason"]) == (
        "inconclusive", "Neural GPU, Markovian Neural GPU below 5 BLEU on both buckets")
    # one model above the floor is a real comparison: 0.0 vs 6.0 is "not reproduced", not inconclusive
    metrics["gru_attention"]["bleu"] = 6.0
    assert claims_by_id(check_claims(CLAIMS, metrics, SETTINGS))["extended_matches_attention"]["verdict"] \
        == "not reproduced"


WMT_TEST = AvailableData(name="WMT'14 newstest2014", references=1, noun_phrases=False)


def test_claims_the_test_data_cannot_support_are_not_applicable():
    metrics = fake_metrics({n: 10.0 + i for i, n in enumerate(ALL)})
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, scale="news", available=WMT_TEST))
    multi = verdicts["extended_matches_attention_all_references"]
    assert (multi["verdict"], multi["reason"]) == ("not applicable", "WMT'14 newstest2014 has one reference per sentence")
    assert display_verdict(multi) == "not applicable (WMT'14 newstest2014 has one reference per sentence)"
    assert multi["evidence"] == ("the claim needs several references per test sentence; WMT'14 newstest2014 has "
                                 "one reference per sentence")
    assert multi["budget"].startswith("scale news: Extended Neural GPU stopped at the step cap (1500/1500 steps)")
    agreement = verdicts["parallel_decoder_disagrees_more"]
    assert (agreement["verdict"], agreement["reason"]) == ("not applicable", "WMT'14 newstest2014 has no noun-phrase "
                                                                             "records")
    assert verdicts["extended_matches_attention"]["verdict"] != "not applicable"  # needs nothing of the data
    # data that has what the claims need, but metrics without it: a metric is missing from this run
    demo_test = AvailableData(name="the demo test split", references=4, noun_phrases=True)
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, available=demo_test))
    assert display_verdict(verdicts["extended_matches_attention_all_references"]) == "not checked (metric missing)"
    assert display_verdict(verdicts["parallel_decoder_disagrees_more"]) == "not checked (metric missing)"
    # the data decides before the models: a missing model does not hide that WMT cannot check the claim
    del metrics["gru_attention"]
    verdicts = claims_by_id(check_claims(CLAIMS, metrics, SETTINGS, available=WMT_TEST))
    assert verdicts["extended_matches_attention_all_references"]["verdict"] == "not applicable"


def test_a_claim_not_applicable_for_every_seed_stays_so():
    from activemem.paper.seeds import across_seeds
    claim = {"id": "x", "statement": "s", "source": "s", "verdict": "not applicable", "reason": "r", "evidence": "e"}
    other = {**claim, "verdict": "reproduced", "evidence": "f"}
    del other["reason"]
    assert across_seeds({1: [claim], 2: [claim]})[0]["verdict"] == "not applicable"
    assert across_seeds({1: [claim], 2: [other]})[0]["verdict"] == "not applicable"  # data differ: cannot decide


def test_claims_file_errors_name_the_file_and_claim(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - {id: x, statement: s, source: s, kind: gets_better}\n")
    with pytest.raises(ValueError, match=r"claims.yaml: claim x: unknown kind 'gets_better'"):
        load_claims(bad)
    bad.write_text("claims:\n  - {id: y, statement: s, source: s, kind: far_below, model: neural_gpu}\n")
    with pytest.raises(ValueError, match=r"claim y: kind far_below needs metric, than"):
        load_claims(bad)
    bad.write_text("claims:\n  - {id: z, statement: s, source: s, kind: at_least, metric: bleu, model: a, than: b,\n"
                   "     needs: [several_refs]}\n")
    with pytest.raises(ValueError, match=r"claims.yaml: claim z: needs must list some of multiple_references, "
                                         r"agreement; got several_refs"):
        load_claims(bad)
    # the shipped claims declare what WMT cannot offer
    needs = {c["id"]: c.get("needs") for c in load_claims(CLAIMS)}
    assert needs["extended_matches_attention_all_references"] == ["multiple_references"]
    assert needs["parallel_decoder_disagrees_more"] == ["agreement"]


# ---- the report: provenance, truncation, sections with their metrics ------------------------------
PERFECT = {"neural_gpu": (3, 1, 1), "markovian_neural_gpu": (8, 3, 2), "extended_neural_gpu": (12, 7, 4),
           "gru_attention": (86, 25, 12)}


def test_report_ends_with_provenance_and_flags_a_dirty_tree_and_mixed_runs(tmp_path):
    arm = {"setting": "avx2", "pinned": False, "why_not": "this aarch64 CPU has no AVX2 kernels", "aten_capability":
           "DEFAULT", "machine": "aarch64", "cpu": "Neoverse-V2"}
    extra = {"gru_attention": {"provenance": provenance(git_dirty=True, params_sha256="f" * 64)},
             "neural_gpu": {"truncated": True, "train_steps": 1203},
             "markovian_neural_gpu": {"provenance": provenance(cpu_kernels=arm)}}
    make_run(tmp_path, PERFECT, extra)
    result = render(tmp_path, ALL)
    report = (tmp_path / "out" / "report.md").read_text()
    head, provenance_section = report.split("## Provenance")
    # prominent: before Table 1
    opening = head.split("## Table 1")[0]
    assert "**Read before the numbers**" in opening
    assert re.search(r"⚠ Uncommitted edits: GRU\+Attention ran from a work tree .* commit 0123456789ab", opening)
    assert "different settings (params_sha256: Neural GPU a1b2c3d4a1b2" in opening
    assert "Training cut short by the wall clock for Neural GPU" in opening
    assert ("CPU kernels not pinned: the numbers are this machine's own" in opening
            and "Markovian Neural GPU: this aarch64 CPU has no AVX2 kernels (Neoverse-V2)" in opening)
    assert any("Uncommitted edits" in w for w in result["warnings"])
    # the report ends with the provenance table, one column per model
    table = provenance_section.strip().splitlines()[-17:]
    assert table[0] == "|  | Neural GPU | Markovian Neural GPU | Extended Neural GPU | GRU+Attention | All agree |"
    assert "| Commit | 0123456789ab | 0123456789ab | 0123456789ab | 0123456789ab | yes |" in table
    assert "| Uncommitted edits to tracked files | no | no | no | **yes** | **no** |" in table
    assert "| Settings (sha256) | a1b2c3d4a1b2 | a1b2c3d4a1b2 | a1b2c3d4a1b2 | ffffffffffff | **no** |" in table
    assert "| Training steps / maximum | 1203 / 1500 | 1500 / 1500 | 1500 / 1500 | 1500 / 1500 | — |" in table
    assert ("| CPU kernels | pinned AVX2 | avx2: DEFAULT (Neoverse-V2) | pinned AVX2 | pinned AVX2 | **no** |"
            in table)
    assert report.rstrip().endswith("| Cut by the wall clock (truncated) | **yes** | no | no | no | — |")
    # a truncated run is marked wherever its numbers appear
    assert "| Neural GPU † | 2.00 | 0.693 |" in (tmp_path / "out" / "table1.md").read_text()
    assert "| Neural GPU † | 100,000 | 1203 / 1500 † |" in report
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<strong>yes</strong>" in html and 'class="warning"' in html


def test_clean_run_has_no_warnings_and_only_the_sections_it_measured(tmp_path):
    make_run(tmp_path, PERFECT)
    result = render(tmp_path, ALL)
    report = (tmp_path / "out" / "report.md").read_text()
    assert result["warnings"] == [] and "Read before the numbers" not in report and "†" not in report
    # (outside the diff against the committed demo snapshot, whose Table 1 has the Transformer's row)
    own = re.sub(r"```diff\n.*?```", "", report, flags=re.S)
    for absent in ("What the paper argues, measured", "Beyond the paper", "fixed width", "Length ratio"):
        assert absent not in own
    assert not (tmp_path / "out" / "extrapolation_bleu_by_length.png").exists()
    assert "| The Extended Neural GPU matches or beats the GRU+Attention baseline in BLEU." in report
    assert ("scale demo: Extended Neural GPU converged (1500/1500 steps, stopped by patience; best dev perplexity "
            "at step 20, not improved on by the 1 later evaluation), 100,000 parameters; GRU+Attention") in report


def test_new_metrics_get_their_sections(tmp_path):
    def agreement(rate):
        return {"noun_phrases": 500, "checked": 400, "not_found": 100, "errors": int(400 * rate),
                "error_rate": rate, "modifiers_checked": 700, "errors_by_kind": {"determiner": 3, "adjective": 2},
                "checked_by_kind": {"determiner": 400, "adjective": 300, "participle": 0}}

    long_rows = [{"bucket": "1-10", "lo": 0, "hi": 10, "n": 0, "bleu": None},
                 {"bucket": "11-20", "lo": 10, "hi": 20, "n": 0, "bleu": None},
                 {"bucket": "21-40", "lo": 20, "hi": 40, "n": 50, "bleu": 9.0}]
    extra = {n: {"bleu_multi_ref": 40.0 + i, "multi_ref_signature": "nrefs:4|case:mixed|eff:no|tok:13a",
                 "references": 4, "agreement": agreement(0.3 - 0.1 * i), "length_ratio": 1.02,
                 "length_ratio_within_training": 0.98, "within_training_sentences": 298,
                 "train_source_max_words": 14, "width": "search",
                 "extrapolation": {"split": "test_long", "bleu": 9.0 + i, "bleu_multi_ref": None,
                                   "multi_ref_signature": None, "references": 4, "agreement": agreement(0.2),
                                   "bleu_by_length": long_rows, "sentences": 50, "perplexity": 7.5,
                                   "length_ratio": 0.6},
                 "bleu_fixed_width": 3.0 + i if n != "gru_attention" else None}
             for i, n in enumerate(ALL)}
    make_run(tmp_path, PERFECT, extra)
    result = build("demo", ALL, tmp_path / "results", tmp_path / "data", REPO / "paper", tmp_path / "out",
                   SETTINGS, {**EVALUATE, "width": "fixed"})  # evaluation.json's own width wins
    report = (tmp_path / "out" / "report.md").read_text()
    measured = report.split("## What the paper argues, measured")[1].split("##")[0]
    assert "| Model | BLEU (1 reference) | BLEU (4 references) | Agreement errors (%) |" in measured
    assert "| Neural GPU | 1.7 | 40.0 | 30.0 | 400 / 500 | adjective 2/300, determiner 3/400 |" in measured
    assert "| GRU+Attention | 41.0 | 43.0 | 0.0 | 400 / 500 |" in measured  # 0.3 - 0.3 shows no "-0.0"
    assert "Multi-reference sacreBLEU signature: `nrefs:4|case:mixed|eff:no|tok:13a`" in measured
    assert report.index("## What the paper argues") < report.index("## BLEU by source-sentence length")
    runs = report.split("## Runs")[1]
    assert "BLEU beam (width search) | BLEU beam (fixed width) |" in runs
    assert re.search(r"\| Extended Neural GPU \| [^\n]* \| 7\.7 \| 5\.0 \|", runs)
    assert re.search(r"\| GRU\+Attention \| [^\n]* \| 41\.0 \| — \|", runs)
    beyond = report.split("## Beyond the paper: extrapolation to longer sentences")[1].split("## Runs")[0]
    assert "the longest training source has 14 words" in beyond
    assert "| Extended Neural GPU | 7.7 | 11.0 | 20.0 | 7.50 | 0.60 | 50 |" in beyond
    assert "![BLEU by length on the longer test split](extrapolation_bleu_by_length.png)" in beyond
    assert (tmp_path / "out" / "extrapolation_bleu_by_length.pdf").exists()
    assert "(298 sentences of at most 14 words)" in runs
    agreement_claim = claims_by_id(result["claims"])["parallel_decoder_disagrees_more"]
    assert agreement_claim["verdict"] == "reproduced"  # 30% vs 10% of 400 noun phrases each


def test_the_report_renders_exactly_the_models_it_is_given(tmp_path):
    make_run(tmp_path, PERFECT)
    paper = tmp_path / "paper"
    shutil.copytree(REPO / "paper", paper, ignore=shutil.ignore_patterns("snapshot", "build"))
    published = (paper / "published.yaml").read_text()
    (paper / "published.yaml").write_text(published.split("  gru_attention:")[0])
    result = render(tmp_path, ["gru_attention", "neural_gpu"], paper=paper)
    table1 = (tmp_path / "out" / "table1.md").read_text()
    assert [line.split(" | ")[0] for line in table1.splitlines()[2:4]] == ["| Neural GPU", "| GRU+Attention"]
    assert not table1.splitlines()[4].startswith("|")  # then the notes
    assert "| GRU+Attention | ? | ? | ? |" in (tmp_path / "out" / "table1.published.md").read_text()
    assert "GRU+Attention has no row in published.yaml" in " ".join(result["warnings"])
    verdicts = claims_by_id(result["claims"])
    assert display_verdict(verdicts["neural_gpu_far_below_extended"]) == "not checked (model missing)"
    assert "Markovian" not in table1 and "Extended" not in table1


def test_several_seeds_show_mean_and_sd_and_a_claim_must_hold_for_every_seed(tmp_path):
    # seed 1: the Extended NGPU is 5 points under GRU+Attention on every bucket (claim "matches" not
    # reproduced); seed 2: both perfect on the same sentences (difference 0: reproduced)
    make_run(tmp_path, {"extended_neural_gpu": (10, 10, 10), "gru_attention": (15, 15, 15)}, seed=1)
    make_run(tmp_path, {"extended_neural_gpu": (20, 20, 20), "gru_attention": (20, 20, 20)}, seed=2)
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"], seeds=(1, 2))
    one = [json.loads((tmp_path / "results" / "extended_neural_gpu" / f"seed{s}" / "evaluation.json").read_text())["bleu"]
           for s in (1, 2)]
    mean, sd = sum(one) / 2, abs(one[0] - one[1]) / 2 ** 0.5   # sample sd of two values
    table1 = (tmp_path / "out" / "table1.md").read_text()
    assert f"| {mean:.1f} ± {sd:.1f} |" in table1
    assert "Mean ± standard deviation over 2 training seeds (1, 2)." in table1
    matches = claims_by_id(result["claims"])["extended_matches_attention"]
    assert matches["per_seed"] == {"1": "not reproduced", "2": "reproduced"}
    assert (matches["verdict"], matches["reason"]) == ("inconclusive", "seeds disagree: 1 not reproduced, 1 reproduced")
    assert matches["evidence"].startswith("seed 1: ") and " | seed 2: " in matches["evidence"]
    # a claim every seed agrees on keeps its verdict
    assert claims_by_id(result["claims"])["neural_gpu_far_below_extended"]["verdict"] == "not checked"
    # one seed alone reads exactly as before: no ± and no seed note
    render(tmp_path, ["extended_neural_gpu", "gru_attention"], out="one", seeds=(2,))
    assert "±" not in (tmp_path / "one" / "table1.md").read_text()


def test_seeds_of_different_settings_are_not_averaged(tmp_path):
    from activemem.paper.seeds import pooled
    with pytest.raises(ValueError, match="extended_neural_gpu: the seeds' runs differ in parameters"):
        pooled("extended_neural_gpu", {1: {"parameters": 10, "bleu": 1.0, "train_steps": 5},
                                       2: {"parameters": 11, "bleu": 2.0, "train_steps": 5}})
    both = pooled("m", {1: {"bleu": 10.0, "agreement": {"error_rate": 0.1, "checked": 5}, "train_steps": 5,
                            "bleu_by_length": [{"n": 3, "bleu": 4.0}]},
                        2: {"bleu": 14.0, "agreement": {"error_rate": 0.3, "checked": 5}, "train_steps": 5,
                            "bleu_by_length": [{"n": 3, "bleu": 8.0}]}})
    assert both["bleu"] == 12.0 and both["spread"]["bleu"] == pytest.approx(2 ** 0.5 * 2)
    assert both["agreement"]["error_rate"] == pytest.approx(0.2) and both["agreement"]["checked"] == 5
    assert both["bleu_by_length"][0] == {"n": 3, "bleu": 6.0, "sd": pytest.approx(2 ** 0.5 * 2)}
    assert both["seeds"] == [1, 2]


def test_metrics_from_another_test_set_are_refused(tmp_path):
    make_run(tmp_path, {"neural_gpu": (1, 1, 1)})
    path = tmp_path / "results" / "neural_gpu" / "seed1" / "evaluation.json"
    metrics = json.loads(path.read_text())
    metrics["bleu_by_length"][0]["n"] = 99
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match=r"neural_gpu/seed1/evaluation.json: length bucket 1-10 holds 99 sentences "
                                         r"but .*test.en has 100"):
        render(tmp_path, ["neural_gpu"])


def test_a_subsampled_test_set_is_cut_alike_everywhere_and_marked(tmp_path):
    # evaluate.max_sentences: 150 of the 300 test sentences (the first bucket and half the second)
    make_run(tmp_path, {"extended_neural_gpu": (40, 20, 10), "gru_attention": (80, 40, 20)}, scored=150,
             alternative=("gru_attention",))
    result = render(tmp_path, ["extended_neural_gpu", "gru_attention"])
    table1 = (tmp_path / "out" / "table1.md").read_text()
    assert "| Extended Neural GPU § | 2.00 | 0.693 |" in table1
    assert "§ Scored on the first 150 of 300 test sentences only (evaluate.max_sentences)" in table1
    assert any(w.startswith("Scored on the first 150 of 300 test sentences only") for w in result["warnings"])
    report = (tmp_path / "out" / "report.md").read_text()
    assert "⚠ Scored on the first 150 of 300" in report.split("## Table 1")[0]
    assert r"Extended Neural GPU \textsuperscript{\S}" in (tmp_path / "out" / "table1.tex").read_text()
    # the claims' per-sentence data is the same 150 sentences as evaluation.json (else a rescoring warning),
    # against both reference streams cut alike
    assert not any("hypotheses.txt scores" in w for w in result["warnings"])
    multi = claims_by_id(result["claims"])["extended_matches_attention_all_references"]
    assert multi["verdict"] == "not reproduced" and "not applicable" not in display_verdict(multi)
    # runs scored on different numbers of sentences are refused, naming the files
    path = tmp_path / "results" / "gru_attention" / "seed1" / "evaluation.json"
    metrics = json.loads(path.read_text())
    path.write_text(json.dumps({**metrics, "max_sentences": None}))
    with pytest.raises(ValueError, match=r"scored on different numbers of test sentences .*extended_neural_gpu/seed1/"
                                         r"evaluation.json: 150; .*gru_attention/seed1/evaluation.json: 300"):
        render(tmp_path, ["extended_neural_gpu", "gru_attention"])
    path.write_text(json.dumps({**metrics, "test_sentences_total": 3003}))
    with pytest.raises(ValueError, match=r"gru_attention/seed1/evaluation.json: scored a test split of 3003 sentences "
                                         r"but .*test.fr has 300"):
        render(tmp_path, ["extended_neural_gpu", "gru_attention"])


def test_a_setting_at_or_above_the_split_size_changes_nothing():
    metrics = fake_metrics({"extended_neural_gpu": 20.0}, max_sentences=500, test_sentences=300,
                           test_sentences_total=300)
    assert not tables.subsampled(metrics["extended_neural_gpu"])
    assert "§" not in str(tables.regenerated_table1(list(metrics), metrics))
    metrics["extended_neural_gpu"].update(max_sentences=100, test_sentences=100)
    assert tables.regenerated_table1(list(metrics), metrics)["rows"][0][0] == "Extended Neural GPU §"


def test_sentences_wider_than_any_trained_width_are_reported_apart(tmp_path):
    wide = {n: {"wider_than_trained": {"width": 64, "sentences": 129, "bleu": 1.0 + i, "bleu_rest": 20.0 + i}}
            for i, n in enumerate(ALL)}
    make_run(tmp_path, PERFECT, wide)
    result = render(tmp_path, ALL)
    report = (tmp_path / "out" / "report.md").read_text()
    warning = next(w for w in result["warnings"] if "wider than the widest training bucket" in w)
    assert warning.startswith("129 of 300 test sentences are wider than the widest training bucket (64 sub-words)")
    section = report.split("### Widths never trained at")[1].split("##")[0]
    assert "| Model | Sentences wider than 64 | BLEU on them | BLEU on the rest | BLEU (all) |" in section
    assert "| Extended Neural GPU | 129 | 3.0 | 22.0 | 7.7 |" in section
    assert "Widths never trained at" in (tmp_path / "out" / "report.html").read_text()
    # none wider (the demo): no section, no warning
    none = {n: {"wider_than_trained": {"width": 32, "sentences": 0, "bleu": None, "bleu_rest": 20.0}} for n in ALL}
    make_run(tmp_path / "none", PERFECT, none)
    assert render(tmp_path / "none", ALL)["warnings"] == []
    assert "Widths never trained at" not in (tmp_path / "none" / "out" / "report.md").read_text()


def test_small_length_buckets_are_flagged_in_the_tables():
    rows = [{"bucket": "1-4", "lo": 0, "hi": 4, "n": 55, "bleu": 20.8}, {"bucket": "5-8", "lo": 4, "hi": 8, "n": 0,
                                                                         "bleu": None},
            {"bucket": "9-16", "lo": 8, "hi": 16, "n": 4, "bleu": 1.4}]
    flagged = tables.length_table(["extended_neural_gpu"], {"extended_neural_gpu": rows}, min_sentences=10)
    assert flagged["rows"] == [["1-4", "55", "20.8"], ["9-16 ‡", "4", "1.4"]]  # the empty bucket is not shown
    assert flagged["notes"][0].startswith("‡ Fewer than 10 sentences (report.min_bucket_sentences)")
    assert tables.length_table(["extended_neural_gpu"], {"extended_neural_gpu": rows[:1]}, 10)["notes"] == []
    assert tables.length_table(["extended_neural_gpu"], {"extended_neural_gpu": rows})["rows"][1][0] == "9-16"


def test_a_fixed_width_run_shows_its_beam_once():
    metrics = fake_metrics({"extended_neural_gpu": 9.5, "gru_attention": 80.0}, width="fixed")
    metrics["extended_neural_gpu"]["bleu_fixed_width"] = 9.5  # the same decode, recorded twice
    runs = tables.runs_table(list(metrics), metrics, "fixed")
    assert not any("fixed width" in h for h in runs["header"]) and "BLEU beam" in runs["header"]
    assert any("evaluate.width: fixed" in note for note in runs["notes"])
    searched = fake_metrics({"extended_neural_gpu": 14.6, "gru_attention": 80.0}, width="search")
    searched["extended_neural_gpu"]["bleu_fixed_width"] = 9.5
    header = tables.runs_table(list(searched), searched, "search")["header"]
    assert "BLEU beam (width search)" in header and "BLEU beam (fixed width)" in header


WMT_MANIFEST = {"pairs": {"train": 183_251, "dev": 3000, "test": 300}, "references": {"test": ["test.fr"]},
                "noun_phrases": {}}


def test_a_wmt_scale_note_names_its_corpora_pairs_and_every_setting_off_the_paper_preset(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text().replace("    max_steps: 100000\n", "    max_steps: 20000\n"))
    comparison = preset_comparison(load_params(params, "news"))
    assert comparison["corpora"] == {"train": ["news_commentary_v9"], "dev": "newstest2013", "test": "newstest2014"}
    differences = {key: (mine, theirs) for key, mine, theirs in comparison["differences"]}
    assert differences["train.max_steps"] == (20000, 1000000)  # the edit shows
    assert differences["prepare.vocab_size"] == (16000, 32768)
    assert differences["models.gru_attention.hidden"] == (512, 1024)
    assert "models.neural_gpu.layers" not in differences  # news leaves it at the Config default, 2 = the preset's
    assert "train.gpus" in comparison["job_differences"] and "train.gpus" not in differences
    assert preset_comparison(load_params(params, "paper"))["differences"] == []
    assert preset_comparison(load_params(params, "demo")) is None
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps(WMT_MANIFEST))
    (data / "report.json").write_text(json.dumps({"train": {"read": 201_288}, "dev": {"read": 3000}}))
    note = scale_note("news", comparison, data)
    assert note.startswith("WMT'14 English→French at scale news. Trained on news_commentary_v9 only (data.train; "
                           "183,251 pairs kept of 201,288 read), where the paper preset trains on all of WMT'14 "
                           "En→Fr: europarl_v7, commoncrawl, un, news_commentary_v9, giga_fren. Dev newstest2013 "
                           "(3,000 pairs kept of 3,000 read), test newstest2014 (300 pairs kept).")
    assert "train.max_steps 20000 (paper: 1000000)" in note
    assert "train.curriculum null (paper: {start_width: 17, every: 100, max_perplexity: 9.9})" in note
    assert note.endswith("also differ: prepare.mem_mb, prepare.runtime_min, train.gpus, train.mem_mb, "
                         "train.runtime_min, train.checkpoint_every, "
                         "train.log_every, models.neural_gpu.checkpoint_steps, models.markovian_neural_gpu."
                         "checkpoint_steps, models.extended_neural_gpu.checkpoint_steps.")
    assert scale_note("demo", None, data, "demo") == sources.entry("demo").note  # the demo grammar keeps its note


def test_the_paper_stage_reruns_when_the_wmt_note_would_change():
    # the note compares a WMT scale with the paper preset, job keys included: the paper stage tracks both blocks
    raw = read(REPO / "params.yaml")
    for scale in ("news", "smoke"):
        tracked = dag.settings_values(raw, "paper", scale)
        assert tracked["paper"] == raw["paper"] and tracked[scale] == raw[scale]
        assert "defaults" in tracked


def test_the_stage_on_wmt_data_says_what_the_data_cannot_check(tmp_path, capsys):
    make_run(tmp_path, PERFECT)
    (tmp_path / "data" / "manifest.json").write_text(json.dumps(WMT_MANIFEST))
    seal(tmp_path)
    params = (REPO / "params.yaml").read_text().replace("bootstrap_resamples: 1000", "bootstrap_resamples: 100")
    (tmp_path / "params.yaml").write_text(run_models(params, ALL))
    paper_stage.main(["--params", str(tmp_path / "params.yaml"), "--scale", "news", "--results",
                      str(tmp_path / "results"), "--data", str(tmp_path / "data"), "--paper", str(REPO / "paper"),
                      "--out", str(tmp_path / "build")])
    out = capsys.readouterr().out
    assert "[not applicable (WMT'14 newstest2014 has one reference per sentence)] Scored against every" in out
    assert "[not applicable (WMT'14 newstest2014 has no noun-phrase records)] The Neural GPU, whose" in out
    claims = claims_by_id(json.loads((tmp_path / "build" / "claims.json").read_text()))
    assert claims["parallel_decoder_disagrees_more"]["verdict"] == "not applicable"
    report = (tmp_path / "build" / "report.md").read_text()
    assert "WMT'14 English→French at scale news. Trained on news_commentary_v9 only" in report.split("## Table 1")[0]
    assert "| **not applicable (WMT'14 newstest2014 has one reference per sentence)** |" in report
    assert "*Not applicable*: this run's test data cannot support the claim" in report
    assert 'class="not-applicable"' in (tmp_path / "build" / "report.html").read_text()


def test_the_stage_refuses_an_evaluation_of_other_data_or_unrecorded(tmp_path):
    make_run(tmp_path, PERFECT)
    seal(tmp_path)
    params = tmp_path / "params.yaml"
    params.write_text(run_models((REPO / "params.yaml").read_text(), ["neural_gpu"]))
    argv = ["--params", str(params), "--scale", "demo", "--results", str(tmp_path / "results"),
            "--data", str(tmp_path / "data"), "--paper", str(REPO / "paper"), "--out", str(tmp_path / "build")]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    (tmp_path / "data" / "manifest.json").write_text(json.dumps({**manifest, "pairs": {"test": 1}}))  # data made again
    evaluation = tmp_path / "results" / "neural_gpu" / "seed1" / "evaluation.json"
    with pytest.raises(SystemExit) as stop:
        paper_stage.main(argv)
    assert str(stop.value.code).startswith(f"error: {evaluation} is stale: {tmp_path / 'data' / 'manifest.json'} "
                                           f"changed (sha256 ")
    metrics = json.loads(evaluation.read_text())
    del metrics[lineage.KEY]
    evaluation.write_text(json.dumps(metrics))
    with pytest.raises(SystemExit, match="does not say what it was made from"):
        paper_stage.main(argv)
    assert not (tmp_path / "build").exists()


# ---- figures ------------------------------------------------------------------------------------
def test_figures_carry_provenance_and_are_byte_identical_across_renders(tmp_path):
    metrics = fake_metrics({"neural_gpu": 2.0, "extended_neural_gpu": 20.0},
                           provenance=provenance(git_dirty=True))
    facts = summary(list(metrics), metrics, "demo")
    assert facts["commit"] == "0123456+dirty" and facts["params"] == "a1b2c3d4"
    series = {n: m["bleu_by_length"] for n, m in metrics.items()}
    first = bleu_by_length_figure(series, tmp_path / "a", "t", facts)
    second = bleu_by_length_figure(series, tmp_path / "b", "t", facts)
    assert [p.suffix for p in first] == [".png", ".pdf"]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes()
    png, pdf = (p.read_bytes() for p in first)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and pdf[:5] == b"%PDF-"
    assert "activemem 0123456+dirty · scale demo · params a1b2c3d4".encode("latin-1") in png  # tEXt chunk
    assert b"commit=0123456+dirty scale=demo params_sha256=a1b2c3d4" in pdf and b"CreationDate" not in pdf
    # a bucket under report.min_bucket_sentences gets a hollow marker (and a legend entry): other pixels
    few = {n: [{**r, "n": 4} if i == 2 else r for i, r in enumerate(rows)] for n, rows in series.items()}
    plain = bleu_by_length_figure(few, tmp_path / "plain", "t", facts)
    flagged = bleu_by_length_figure(few, tmp_path / "flagged", "t", facts, min_sentences=10)
    assert flagged[0].read_bytes() != plain[0].read_bytes()
    unflagged = bleu_by_length_figure(series, tmp_path / "unflagged", "t", facts, min_sentences=10)
    assert unflagged[0].read_bytes() == png  # no small bucket: the same figure as before
    # other provenance, other bytes: the footer is drawn, not only stored
    other = bleu_by_length_figure(series, tmp_path / "c", "t", {**facts, "commit": "fedcba9"})
    assert other[0].read_bytes() != png


# ---- the stage -------------------------------------------------------------------------------------
def test_the_stage_prints_verdicts_with_budgets_and_warnings(tmp_path, capsys):
    make_run(tmp_path, PERFECT, {"gru_attention": {"provenance": provenance(git_dirty=True)}})
    seal(tmp_path)
    params = (REPO / "params.yaml").read_text().replace("bootstrap_resamples: 1000", "bootstrap_resamples: 100")
    (tmp_path / "params.yaml").write_text(run_models(params, ["extended_neural_gpu", "gru_attention"]))
    paper_stage.main(["--params", str(tmp_path / "params.yaml"), "--scale", "demo", "--results",
                      str(tmp_path / "results"), "--data", str(tmp_path / "data"), "--paper", str(REPO / "paper"),
                      "--out", str(tmp_path / "build")])
    out, err = capsys.readouterr()
    assert "[not reproduced] On the same long sentences" in out
    assert "(scale demo: Extended Neural GPU converged (1500/1500 steps, stopped by patience;" in out
    assert "[not checked (model missing)] The Neural GPU scores far below" in out
    assert err.startswith("warning: Uncommitted edits: GRU+Attention")
    assert "Neural GPU |" not in (tmp_path / "build" / "table1.md").read_text().replace("Extended Neural GPU |", "")
    (tmp_path / "params.yaml").write_text(params.replace("significance_level: 0.05", "significance_level: 5"))
    with pytest.raises(SystemExit, match="'report.significance_level' must be between 0 and 1, got 5"):
        paper_stage.main(["--params", str(tmp_path / "params.yaml"), "--results", str(tmp_path / "results"),
                          "--data", str(tmp_path / "data"), "--out", str(tmp_path / "build")])
