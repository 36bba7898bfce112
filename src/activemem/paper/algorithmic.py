"""The paper stage on the algorithmic scale: a table per task, accuracy against length, the claims, the report.

Reads every (model, seed) run's ``evaluation.json`` (``evaluate/algorithmic.py``) and writes to ``<out>``:
``tables.md`` (per task, sequence accuracy and per-symbol error rate by input length, per model),
``accuracy_by_length.{png,pdf}`` (``length_figure.py``), ``claims.json`` (``length_claims.py``
against ``<paper>/claims.algorithmic.yaml``), ``report.md`` (opening with what moved against the committed
snapshot, ``snapshot_diff.py``) and a self-contained ``report.html``
(templates ``algorithmic.{md,html}.j2``). No BLEU: an answer is right or wrong.

With several seeds a table cell is the mean over them (and says so), and a claim must hold for each.
"""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

from activemem import models
from activemem.atomic import write_json, write_text
from activemem.paper import convergence, snapshot_diff
from activemem.paper.length_claims import check
from activemem.paper.length_figure import accuracy_by_length_figure
from activemem.paper.report import png
from activemem.paper.seeds import run_folder
from activemem.paper.tables import environment

CLAIMS = "claims.algorithmic.yaml"
FIGURE = "accuracy_by_length"


def load_runs(results: Path, names: list[str], seeds: list[int],
              patience: dict[str, int] | None = None) -> dict[str, dict[int, dict]]:
    runs = {}
    for name in names:
        runs[name] = {}
        for seed in seeds:
            path = results / run_folder(name, seed) / "evaluation.json"
            evaluation = json.loads(path.read_text())
            if "tests" not in evaluation:
                raise ValueError(f"{path}: not an evaluation of the algorithmic tasks: rerun the evaluate stage")
            # how the run stopped and whether it converged (the claims' budget and the training table say so)
            evaluation["convergence"] = convergence.status(
                evaluation, convergence.read_dev_log(results / run_folder(name, seed) / "train" / "dev_log.csv"),
                (patience or {}).get(name))
            runs[name][seed] = evaluation
    return runs


def by_task(runs: dict[str, dict[int, dict]]) -> dict[str, dict[str, dict[int, dict]]]:
    """``{task: {model: {length: {accuracy, symbol_error_rate, sequences}}}}``, means over the seeds."""
    out: dict[str, dict] = {}
    for name, seeds in runs.items():
        rows: dict[tuple[str, int], list[dict]] = {}
        for evaluation in seeds.values():
            for t in evaluation["tests"]:
                rows.setdefault((t["task"], t["length"]), []).append(t)
        for (task, length), tests in rows.items():
            out.setdefault(task, {}).setdefault(name, {})[length] = {
                "accuracy": mean(t["accuracy"] for t in tests),
                "symbol_error_rate": mean(t["symbol_error_rate"] for t in tests),
                "sequences": tests[0]["sequences"]}
    return out


def task_table(task: str, scores: dict[str, dict[int, dict]], train_length: int, seeds: int) -> dict:
    """One task's table, in the layout of ``templates/macros.j2``: a row per model, a column per length."""
    lengths = sorted({length for by_length in scores.values() for length in by_length})
    header = ["Model", *(f"{length}{' (trained)' if length <= train_length else ''}" for length in lengths)]
    rows = [[models.label(name), *(f"{100 * s['accuracy']:.1f} ({100 * s['symbol_error_rate']:.1f})"
                                   for s in (by_length[length] for length in lengths))]
            for name, by_length in scores.items()]
    n = sorted({s["sequences"] for by_length in scores.values() for s in by_length.values()})
    notes = [f"{task}: sequence accuracy % (per-symbol error rate %) by input length in symbols; "
             f"{'/'.join(map(str, n))} test pairs per length; trained on lengths up to {train_length}"
             + (f"; mean of {seeds} seeds" if seeds > 1 else "") + "."]
    return {"task": task, "header": header, "align": ["l"] + ["r"] * len(lengths), "rows": rows, "notes": notes}


def build(scale: str, names: list[str], results: Path, paper: Path, out: Path, seeds: list[int],
          patience: dict[str, int] | None = None) -> dict:
    """Every output of the stage (see the module docstring); returns ``{claims, warnings, snapshot, beside}``.
    ``patience``: each model's ``train.patience`` (``convergence.py``)."""
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(results, names, sorted(seeds), patience)
    first = next(iter(next(iter(runs.values())).values()))
    train_length = first["train_length"]
    scores = by_task(runs)
    tables = [task_table(task, per_model, train_length, len(seeds)) for task, per_model in scores.items()]
    series = {name: {task: [(length, s["accuracy"]) for length, s in scores[task][name].items()]
                     for task in scores if name in scores[task]} for name in names}
    accuracy_by_length_figure(series, train_length, out / FIGURE)
    claims = check(paper / CLAIMS, runs, scale)
    write_json(out / "claims.json", claims)
    warnings = [f"{models.label(n)} (seed {s}): training was cut by train.max_minutes"
                for n, by_seed in runs.items() for s, e in by_seed.items() if e["truncated"]]
    budgets = [{"model": models.label(n), "steps": e["train_steps"], "max_steps": e["train_max_steps"],
                "seconds": round(e["train_seconds"]), "parameters": f"{e['parameters']:,}",
                "dev_perplexity": f"{e['dev']['perplexity']:.3f}", "stopped": e["convergence"]["text"]}
               for n, by_seed in runs.items() for e in by_seed.values()]
    context = {"scale": scale, "tables": tables, "claims": claims, "warnings": warnings, "budgets": budgets,
               "train_length": train_length, "tasks": list(scores), "figure": FIGURE, "seeds": sorted(seeds),
               "lengths": sorted({t["length"] for t in first["tests"]}), "decode": first["decode"],
               "commit": first["provenance"].get("git_commit"), "dirty": first["provenance"].get("git_dirty")}
    md = environment(paper / "templates")
    write_text(out / "tables.md", "\n".join(f"### {t['task']}\n\n" + md.get_template("macros.j2").module.md(t)
                                            for t in tables))
    against = snapshot_diff.compare(paper, scale, sorted(seeds), out)  # tables.md and claims.json are written
    context["snapshot"] = against.text()
    write_text(out / "report.md", md.get_template("algorithmic.md.j2").render(**context))
    html = environment(paper / "templates", autoescape=True).get_template("algorithmic.html.j2")
    write_text(out / "report.html", html.render(**context, figure_png=png(out / f"{FIGURE}.png")))
    return {"claims": claims, "warnings": warnings, "snapshot": against,
            "beside": "report.md, tables.md, the figure, claims.json"}  # what the stage names beside report.html
