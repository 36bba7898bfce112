"""Assemble the paper stage's outputs: tables, figures, claims, and the Markdown/HTML report.

The report renders exactly the models it is given, in the paper's row order. Sections whose
metrics a run does not have (several references, the agreement diagnostic, the longer test split,
the fixed-width ablation) are left out rather than shown empty. Anything a reader must know before
trusting a number (uncommitted edits, models from different code or settings, truncated training,
a model the paper has no row for) opens the report as a warning and is repeated where it applies.
"""

from __future__ import annotations

import base64
import difflib
import json
from pathlib import Path

import pandas as pd

from activemem.atomic import write_json, write_text
from activemem.data.lines import read_lines
from activemem.evaluate.bleu import check_aligned
from activemem.evaluate.references import reference_names
from activemem.paper import figures, provenance, tables
from activemem.paper.bootstrap import Sentences
from activemem.paper.claims import check_claims, display_verdict
from activemem.paper.published import load_published
from activemem.paper.seeds import across_seeds, pooled, run_folder

SCALE_NOTES = {
    "demo": "Embedded demo corpus (a small English→French grammar), CPU-sized models and a few minutes of "
            "training per model: this shows the pipeline and the models' qualitative behaviour, not the "
            "paper's WMT'14 numbers.",
    "smoke": "Tiny smoke-test scale: numbers are meaningless; it checks that the pipeline runs.",
}
BLEU_MISMATCH = 0.01  # BLEU points: hypotheses.txt re-scored here vs metrics.json (rounding only)


# what every metrics.json must hold for the tables, figures and claims (newer keys are optional)
REQUIRED = ("bleu", "perplexity", "log_perplexity", "bleu_by_length", "parameters", "train_steps")


def load_metrics(path: Path) -> dict:
    try:
        metrics = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{path}: expected a JSON object of metrics")
    return metrics


def require(metrics: dict[str, dict], results: Path) -> None:
    for name, m in metrics.items():
        lacking = [k for k in REQUIRED if m.get(k) is None]
        if lacking:
            raise ValueError(f"{results / name / 'metrics.json'} lacks {', '.join(lacking)}: "
                             f"rerun the evaluate stage for {name}")


def reference_streams(data: Path, references: list[str]) -> list[list[str]]:
    """Every reference stream of the test split: ``test.fr`` first, then those the prepare stage's
    manifest lists (the demo's further valid references); one stream where there is no manifest."""
    manifest = data / "manifest.json"
    names = reference_names(json.loads(manifest.read_text()), "test") if manifest.exists() else ["test.fr"]
    streams = [references] + [read_lines(data / name) for name in names[1:]]
    for i, stream in enumerate(streams[1:], start=2):
        check_aligned(references, **{f"reference_stream_{i}": stream})
    return streams


def check_sentences(sentences: Sentences, metrics: dict[str, dict], results: Path, data: Path,
                    metric: str = "bleu", seed: int = 1) -> list[str]:
    """The per-sentence data must be the test set the metrics were computed on: bucket counts must
    match (else error); a BLEU that differs from metrics.json is a warning naming both."""
    warnings = []
    for name, m in metrics.items():
        for row in m.get("bleu_by_length") or []:
            have = len(sentences.members(row["lo"], row["hi"]))
            if have != row["n"]:
                raise ValueError(f"{results / run_folder(name, seed) / 'metrics.json'}: length bucket {row['bucket']} holds "
                                 f"{row['n']} sentences but {data / 'test.en'} has {have}: the metrics come "
                                 f"from another test set")
        rescored = sentences.bleu(name, sentences.members())
        if m.get(metric) is not None and abs(rescored - m[metric]) > BLEU_MISMATCH:
            warnings.append(f"{results / run_folder(name, seed) / 'hypotheses.txt'} scores {metric} {rescored:.2f} but its "
                            f"metrics.json says {m[metric]:.2f}: the claims' intervals use hypotheses.txt")
    return warnings


def png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def load_runs(results: Path, names: list[str], seeds: list[int]) -> tuple[dict, dict]:
    """Every (model, seed) run's metrics and test hypotheses: ``{model: {seed: ...}}``."""
    metrics = {n: {s: load_metrics(results / run_folder(n, s) / "metrics.json") for s in seeds} for n in names}
    hyps = {n: {s: read_lines(results / run_folder(n, s) / "hypotheses.txt") for s in seeds} for n in names}
    return metrics, hyps


def labelled_runs(names: list[str], seeds: list[int], runs: dict) -> dict[str, dict]:
    """Runs keyed for the provenance checks: the model name, or "<model> (seed k)" with several seeds."""
    if len(seeds) == 1:
        return {n: runs[n][seeds[0]] for n in names}
    return {f"{tables.label(n)} (seed {s})": runs[n][s] for n in tables.ordered(names) for s in seeds}


def build(scale: str, names: list[str], results: Path, data: Path, paper: Path, out: Path,
          report_settings: dict, evaluate_settings: dict, seeds: list[int] | None = None) -> dict:
    """``seeds``: the training seeds of every model (results under ``<model>/seed<k>``); several
    give mean ± sd in the tables and claims that must hold for every seed (``paper/seeds.py``)."""
    seeds = sorted(seeds or [1])
    out.mkdir(parents=True, exist_ok=True)
    runs, hyps = load_runs(results, names, seeds)
    # Split at "\n" only (see data/lines.py), and one hypothesis per reference or no report: a
    # misaligned pair of files would give significance tests on shifted sentences.
    references = read_lines(data / "test.fr")
    for n in names:
        for s in seeds:
            check_aligned(references, hypotheses=hyps[n][s])
            require({run_folder(n, s): runs[n][s]}, results)
    metrics = {n: pooled(n, runs[n]) for n in names}
    names = tables.ordered(names)
    sources = read_lines(data / "test.en")
    check_aligned(references, sources=sources)
    published = load_published(paper / "published.yaml")
    env = tables.environment(paper / "templates")
    flat = labelled_runs(names, seeds, runs)
    warnings = provenance.warnings(list(flat), flat)

    # Table 1, regenerated and published, through one template
    regenerated = tables.regenerated_table1(names, metrics)
    published_table, missing_rows = tables.published_table1(published, names)
    warnings += missing_rows
    absent = [tables.label(n) for n in published["models"] if n not in names]
    if absent:  # a subset run (params.yaml `models`): say what it leaves out before any number
        warnings.append(f"This run has {len(names)} model(s); the paper's {', '.join(absent)} "
                        f"{'is' if len(absent) == 1 else 'are'} not in it (params.yaml models): their rows are "
                        f"missing and the claims about them are not checked.")
    rendered = {}
    for fmt in ("md", "tex"):
        rendered[("regenerated", fmt)] = tables.render_table(env, fmt, regenerated)
        rendered[("published", fmt)] = tables.render_table(env, fmt, published_table)
        write_text(out / f"table1.{fmt}", rendered[("regenerated", fmt)])
        write_text(out / f"table1.published.{fmt}", rendered[("published", fmt)])
    diff = "".join(difflib.unified_diff(rendered[("published", "md")].splitlines(True),
                                        rendered[("regenerated", "md")].splitlines(True),
                                        "table1.published.md", "table1.md"))

    # claims, on per-sentence BLEU statistics of the same test set (and of all its references),
    # checked on each seed's runs and then held to every seed (paper/seeds.py)
    resamples, seed = evaluate_settings["bootstrap_resamples"], evaluate_settings["seed"]
    streams = reference_streams(data, references)
    claims_by_seed = {}
    for s in seeds:
        run_metrics = {n: runs[n][s] for n in names}
        run_hyps = {n: hyps[n][s] for n in names}
        sentences = {"bleu": Sentences.from_text(sources, references, run_hyps, resamples, seed)}
        warnings += check_sentences(sentences["bleu"], run_metrics, results, data, seed=s)
        if len(streams) > 1:
            sentences["bleu_multi_ref"] = Sentences.from_text(sources, streams, run_hyps, resamples, seed)
            warnings += check_sentences(sentences["bleu_multi_ref"], run_metrics, results, data, "bleu_multi_ref", s)
        claims_by_seed[s] = check_claims(paper / "claims.yaml", run_metrics, report_settings, sentences, scale)
    claims = across_seeds(claims_by_seed)
    write_json(out / "claims.json", claims)

    # figures, each with the run's provenance in a footer and in its metadata
    facts = provenance.summary(names, metrics, scale)
    series = {n: metrics[n]["bleu_by_length"] for n in names}
    figures.bleu_by_length_figure(series, out / "bleu_by_length", f"BLEU by source length ({scale})", facts)
    logs = {n: tuple(pd.read_csv(results / run_folder(n, seeds[0]) / "train" / f"{log}.csv")
                     for log in ("train_log", "dev_log")) for n in names}
    figures.learning_curves_figure(logs, out / "learning_curves", facts)
    extrapolation = tables.extrapolation_table(names, metrics)
    long_series = {n: metrics[n]["extrapolation"]["bleu_by_length"] for n in names
                   if tables.value(metrics[n], "extrapolation.bleu_by_length")}
    if long_series:
        figures.bleu_by_length_figure(long_series, out / "extrapolation_bleu_by_length",
                                      f"Beyond the paper: BLEU by length on the longer test split ({scale})", facts)
    else:  # a folder reused from a run that had the split must not show its figure
        for suffix in (".png", ".pdf"):
            (out / f"extrapolation_bleu_by_length{suffix}").unlink(missing_ok=True)

    length_claim = next((c for c in claims if (c.get("numbers") or {}).get("buckets")), None)
    train_words = {tables.value(metrics[n], "train_source_max_words") for n in names} - {None}
    context = {
        "scale": scale, "scale_note": SCALE_NOTES.get(scale, "WMT'14 English→French."), "warnings": warnings,
        "task": published["task"], "published_table": published["table"],
        "table1": regenerated, "table1_published": published_table, "table_diff": diff,
        "side_by_side": tables.side_by_side(regenerated, published_table),
        "signature": metrics[names[0]].get("sacrebleu_signature", "?"),
        "seeds": seeds,
        "beam_size": metrics[names[0]].get("beam_size", "?"),
        "length_penalty": metrics[names[0]].get("length_penalty", "?"),
        "measured": tables.measured_table(names, metrics),
        "multi_ref_signature": next((metrics[n]["multi_ref_signature"] for n in names
                                     if metrics[n].get("multi_ref_signature")), None),
        "length_table": tables.length_table(names, series),
        "gap_table": tables.gap_table(length_claim) if length_claim else None,
        "gap_claim": length_claim,
        "claims": [{**c, "shown": display_verdict(c)} for c in claims],
        "claims_method": claims[0]["method"] if claims else "",
        "extrapolation": extrapolation,
        "extrapolation_lengths": (tables.length_table(list(long_series), long_series) if long_series else None),
        "train_source_max_words": max(train_words) if train_words else None,
        "runs": tables.runs_table(names, metrics, evaluate_settings.get("width")),
        "provenance": provenance.provenance_table(names, metrics),
        "figure_png": png(out / "bleu_by_length.png"), "curves_png": png(out / "learning_curves.png"),
        "extrapolation_png": png(out / "extrapolation_bleu_by_length.png") if long_series else None,
    }
    write_text(out / "report.md", env.get_template("report.md.j2").render(**context))
    html = tables.environment(paper / "templates", autoescape=True).get_template("report.html.j2")
    write_text(out / "report.html", html.render(**context))
    return {"claims": claims, "diff": diff, "warnings": warnings}
