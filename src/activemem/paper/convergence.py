"""Whether a run converged, in words a claim's budget and the report can use.

A model is called *converged* only when training stopped by patience (``train.patience``) and its best
dev evaluation is followed by evaluations that did not improve on it, as many as ``train.patience``
where it is known: the patience was spent after the best point, not during a slow descent. Patience counts evaluations that gain less than
``train.min_improvement`` (``train/loop.py``), so a run creeping down by 0.5% per evaluation stops by
patience with its best perplexity at its *last* evaluation: it was still improving when it stopped,
and its numbers are those of a model still learning. A run stopped at the step cap (``max_steps``) or
by the clock (``max_minutes``) says so, and whether it was still improving at its last evaluation.

The evaluations are read from the run's ``train/dev_log.csv`` (``step``, ``dev_perplexity``); without
it, from ``evaluation.json`` alone: a run selected with ``train.select: best`` whose scored step is
before its last step had later evaluations that did not beat it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from activemem.models import label

CONVERGED, IMPROVING, NOT_IMPROVING, UNKNOWN = "converged", "still improving", "not improving", "unknown"
EARLY = "patience spent before its best"
STOPS = {"patience": "stopped by patience", "max_steps": "stopped at the step cap",
         "max_minutes": "stopped by the wall clock"}


def read_dev_log(path: Path) -> list[dict] | None:
    """``[{step, dev_perplexity}]`` in step order; None without the file or its columns."""
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("step") and r.get("dev_perplexity")]
    if not rows:
        return None
    return sorted(({"step": int(float(r["step"])), "dev_perplexity": float(r["dev_perplexity"])} for r in rows),
                  key=lambda r: r["step"])


def stop_reason(metrics: dict) -> str | None:
    """``patience``, ``max_steps`` or ``max_minutes``: recorded by evaluate, else read off the counts."""
    if metrics.get("train_stop_reason"):
        return metrics["train_stop_reason"]
    if metrics.get("truncated"):
        return "max_minutes"
    if metrics.get("train_max_steps") and metrics.get("train_steps", 0) >= metrics["train_max_steps"]:
        return "max_steps"
    return None


def after_best(metrics: dict, dev_log: list[dict] | None) -> tuple[int | None, int | None]:
    """``(best step, evaluations after it)``, none of which improved on it; ``(None, None)`` unknown."""
    if dev_log:
        best = min(range(len(dev_log)), key=lambda i: (dev_log[i]["dev_perplexity"], i))
        return dev_log[best]["step"], len(dev_log) - 1 - best
    selected = metrics.get("selected") or {}
    if selected.get("select") == "best" and selected.get("step") is not None:
        # how many later evaluations is unknown without the log; at least one when the best came earlier
        return int(selected["step"]), (0 if selected["step"] >= metrics.get("train_steps", 0) else None)
    return None, None


def status(metrics: dict, dev_log: list[dict] | None = None, patience: int | None = None) -> dict:
    """``{state, stop, best_step, after, text}``: ``state`` is converged, still improving, patience spent
    before its best, not improving (a later evaluation no better, but not stopped by patience) or
    unknown; ``text`` the phrase. ``patience``: the run's ``train.patience``; given, a run is converged
    only with at least that many evaluations after its best (its patience spent there), else one."""
    stop = stop_reason(metrics)
    best, after = after_best(metrics, dev_log)
    needed = max(1, patience or 0)
    steps = (f"{metrics['train_steps']}/{metrics['train_max_steps']} steps" if metrics.get("train_max_steps")
             else f"{metrics.get('train_steps', '?')} steps")
    if after == 0:
        state = IMPROVING
        trend = "still improving at its last evaluation"
    elif best is not None:
        state = NOT_IMPROVING if stop != "patience" else CONVERGED if (after or needed) >= needed else EARLY
        later = f"{after} later evaluation{'s' if after != 1 else ''}" if after is not None else "later evaluations"
        trend = f"best dev perplexity at step {best}, not improved on by the {later}"
    else:
        state, trend = UNKNOWN, "no record of its dev evaluations"
    if state == CONVERGED:
        text = f"converged ({steps}, stopped by patience; {trend})"
    elif stop == "patience" and state == IMPROVING:
        text = (f"stopped by patience at {steps} but {trend} (each of its last evaluations gained less than "
                f"train.min_improvement): not converged")
    elif state == EARLY:
        text = (f"stopped by patience at {steps}; {trend}, fewer than train.patience ({patience}): its patience "
                f"was spent on gains under train.min_improvement up to its best: not converged")
    elif state == UNKNOWN:
        text = f"{STOPS.get(stop, 'stop reason unknown')} ({steps}); {trend}"
    else:
        text = f"{STOPS.get(stop, 'stop reason unknown')} ({steps}), {trend}: not converged"
    return {"state": state, "stop": stop, "best_step": best, "after": after, "text": text}


def where(status_: dict) -> str:
    return {"patience": "patience", "max_steps": "step cap", "max_minutes": "clock"}.get(status_["stop"], "stop unknown")


def short(status_: dict) -> str:
    """A table cell: ``converged``, ``no: still improving (step cap)``…"""
    if status_["state"] == CONVERGED:
        return CONVERGED
    return f"no: {status_['state']} ({where(status_)})"


def summary(names: list[str], runs: dict, seeds: list[int]) -> dict:
    """How each model (each seed) stopped, from the ``convergence`` each run carries: a line per model for
    the report, a cell per model for the Runs table, and a warning naming every model that did not converge."""
    lines, cells, unconverged = [], {}, []
    several = len(seeds) > 1
    for n in names:
        by_seed = {s: runs[n][s]["convergence"] for s in seeds}
        lines.append(f"{label(n)}: " + "; ".join(f"seed {s}: {st['text']}" if several else st["text"]
                                                   for s, st in by_seed.items()))
        states = list(by_seed.values())
        done = sum(st["state"] == CONVERGED for st in states)
        cells[n] = (short(states[0]) if not several else f"{done} of {len(states)} seeds" if done
                    else "no: " + ", ".join(sorted({st["state"] for st in states})))
        if done < len(states):
            why = sorted({f"{st['state']}, {where(st)}" for st in states if st["state"] != CONVERGED})
            unconverged.append(f"{label(n)} ({'; '.join(why)})")
    warning = (f"Not converged: {', '.join(unconverged)}. Their numbers are those of models stopped before their "
               f"dev perplexity stopped improving, not the models' best (How each model stopped, under Runs)."
               if unconverged else None)
    return {"lines": lines, "cells": cells, "warning": warning}
