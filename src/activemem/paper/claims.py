"""``paper/claims.yaml`` checked against the regenerated metrics: reproduced or not, with the numbers.

The length claims compare the *relative* BLEU drop from the shortest to the longest length bucket
that holds at least ``min_bucket`` sentences: ``drop = (BLEU_short − BLEU_long) / BLEU_short``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from activemem.models import PAPER_NAMES


def length_drop(rows: list[dict], min_bucket: int) -> dict | None:
    rows = [r for r in rows if r["n"] >= min_bucket and r["bleu"] is not None]
    if len(rows) < 2:
        return None
    short, long = rows[0], rows[-1]
    drop = (short["bleu"] - long["bleu"]) / short["bleu"] if short["bleu"] > 0 else 0.0
    return {"short": short["bucket"], "long": long["bucket"], "bleu_short": short["bleu"],
            "bleu_long": long["bleu"], "relative_drop": drop}


def check_claim(claim: dict, metrics: dict[str, dict], settings: dict, bootstrap) -> dict:
    """One verdict: ``{id, statement, source, verdict, evidence}``; verdict is reproduced,
    not reproduced, or not checked (a model is missing)."""
    kind = claim["kind"]
    names = [claim["model"], claim["than"]] if "than" in claim else claim["models"]
    result = {k: claim[k] for k in ("id", "statement", "source")}
    missing = [n for n in names if n not in metrics]
    if missing:
        return {**result, "verdict": "not checked", "evidence": f"no metrics for {', '.join(missing)}"}
    margin, tolerance = settings["far_below_margin"], settings["match_tolerance"]
    min_bucket = settings["min_bucket_sentences"]
    if kind in ("far_below", "at_least"):
        a, b = metrics[claim["model"]][claim["metric"]], metrics[claim["than"]][claim["metric"]]
        na, nb = PAPER_NAMES[claim["model"]], PAPER_NAMES[claim["than"]]
        if kind == "far_below":
            ok = a <= b - margin
            evidence = f"{na} {a:.2f} vs {nb} {b:.2f}: difference {b - a:.2f} (needs >= {margin})"
        else:
            ok = a >= b - tolerance
            evidence = f"{na} {a:.2f} vs {nb} {b:.2f}: difference {a - b:+.2f} (needs >= {-tolerance})"
            if bootstrap is not None:
                test = bootstrap(claim["than"], claim["model"])
                result["significance"] = test
                better = "better" if a > b else "worse" if a < b else "equal"
                significant = a != b and test["p_value"] < settings["significance_level"]
                evidence += (f"; paired bootstrap ({test['resamples']} resamples): {na} is {better}, "
                             f"p = {test['p_value']:.4f}, "
                             f"{'significant' if significant else 'not significant'} at {settings['significance_level']}")
    elif kind == "degrades_less":
        da = length_drop(metrics[claim["model"]]["bleu_by_length"], min_bucket)
        db = length_drop(metrics[claim["than"]]["bleu_by_length"], min_bucket)
        if da is None or db is None:
            return {**result, "verdict": "not checked", "evidence": "fewer than two populated length buckets"}
        ok = da["relative_drop"] < db["relative_drop"]
        evidence = "; ".join(
            f"{PAPER_NAMES[n]} {d['bleu_short']:.1f} ({d['short']}) → {d['bleu_long']:.1f} ({d['long']}), "
            f"drop {100 * d['relative_drop']:.0f}%" for n, d in ((claim["model"], da), (claim["than"], db)))
    elif kind == "degrades":
        drops = {n: length_drop(metrics[n]["bleu_by_length"], min_bucket) for n in names}
        if any(d is None for d in drops.values()):
            return {**result, "verdict": "not checked", "evidence": "fewer than two populated length buckets"}
        ok = all(d["bleu_long"] < d["bleu_short"] for d in drops.values())
        evidence = "; ".join(f"{PAPER_NAMES[n]} {d['bleu_short']:.1f} ({d['short']}) → {d['bleu_long']:.1f} "
                             f"({d['long']})" for n, d in drops.items())
    else:
        raise ValueError(f"claim {claim['id']!r}: unknown kind {kind!r}")
    return {**result, "verdict": "reproduced" if ok else "not reproduced", "evidence": evidence}


def check_claims(path: str | Path, metrics: dict[str, dict], settings: dict, bootstrap=None) -> list[dict]:
    claims = yaml.safe_load(Path(path).read_text())["claims"]
    return [check_claim(c, metrics, settings, bootstrap) for c in claims]
