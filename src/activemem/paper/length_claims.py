"""``paper/claims.algorithmic.yaml`` checked against the algorithmic scale's accuracies by length.

A claim names a model, a task, a length factor ``f`` and an accuracy ``a``; its *long* test splits
are those at least ``f`` times the training length. Each accuracy comes with its Wilson interval
(``evaluate/sequence_accuracy.py``) at level 1 − ``report.significance_level``:

- ``generalises``: the model's sequence accuracy is at least ``a`` on every long split.
  **reproduced** when every interval lies at or above ``a``; **not reproduced** when some split's
  whole interval lies below ``a``; **inconclusive** otherwise (too few test pairs to tell).
- ``does_not_generalise``: its accuracy is below ``a`` on some long split. **reproduced** when some
  split's whole interval lies below ``a``; **not reproduced** when every interval lies at or above
  ``a``; **inconclusive** otherwise.

Two things make any verdict **inconclusive**, whatever the long splits show, and ``reason`` says which:

- the model does not reach ``a`` even on the longest split within the training lengths: a model that
  never learned the task says nothing about generalising it, either way;
- the split is too small to decide ``a``: with ``n`` pairs, even ``n``/``n`` right has a Wilson lower
  bound of ``n / (n + z²)`` (96.3% at 100 pairs, level 95%), so "at least 99%" can never be shown on
  100 pairs. ``pairs_needed`` is the smallest ``n`` whose perfect score clears ``a`` (381 for 99%);
  where a split has fewer and its point estimate is at or above ``a`` (the case the interval cannot
  clear), the evidence says how many pairs would be needed.

With several seeds a claim must hold for every seed (``claims.combine``). No long split (the scale's
test lengths stop short of ``f``× the training length) or a model not in the run: **not checked**.
Every verdict states the numbers that decided it, within training and beyond.
"""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import yaml

from activemem import models
from activemem.evaluate.sequence_accuracy import wilson
from activemem.paper import convergence
from activemem.paper.claims import INCONCLUSIVE, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, combine

KINDS = ("generalises", "does_not_generalise")
FIELDS = ("id", "statement", "source", "kind", "model", "task", "length_factor", "min_accuracy")


def load(path: str | Path) -> list[dict]:
    """The claims of ``path``, each checked for its fields and a known kind."""
    path = Path(path)
    claims = (yaml.safe_load(path.read_text()) or {}).get("claims")
    if not isinstance(claims, list):
        raise ValueError(f"{path}: needs a list under 'claims'")
    for i, c in enumerate(claims, 1):
        where = f"{path}: claim {c.get('id', i) if isinstance(c, dict) else i}"
        if not isinstance(c, dict) or any(k not in c for k in FIELDS):
            raise ValueError(f"{where}: needs {', '.join(FIELDS)}")
        if c["kind"] not in KINDS:
            raise ValueError(f"{where}: unknown kind {c['kind']!r}; known: {', '.join(KINDS)}")
    return claims


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def describe(test: dict) -> str:
    lo, hi = test["accuracy_interval"]
    return (f"{pct(test['accuracy'])} [{pct(lo)}, {pct(hi)}] at length {test['length']} "
            f"({test['correct']}/{test['sequences']})")


def side(test: dict, threshold: float) -> str:
    """Where one split's accuracy stands against ``threshold``: above, below, or undecided."""
    lo, hi = test["accuracy_interval"]
    if lo >= threshold:
        return "above"
    if hi < threshold:
        return "below"
    return "undecided"


def pairs_needed(threshold: float, level: float) -> int:
    """The fewest test pairs whose perfect score has a Wilson lower bound at or above ``threshold``.
    At n/n right the bound is n / (n + z²), so n >= z² · a / (1 − a); 381 for 99% at level 95%."""
    if threshold <= 0:
        return 1
    if threshold >= 1:
        raise ValueError(f"no number of pairs can show an accuracy of at least {threshold:g}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    n = max(1, math.ceil(z * z * threshold / (1 - threshold) - 1e-9))
    while wilson(n, n, level)[0] < threshold:  # floating point at the boundary
        n += 1
    return n


def too_small(tests: list[dict], threshold: float) -> tuple[int, int] | None:
    """``(smallest split, pairs needed)`` where some split's point estimate is at or above ``threshold``
    but its size could never show it (its interval cannot clear the threshold at any score); else None."""
    short = [t for t in tests if t["accuracy"] >= threshold
             and t["sequences"] < pairs_needed(threshold, t.get("interval_level", 0.95))]
    if not short:
        return None
    return min(t["sequences"] for t in short), max(pairs_needed(threshold, t.get("interval_level", 0.95))
                                                    for t in short)


def check_run(claim: dict, evaluation: dict) -> tuple[str, str, str | None]:
    """One seed's verdict, evidence and reason."""
    train_length = evaluation["train_length"]
    tests = sorted((t for t in evaluation["tests"] if t["task"] == claim["task"]), key=lambda t: t["length"])
    long = [t for t in tests if t["length"] >= claim["length_factor"] * train_length]
    within = [t for t in tests if t["length"] <= train_length]
    if not long:
        return NOT_CHECKED, "", (f"no {claim['task']} test split is {claim['length_factor']}× the training "
                                 f"length {train_length} (data.test_lengths)")
    threshold = claim["min_accuracy"]
    sides = [side(t, threshold) for t in long]
    evidence = "; ".join(describe(t) for t in long)
    if within:
        evidence += f"; within training: {describe(within[-1])}"
    if claim["kind"] == "generalises":
        verdict = (REPRODUCED if all(s == "above" for s in sides)
                   else NOT_REPRODUCED if "below" in sides else INCONCLUSIVE)
    else:
        verdict = (REPRODUCED if "below" in sides
                   else NOT_REPRODUCED if all(s == "above" for s in sides) else INCONCLUSIVE)
    if within and within[-1]["accuracy"] < threshold:  # never learned: nothing to say about generalising
        return INCONCLUSIVE, evidence, (f"{models.label(claim['model'])} does not reach {pct(threshold)} within "
                                        f"the training lengths: it did not learn the task, so its accuracy "
                                        f"beyond says nothing about generalising")
    small = too_small(long, threshold) if verdict == INCONCLUSIVE else None
    if small:
        n, needed = small
        evidence += (f"; {n} test pairs cannot show {pct(threshold)} (even {n}/{n} has a Wilson lower bound of "
                     f"{pct(wilson(n, n, long[0].get('interval_level', 0.95))[0])}): {needed} pairs would be needed")
        return INCONCLUSIVE, evidence, f"{n} test pairs per split cannot decide {pct(threshold)}; {needed} would"
    return verdict, evidence, None


def check(path: str | Path, runs: dict[str, dict[int, dict]], scale: str) -> list[dict]:
    """Every claim of ``path`` against ``runs`` (``{model: {seed: evaluation.json}}``):
    ``{id, statement, source, kind, verdict, evidence, reason, budget}``."""
    out = []
    for claim in load(path):
        head = {k: claim[k] for k in ("id", "statement", "source", "kind")}
        name = claim["model"]
        if name not in runs:
            out.append({**head, "verdict": NOT_CHECKED, "evidence": "", "budget": "",
                        "reason": f"{models.label(name)} is not in this run (params.yaml models)"})
            continue
        results = {seed: check_run(claim, evaluation) for seed, evaluation in sorted(runs[name].items())}
        verdicts = [v for v, _, _ in results.values()]
        several = len(results) > 1
        evidence = " | ".join(f"seed {s}: {e}" if several else e for s, (_, e, _) in results.items())
        reasons = sorted({r for _, _, r in results.values() if r})
        verdict = NOT_CHECKED if NOT_CHECKED in verdicts else combine(verdicts)
        budgets = {seed: f"{models.label(name)} {(e.get('convergence') or convergence.status(e))['text']}, "
                         f"{e['parameters']:,} parameters, trained on lengths ≤ {e['train_length']}"
                   for seed, e in sorted(runs[name].items())}
        budget = (next(iter(budgets.values())) if len(set(budgets.values())) == 1
                  else " | ".join(f"seed {s}: {b}" for s, b in budgets.items()))
        out.append({**head, "verdict": verdict, "evidence": f"{models.label(name)}, {claim['task']}: {evidence}",
                    "reason": "; ".join(reasons) or None, "budget": f"scale {scale}: {budget}"})
    return out
