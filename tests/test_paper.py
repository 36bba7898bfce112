"""The paper stage's pieces: published cells, one template for both tables, claims, figures."""

from __future__ import annotations

import pytest

from activemem.paper import tables
from activemem.paper.claims import check_claims, length_drop
from activemem.paper.figures import bleu_by_length_figure
from activemem.paper.published import load_published, parse_cell

from conftest import REPO

SETTINGS = {"far_below_margin": 5.0, "match_tolerance": 1.0, "significance_level": 0.05,
            "min_bucket_sentences": 10}


def test_published_yaml_holds_exact_values_bounds_relations_and_unknowns():
    published = load_published(REPO / "paper" / "published.yaml")
    cells = published["models"]
    assert cells["extended_neural_gpu"]["bleu"].kind == "exact" and cells["extended_neural_gpu"]["bleu"].value == 29.6
    assert cells["neural_gpu"]["bleu"].display(1) == "< 5"
    assert cells["gru_attention"]["bleu"].display(1) == "< Extended Neural GPU"
    assert all(cells[m]["perplexity"].kind == "unknown" for m in cells)
    assert all(c.provenance for row in cells.values() for c in row.values())
    # a regenerated value can be checked against a bound or a relation
    assert cells["neural_gpu"]["bleu"].holds_for(3.0, {}) is True
    assert cells["gru_attention"]["bleu"].holds_for(27.0, {"extended_neural_gpu": 29.6}) is True
    assert cells["gru_attention"]["bleu"].holds_for(31.0, {"extended_neural_gpu": 29.6}) is False


def test_bad_published_cells_are_named():
    with pytest.raises(ValueError, match="x.bleu: value 'about 5'"):
        parse_cell({"value": "about 5", "provenance": "p"}, "x.bleu")
    with pytest.raises(ValueError, match="needs 'value' and 'provenance'"):
        parse_cell({"value": 5}, "x.bleu")


def fake_metrics(bleu: dict[str, float], by_length: dict[str, list[float]] | None = None) -> dict:
    edges = [(0, 10), (10, 20), (20, 40)]
    out = {}
    for name, b in bleu.items():
        series = (by_length or {}).get(name, [b, b, b])
        out[name] = {"bleu": b, "perplexity": 2.0, "log_perplexity": 0.6931,
                     "bleu_by_length": [{"bucket": f"{lo + 1}-{hi}", "lo": lo, "hi": hi, "n": 20, "bleu": v}
                                        for (lo, hi), v in zip(edges, series)]}
    return out


def test_both_tables_come_from_one_template_and_differ_only_in_numbers():
    env = tables.environment(REPO / "paper" / "templates")
    metrics = fake_metrics({"neural_gpu": 1.234, "extended_neural_gpu": 25.0})
    frame = tables.metrics_frame(metrics)
    published = load_published(REPO / "paper" / "published.yaml")
    regenerated = tables.render_table(env, "md", tables.regenerated_rows(frame)).splitlines()
    original = tables.render_table(env, "md", tables.published_rows(published, list(frame.index))).splitlines()
    assert regenerated[:2] == original[:2] and len(regenerated) == len(original)
    assert regenerated[2] == "| Neural GPU | 2.00 | 0.693 | 1.2 |"
    assert original[2] == "| Neural GPU | ? | ? | < 5 |"
    latex = tables.render_table(env, "tex", tables.published_rows(published, ["gru_attention"]))
    assert r"\toprule" in latex and r"GRU+Attention & ? & ? & $<$ Extended Neural GPU \\" in latex


def test_claims_are_decided_by_the_numbers():
    metrics = fake_metrics(
        {"neural_gpu": 2.0, "markovian_neural_gpu": 3.0, "extended_neural_gpu": 20.0, "gru_attention": 21.5},
        {"neural_gpu": [4, 2, 1], "markovian_neural_gpu": [5, 3, 3.5], "extended_neural_gpu": [30, 25, 20],
         "gru_attention": [40, 20, 10]})
    verdicts = {c["id"]: c for c in check_claims(REPO / "paper" / "claims.yaml", metrics, SETTINGS)}
    assert verdicts["neural_gpu_far_below_extended"]["verdict"] == "reproduced"
    assert verdicts["extended_matches_attention"]["verdict"] == "not reproduced"  # 1.5 below, tolerance 1
    assert "difference -1.50" in verdicts["extended_matches_attention"]["evidence"]
    assert verdicts["extended_degrades_less_with_length"]["verdict"] == "reproduced"  # 33% vs 75% drop
    assert verdicts["parallel_decoders_degrade_with_length"]["verdict"] == "reproduced"
    del metrics["gru_attention"]
    verdicts = {c["id"]: c for c in check_claims(REPO / "paper" / "claims.yaml", metrics, SETTINGS)}
    assert verdicts["extended_matches_attention"]["verdict"] == "not checked"


def test_length_drop_skips_sparse_buckets():
    rows = [{"bucket": "1-10", "n": 50, "bleu": 40.0}, {"bucket": "11-20", "n": 30, "bleu": 30.0},
            {"bucket": "21-40", "n": 3, "bleu": 0.0}]
    drop = length_drop(rows, min_bucket=10)
    assert drop["long"] == "11-20" and drop["relative_drop"] == pytest.approx(0.25)
    assert length_drop(rows[:1], 10) is None


def test_figure_is_written_as_png_and_pdf(tmp_path):
    metrics = fake_metrics({"neural_gpu": 2.0, "extended_neural_gpu": 20.0})
    paths = bleu_by_length_figure({n: m["bleu_by_length"] for n, m in metrics.items()}, tmp_path / "fig", "t")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"
