"""Assemble the paper stage's outputs: tables, figures, claims, and the Markdown/HTML report."""

from __future__ import annotations

import base64
import difflib
import json
from pathlib import Path

import pandas as pd

from activemem.atomic import write_json, write_text
from activemem.data.lines import read_lines
from activemem.evaluate.bleu import check_aligned, paired_bootstrap
from activemem.models import PAPER_NAMES
from activemem.paper import figures, tables
from activemem.paper.claims import check_claims
from activemem.paper.published import load_published

SCALE_NOTES = {
    "demo": "Embedded demo corpus (a small English→French grammar), CPU-sized models and a few minutes of "
            "training per model: this shows the pipeline and the models' qualitative behaviour, not the "
            "paper's WMT'14 numbers.",
    "smoke": "Tiny smoke-test scale: numbers are meaningless; it checks that the pipeline runs.",
}


def build(scale: str, names: list[str], results: Path, data: Path, paper: Path, out: Path,
          report_settings: dict, evaluate_settings: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    metrics = {n: json.loads((results / n / "metrics.json").read_text()) for n in names}
    published = load_published(paper / "published.yaml")
    env = tables.environment(paper / "templates")

    frame = tables.metrics_frame(metrics)
    ordered = list(frame.index)
    # Split at "\n" only (see data/lines.py), and one hypothesis per reference or no report: a
    # misaligned pair of files would give significance tests on shifted sentences.
    references = read_lines(data / "test.fr")
    hyps = {n: read_lines(results / n / "hypotheses.txt") for n in ordered}
    for n in ordered:
        check_aligned(references, hypotheses=hyps[n])

    rendered = {}
    for fmt in ("md", "tex"):
        rendered[("regenerated", fmt)] = tables.render_table(env, fmt, tables.regenerated_rows(frame))
        rendered[("published", fmt)] = tables.render_table(env, fmt, tables.published_rows(published, ordered))
        write_text(out / f"table1.{fmt}", rendered[("regenerated", fmt)])
        write_text(out / f"table1.published.{fmt}", rendered[("published", fmt)])
    diff = "".join(difflib.unified_diff(rendered[("published", "md")].splitlines(True),
                                        rendered[("regenerated", "md")].splitlines(True),
                                        "table1.published.md", "table1.md"))

    series = {n: metrics[n]["bleu_by_length"] for n in ordered}
    figures.bleu_by_length_figure(series, out / "bleu_by_length", f"BLEU by source length ({scale})")
    logs = {n: (pd.read_csv(results / n / "train" / "train_log.csv"), pd.read_csv(results / n / "train" / "dev_log.csv"))
            for n in ordered}
    figures.learning_curves_figure(logs, out / "learning_curves")

    def bootstrap(baseline: str, candidate: str) -> dict:
        return paired_bootstrap(hyps[baseline], hyps[candidate], references,
                                evaluate_settings["bootstrap_resamples"], evaluate_settings["seed"])

    claims = check_claims(paper / "claims.yaml", metrics, report_settings, bootstrap)
    write_json(out / "claims.json", claims)

    first = metrics[ordered[0]]
    length_rows = []
    for i, row in enumerate(first["bleu_by_length"]):
        if row["n"] == 0:
            continue
        length_rows.append({"bucket": row["bucket"], "n": row["n"],
                            "bleu": [f"{metrics[n]['bleu_by_length'][i]['bleu']:.1f}" for n in ordered]})
    context = {
        "scale": scale, "scale_note": SCALE_NOTES.get(scale, "WMT'14 English→French."),
        "task": published["task"], "published_table": published["table"],
        "table_regenerated": rendered[("regenerated", "md")], "table_published": rendered[("published", "md")],
        "table_diff": diff, "signature": first["sacrebleu_signature"], "beam_size": first["beam_size"],
        "length_penalty": first["length_penalty"], "model_labels": [PAPER_NAMES[n] for n in ordered],
        "length_rows": length_rows, "claims": claims,
        "runs": [{"model": PAPER_NAMES[n], "parameters": f"{metrics[n]['parameters']:,}",
                  "train_steps": metrics[n]["train_steps"], "train_seconds": f"{metrics[n]['train_seconds']:.0f}",
                  "decode": f"{metrics[n]['decode_sentences_per_s']:.1f}",
                  "bleu_greedy": f"{metrics[n]['bleu_greedy']:.1f}", "chrf": f"{metrics[n]['chrf']:.1f}"}
                 for n in ordered],
        "side_by_side": [{**row, "published_bleu": pub["bleu"]} for row, pub in
                         zip(tables.regenerated_rows(frame), tables.published_rows(published, ordered))],
        "figure_png": base64.b64encode((out / "bleu_by_length.png").read_bytes()).decode(),
        "curves_png": base64.b64encode((out / "learning_curves.png").read_bytes()).decode(),
    }
    write_text(out / "report.md", env.get_template("report.md.j2").render(**context))
    html = tables.environment(paper / "templates", autoescape=True).get_template("report.html.j2")
    write_text(out / "report.html", html.render(**context))
    return {"claims": claims, "diff": diff}
