"""Assemble the paper stage's outputs: tables, figures, claims, and the Markdown/HTML report.

The report renders exactly the models it is given, in the paper's row order. Sections whose
metrics a run does not have (several references, the agreement diagnostic, the longer test split,
the fixed-width ablation, test sentences wider than any trained width) are left out rather than
shown empty. Anything a reader must know before trusting a number (uncommitted edits, models from
different code or settings, truncated training, a model the paper has no row for, a test set cut
by ``evaluate.max_sentences``, sentences wider than any trained width) opens the report as a
warning and is repeated where it applies.

``build`` runs named steps: read and cross-check the inputs, Table 1, the claims, the figures, the
report's context, the rendering.
"""

from __future__ import annotations

import base64
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from activemem.atomic import write_json, write_text
from activemem.data.lines import read_lines
from activemem.evaluate.bleu import check_aligned
from activemem.evaluate.references import first, reference_names
from activemem.paper import convergence, figures, provenance, run_data, snapshot_diff, tables
from activemem.paper.plot_data import write_plot_data
from activemem.paper.bootstrap import Sentences
from activemem.paper.claims import NOT_APPLICABLE, check_claims, display_verdict
from activemem.paper.published import load_published
from activemem.paper.seeds import across_seeds, pooled, run_folder

BLEU_MISMATCH = 0.01  # BLEU points: hypotheses.txt re-scored here vs evaluation.json (rounding only)


# what every evaluation.json must hold for the tables, figures and claims (newer keys are optional)
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
            raise ValueError(f"{results / name / 'evaluation.json'} lacks {', '.join(lacking)}: "
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
    match (else error); a BLEU that differs from evaluation.json is a warning naming both."""
    warnings = []
    for name, m in metrics.items():
        for row in m.get("bleu_by_length") or []:
            have = len(sentences.members(row["lo"], row["hi"]))
            if have != row["n"]:
                raise ValueError(f"{results / run_folder(name, seed) / 'evaluation.json'}: length bucket {row['bucket']} holds "
                                 f"{row['n']} sentences but {data / 'test.en'} has {have}: the metrics come "
                                 f"from another test set")
        rescored = sentences.bleu(name, sentences.members())
        if m.get(metric) is not None and abs(rescored - m[metric]) > BLEU_MISMATCH:
            warnings.append(f"{results / run_folder(name, seed) / 'hypotheses.txt'} scores {metric} {rescored:.2f} but its "
                            f"evaluation.json says {m[metric]:.2f}: the claims' intervals use hypotheses.txt")
    return warnings


def png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def load_runs(results: Path, names: list[str], seeds: list[int]) -> tuple[dict, dict]:
    """Every (model, seed) run's metrics and test hypotheses: ``{model: {seed: ...}}``."""
    metrics = {n: {s: load_metrics(results / run_folder(n, s) / "evaluation.json") for s in seeds} for n in names}
    hyps = {n: {s: read_lines(results / run_folder(n, s) / "hypotheses.txt") for s in seeds} for n in names}
    return metrics, hyps


def labelled_runs(names: list[str], seeds: list[int], runs: dict) -> dict[str, dict]:
    """Runs keyed for the provenance checks: the model name, or "<model> (seed k)" with several seeds."""
    if len(seeds) == 1:
        return {n: runs[n][seeds[0]] for n in names}
    return {f"{tables.label(n)} (seed {s})": runs[n][s] for n in tables.ordered(names) for s in seeds}


@dataclass
class Inputs:
    """Every run's metrics and hypotheses and the test split they were scored on, read and checked."""

    scale: str
    names: list[str]                 # the paper's row order
    seeds: list[int]
    runs: dict                       # {model: {seed: evaluation.json}}
    hyps: dict                       # {model: {seed: hypotheses}}
    metrics: dict                    # {model: metrics pooled over the seeds}
    sources: list[str]               # test.en, cut like the runs' test split
    references: list[str]            # test.fr, likewise
    streams: list[list[str]]         # every reference stream, test.fr first, likewise
    warnings: list[str] = field(default_factory=list)


def scored_count(runs: dict, results: Path, references: list[str]) -> int:
    """How many of the test split's first sentences every run was scored on (``evaluate.max_sentences``
    in ``evaluation.json``; all of them without it). Runs that disagree, or that scored a split of
    another size, are refused, naming the file."""
    total, counts = len(references), {}
    for name, by_seed in runs.items():
        for seed, m in by_seed.items():
            where = results / run_folder(name, seed) / "evaluation.json"
            if m.get("test_sentences_total") not in (None, total):
                raise ValueError(f"{where}: scored a test split of {m['test_sentences_total']} sentences but "
                                 f"{getattr(references, 'source', 'test.fr')} has {total}: the metrics come from "
                                 f"another test set")
            counts[where] = m["test_sentences"] if m.get("max_sentences") is not None else total
    if len(set(counts.values())) > 1:
        listed = "; ".join(f"{where}: {n}" for where, n in counts.items())
        raise ValueError(f"the runs were scored on different numbers of test sentences ({listed}): rerun the "
                         f"evaluate stage with one evaluate.max_sentences")
    return next(iter(counts.values()), total)


def read_inputs(scale: str, names: list[str], results: Path, data: Path, seeds: list[int],
                patience: dict[str, int] | None = None) -> Inputs:
    runs, hyps = load_runs(results, names, seeds)
    # Split at "\n" only (see data/lines.py), and one hypothesis per reference or no report: a
    # misaligned pair of files would give significance tests on shifted sentences. The whole files
    # are checked first, then cut to the sentences the runs were scored on (evaluate.max_sentences).
    references = read_lines(data / "test.fr")
    sources = read_lines(data / "test.en")
    check_aligned(references, sources=sources)
    streams = reference_streams(data, references)
    n = scored_count(runs, results, references)
    references, sources, streams = first(references, n), first(sources, n), [first(s, n) for s in streams]
    for name in names:
        for s in seeds:
            check_aligned(references, hypotheses=hyps[name][s])
            require({run_folder(name, s): runs[name][s]}, results)
            # how the run stopped and whether it converged, from its dev log (the claims' budget says so)
            runs[name][s]["convergence"] = convergence.status(
                runs[name][s], convergence.read_dev_log(results / run_folder(name, s) / "train" / "dev_log.csv"),
                (patience or {}).get(name))
    metrics = {name: pooled(name, runs[name]) for name in names}
    return Inputs(scale, tables.ordered(names), seeds, runs, hyps, metrics, sources, references, streams)


def data_warnings(inputs: Inputs) -> list[str]:
    """What the test split itself makes a reader need to know: a cut test set, sentences wider than
    any trained width (a count of the data: the same for every model)."""
    out, metrics = [], inputs.metrics
    cut = next((metrics[n] for n in inputs.names if tables.subsampled(metrics[n])), None)
    if cut:
        out.append(f"Scored on the first {cut['test_sentences']:,} of {cut['test_sentences_total']:,} test sentences "
                   f"only (evaluate.max_sentences): every test number here is of that part (marked "
                   f"{tables.SUBSAMPLE_MARK}), not of the whole test set.")
    wide = next((tables.value(metrics[n], "wider_than_trained") for n in inputs.names
                 if tables.value(metrics[n], "wider_than_trained.sentences")), None)
    if wide:
        out.append(f"{wide['sentences']:,} of {len(inputs.references):,} test sentences are wider "
                   f"than the widest training bucket ({wide['width']} sub-words): no model trained at that width, "
                   f"and the Neural GPU family decodes them at widths it never trained at. Their BLEU is "
                   f"reported apart (Widths never trained at).")
    return out


def empty_translation_warnings(names: list[str], seeds: list[int], hyps: dict) -> list[str]:
    """A line per run whose test translations (beam search, as scored) include empty ones: a model that
    learned to stop at once scores near zero for that reason, which its BLEU alone does not say."""
    out = []
    for name in names:
        for seed in seeds:
            lines = hyps[name][seed]
            empty = sum(1 for line in lines if not line.strip())
            if empty:
                out.append(f"{tables.label(name)} (seed {seed}): {empty:,} of {len(lines):,} test translations are "
                           f"empty (evaluation.json empty_hypotheses); its scores are those of empty output there.")
    return out


def write_table1(env, inputs: Inputs, published: dict, out: Path, data_note: str) -> dict:
    """Table 1, regenerated (its first note naming the data it ran on, ``run_data.data_note``) and
    published, through one template; their diff; warnings for what the comparison lacks."""
    names = inputs.names
    regenerated = tables.regenerated_table1(names, inputs.metrics)
    regenerated["notes"].insert(0, f"{data_note} The published Table 1 is the paper's: {published['task']}.")
    published_table, missing_rows = tables.published_table1(published, names)
    inputs.warnings += missing_rows
    absent = [tables.label(n) for n in published["models"] if n not in names]
    if absent:  # a subset run (params.yaml `models`): say what it leaves out before any number
        inputs.warnings.append(f"This run has {len(names)} model(s); the paper's {', '.join(absent)} "
                               f"{'is' if len(absent) == 1 else 'are'} not in it (params.yaml models): their rows "
                               f"are missing and the claims about them are not checked.")
    rendered = {}
    for fmt in ("md", "tex"):
        rendered[("regenerated", fmt)] = tables.render_table(env, fmt, regenerated)
        rendered[("published", fmt)] = tables.render_table(env, fmt, published_table)
        write_text(out / f"table1.{fmt}", rendered[("regenerated", fmt)])
        write_text(out / f"table1.published.{fmt}", rendered[("published", fmt)])
    diff = "".join(difflib.unified_diff(rendered[("published", "md")].splitlines(True),
                                        rendered[("regenerated", "md")].splitlines(True),
                                        "table1.published.md", "table1.md"))
    return {"regenerated": regenerated, "published": published_table, "diff": diff}


def check_all_claims(inputs: Inputs, claims_path: Path, results: Path, data: Path, report_settings: dict,
                     evaluate_settings: dict, available) -> list[dict]:
    """The claims, on per-sentence BLEU statistics of the same test set (and of all its references),
    checked on each seed's runs and then held to every seed (paper/seeds.py)."""
    resamples, seed = evaluate_settings["bootstrap_resamples"], evaluate_settings["seed"]
    by_seed = {}
    for s in inputs.seeds:
        run_metrics = {n: inputs.runs[n][s] for n in inputs.names}
        run_hyps = {n: inputs.hyps[n][s] for n in inputs.names}
        sentences = {"bleu": Sentences.from_text(inputs.sources, inputs.references, run_hyps, resamples, seed)}
        inputs.warnings += check_sentences(sentences["bleu"], run_metrics, results, data, seed=s)
        if len(inputs.streams) > 1:
            sentences["bleu_multi_ref"] = Sentences.from_text(inputs.sources, inputs.streams, run_hyps, resamples, seed)
            inputs.warnings += check_sentences(sentences["bleu_multi_ref"], run_metrics, results, data,
                                               "bleu_multi_ref", s)
        by_seed[s] = check_claims(claims_path, run_metrics, report_settings, sentences, inputs.scale, available)
    return across_seeds(by_seed)


def draw_figures(inputs: Inputs, results: Path, out: Path, min_sentences: int) -> dict:
    """Figure 6, the learning curves and (with the longer split) its Figure 6, each with the run's
    provenance in a footer and in its metadata; returns the series drawn."""
    names, metrics, scale = inputs.names, inputs.metrics, inputs.scale
    facts = provenance.summary(names, metrics, scale)
    series = {n: metrics[n]["bleu_by_length"] for n in names}
    figures.bleu_by_length_figure(series, out / "bleu_by_length", f"BLEU by source length ({scale})", facts,
                                  min_sentences)
    logs = {n: tuple(pd.read_csv(results / run_folder(n, inputs.seeds[0]) / "train" / f"{log}.csv")
                     for log in ("train_log", "dev_log")) for n in names}
    figures.learning_curves_figure(logs, out / "learning_curves", facts,
                                   {n: tables.value(inputs.runs[n][inputs.seeds[0]], "selected.step") for n in names})
    write_plot_data(series, logs, out / "plots")  # the same series for DVC's own plots (dvc.yaml)
    long_series = {n: metrics[n]["extrapolation"]["bleu_by_length"] for n in names
                   if tables.value(metrics[n], "extrapolation.bleu_by_length")}
    if long_series:
        figures.bleu_by_length_figure(long_series, out / "extrapolation_bleu_by_length",
                                      f"Beyond the paper: BLEU by length on the longer test split ({scale})", facts,
                                      min_sentences)
    else:  # a folder reused from a run that had the split must not show its figure
        for suffix in (".png", ".pdf"):
            (out / f"extrapolation_bleu_by_length{suffix}").unlink(missing_ok=True)
    return {"series": series, "long_series": long_series}


def report_context(inputs: Inputs, published: dict, table1: dict, claims: list[dict], drawn: dict, out: Path,
                   scale_note: str, report_settings: dict, evaluate_settings: dict) -> dict:
    """Everything the report templates show."""
    names, metrics = inputs.names, inputs.metrics
    min_sentences = report_settings["min_bucket_sentences"]
    long_series = drawn["long_series"]
    stopped = convergence.summary(names, inputs.runs, inputs.seeds)
    length_claim = next((c for c in claims if (c.get("numbers") or {}).get("buckets")), None)
    train_words = {tables.value(metrics[n], "train_source_max_words") for n in names} - {None}
    return {
        "scale": inputs.scale, "scale_note": scale_note, "warnings": inputs.warnings,
        "task": published["task"], "published_table": published["table"],
        "table1": table1["regenerated"], "table1_published": table1["published"], "table_diff": table1["diff"],
        "diff_from": "table1.published.md",
        "side_by_side": tables.side_by_side(table1["regenerated"], table1["published"]),
        "signature": metrics[names[0]].get("sacrebleu_signature", "?"),
        "seeds": inputs.seeds,
        "beam_size": metrics[names[0]].get("beam_size", "?"),
        "length_penalty": metrics[names[0]].get("length_penalty", "?"),
        "measured": tables.measured_table(names, metrics),
        "multi_ref_signature": next((metrics[n]["multi_ref_signature"] for n in names
                                     if metrics[n].get("multi_ref_signature")), None),
        "wider": tables.wider_table(names, metrics),
        "length_table": tables.length_table(names, drawn["series"], min_sentences),
        "gap_table": tables.gap_table(length_claim) if length_claim else None,
        "gap_claim": length_claim,
        "claims": [{**c, "shown": display_verdict(c)} for c in claims],
        "claims_method": claims[0]["method"] if claims else "",
        "any_not_applicable": any(c["verdict"] == NOT_APPLICABLE for c in claims),
        "extrapolation": tables.extrapolation_table(names, metrics),
        "extrapolation_lengths": (tables.length_table(list(long_series), long_series, min_sentences)
                                  if long_series else None),
        "train_source_max_words": max(train_words) if train_words else None,
        "runs": tables.runs_table(names, metrics, evaluate_settings.get("width"), stopped["cells"]),
        "stopping": stopped["lines"],
        "word_classes": tables.word_class_tables(names, metrics),
        "provenance": provenance.provenance_table(names, metrics),
        "figure_png": png(out / "bleu_by_length.png"), "curves_png": png(out / "learning_curves.png"),
        "extrapolation_png": png(out / "extrapolation_bleu_by_length.png") if long_series else None,
    }


def build(scale: str, names: list[str], results: Path, data: Path, paper: Path, out: Path,
          report_settings: dict, evaluate_settings: dict, seeds: list[int] | None = None,
          comparison: dict | None = None, source: str | None = None, patience: dict[str, int] | None = None) -> dict:
    """``seeds``: the training seeds of every model (results under ``<model>/seed<k>``); several
    give mean ± sd in the tables and claims that must hold for every seed (``paper/seeds.py``).
    ``comparison``: ``config.preset_comparison`` of the run's params (a WMT scale's corpora and
    its differences from the paper preset, for the scale note and the claims' data). ``source``: the
    run's ``data.source`` (demo, wmt14), which with ``comparison`` names the data in Table 1's heading.
    ``patience``: each model's ``train.patience``, the evaluations after its best that make it converged."""
    seeds = sorted(seeds or [1])
    out.mkdir(parents=True, exist_ok=True)
    inputs = read_inputs(scale, names, results, data, seeds, patience)
    flat = labelled_runs(inputs.names, seeds, inputs.runs)
    inputs.warnings += provenance.warnings(list(flat), flat) + data_warnings(inputs) + run_data.prepared_data_warnings(data)
    inputs.warnings += empty_translation_warnings(inputs.names, inputs.seeds, inputs.hyps)
    inputs.warnings += [w for w in [convergence.summary(inputs.names, inputs.runs, seeds)["warning"]] if w]
    published = load_published(paper / "published.yaml")
    env = tables.environment(paper / "templates")
    table1 = write_table1(env, inputs, published, out, run_data.data_note(source, comparison, data))
    available = run_data.available(scale, comparison, data)
    claims = check_all_claims(inputs, paper / "claims.yaml", results, data, report_settings, evaluate_settings,
                              available)
    write_json(out / "claims.json", claims)
    against = snapshot_diff.compare(paper, scale, seeds, out)  # table1.md and claims.json are written
    drawn = draw_figures(inputs, results, out, report_settings["min_bucket_sentences"])
    context = report_context(inputs, published, table1, claims, drawn, out,
                             run_data.scale_note(scale, comparison, data, source), report_settings, evaluate_settings)
    context["data_name"] = run_data.data_name(source, comparison)
    context["snapshot"] = against.text()
    if against.folder is not None:  # movement is what differs from the committed snapshot, not from the
        # published table, whose `?` cells differ from every run's numbers
        context["table_diff"] = against.table_diff or "(no difference)\n"
        context["diff_from"] = f"{against.folder}table1.md"
    write_text(out / "report.md", env.get_template("report.md.j2").render(**context))
    html = tables.environment(paper / "templates", autoescape=True).get_template("report.html.j2")
    write_text(out / "report.html", html.render(**context))
    return {"claims": claims, "diff": table1["diff"], "warnings": inputs.warnings, "snapshot": against}
