"""``paper/claims.yaml`` checked against the regenerated metrics, the way a reviewer would check them.

Every claim compares numbers measured on the *same* sentences: two models on the whole test set, or
two models on one length bucket. A relative drop from one model's base to another's is never used:
a model at 9 BLEU cannot lose as much as one at 86, so such a comparison says nothing about which
model handles long sentences better.

Each comparison is a quantity (a BLEU difference, a change of a difference, an error-rate gap) held
against a threshold from ``params.yaml`` ``report:``, with a bootstrap interval (``bootstrap.py``)
at level ``report.significance_level``:

- **reproduced**: the measured value and its whole interval are on the claim's side;
- **not reproduced**: the measured value and its whole interval are on the other side;
- **inconclusive**: the interval straddles the threshold (this test set cannot tell), or the BLEU
  values compared are all below ``report.floor_bleu``: two models at 0.00 and 0.04 BLEU have both
  failed, and which one "matches" the other says nothing (``reason`` says so);
- **not applicable**: the run's test data cannot support the claim at all, whatever the models do
  (a claim's ``needs`` in claims.yaml: several references per sentence, the agreement diagnostic's
  noun-phrase records; WMT has neither). ``reason`` names the data;
- **not checked**: a model or a metric of the claim is not in this run (``reason`` says which).

The floor applies to every BLEU comparison: the two models' BLEU (``far_below``, ``at_least`` on a
BLEU metric), the two models' BLEU on the longest bucket (``degrades_less``), and one model's BLEU on
the shortest and the longest bucket (``degrades_more``: that model's part is inconclusive).

Without per-sentence data (hypotheses) the verdict rests on the measured value alone, and the
evidence says so. Every verdict carries the run's ``budget``: scale, steps trained of the maximum,
how each model involved stopped and whether it converged (``convergence.py``), the step scored and
its parameter count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import numpy as np
import yaml

from activemem import models
from activemem.paper import convergence
from activemem.paper.bootstrap import Sentences, interval
from activemem.paper.proportions import newcombe
from activemem.paper.tables import value as lookup

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_CHECKED = ("reproduced", "not reproduced", "inconclusive",
                                                         "not checked")
NOT_APPLICABLE = "not applicable"
# fields each kind needs in claims.yaml
KINDS = {
    "far_below": ("metric", "model", "than"),
    "at_least": ("metric", "model", "than"),
    "degrades_less": ("model", "than"),
    "degrades_more": ("models", "than"),
    "rate_above": ("metric", "models", "than"),
}
# what a claim may need of the test data (claims.yaml ``needs``), and what that means
NEEDS = {"multiple_references": "several references per test sentence",
         "agreement": "the agreement diagnostic's noun-phrase records"}


@dataclass(frozen=True)
class AvailableData:
    """What the run's test split offers the claims (from the prepare stage's manifest.json)."""

    name: str           # "WMT'14 newstest2014", "the demo test split"
    references: int     # reference streams per sentence
    noun_phrases: bool  # noun-phrase records (the agreement diagnostic)

    def lacks(self, need: str) -> str | None:
        """Why this test data cannot support ``need``; None when it can."""
        if need == "multiple_references" and self.references < 2:
            return f"{self.name} has one reference per sentence"
        if need == "agreement" and not self.noun_phrases:
            return f"{self.name} has no noun-phrase records"
        return None


def label(name: str) -> str:
    return models.label(name)


def verdict(value: float, threshold: float, bounds: tuple[float, float] | None) -> str:
    """Is ``value`` above ``threshold``, and does its interval ``bounds`` agree?"""
    if bounds is None:
        return REPRODUCED if value > threshold else NOT_REPRODUCED
    lo, hi = bounds
    if value > threshold and lo > threshold:
        return REPRODUCED
    if value <= threshold and hi <= threshold:
        return NOT_REPRODUCED
    return INCONCLUSIVE


def combine(verdicts: list[str]) -> str:
    """A claim made of several conditions holds only if each does."""
    for v in (NOT_REPRODUCED, INCONCLUSIVE):
        if v in verdicts:
            return v
    return REPRODUCED


def fmt_interval(bounds: tuple[float, float] | None, digits: int = 1) -> str:
    return "" if bounds is None else f" [{bounds[0]:+.{digits}f}, {bounds[1]:+.{digits}f}]"


def budget(scale: str, names: list[str], metrics: dict[str, dict]) -> str:
    """``scale demo: Extended Neural GPU stopped at the step cap (600/600 steps), still improving at its
    last evaluation: not converged, scored at step 600, 236,512 parameters; …``. How each model stopped
    and whether it converged (``convergence.py``: the run's dev log, attached as ``convergence``, else
    its evaluation.json), the step scored and its size. The scale's name is marked as one: a scale
    called ``converged`` does not make its models converged."""
    parts = []
    for n in names:
        m = metrics[n]
        stopped = (m.get("convergence") or convergence.status(m))["text"]
        scored = lookup(m, "selected.step")
        at = f", scored at step {scored:.0f}" if scored is not None else ""
        parts.append(f"{label(n)} {stopped}{at}, {m['parameters']:,} parameters")
    return f"scale {scale}: " + "; ".join(parts)


def size_gap(metrics: dict[str, dict], a: str, b: str) -> dict:
    """Both models' parameter counts and their ratio (larger / smaller), and a sentence saying whether
    the comparison is between models of one size: a BLEU gap between a 197k and a 481k model is also
    a gap in size, which a reader must not take for the architecture alone."""
    pa, pb = metrics[a]["parameters"], metrics[b]["parameters"]
    big, small = (b, a) if pb >= pa else (a, b)
    ratio = max(pa, pb) / min(pa, pb)
    counts = f"{label(a)} {pa:,} parameters, {label(b)} {pb:,}"
    if round(ratio, 2) <= 1.1:  # within 10%: the size-matched models of every scale
        text = f"sizes: {counts} (ratio {ratio:.2f}: about one size)"
    else:
        text = (f"not a same-size comparison: {counts}; the {label(big)} is {ratio:.2f}× the "
                f"{label(small)}'s size")
    return {"parameters": {a: pa, b: pb}, "ratio": ratio, "text": text}


def count_of(metrics: dict, parent: str, rate: float, checked: int) -> int:
    """How many of the ``checked`` items a rate counts: ``<parent>.errors`` where recorded, else the rate's."""
    recorded = lookup(metrics, f"{parent}.errors")
    return int(recorded) if recorded is not None else round(rate * checked)


def populated_buckets(metrics: dict[str, dict], names: list[str], min_bucket: int) -> list[dict]:
    """The length buckets holding at least ``min_bucket`` sentences with a BLEU for every model."""
    first = metrics[names[0]]["bleu_by_length"]
    for n in names[1:]:
        if [r["n"] for r in metrics[n]["bleu_by_length"]] != [r["n"] for r in first]:
            raise ValueError(f"the length buckets of {names[0]} and {n} hold different sentence counts: "
                             f"their metrics come from different test sets")
    return [{"bucket": r["bucket"], "lo": r["lo"], "hi": r["hi"], "n": r["n"], "key": i + 1}
            for i, r in enumerate(first)
            if r["n"] >= min_bucket and all(m["bleu_by_length"][i]["bleu"] is not None
                                            for m in (metrics[n] for n in names))]


def bucket_bleu(metrics: dict, bucket: dict) -> float:
    return next(r["bleu"] for r in metrics["bleu_by_length"] if r["bucket"] == bucket["bucket"])


def is_bleu(metric: str) -> bool:
    return metric.startswith("bleu")


class Checker:
    """Checks claims against one run: ``metrics`` per model, optional per-sentence ``sentences``,
    and what the test data offers (``available``; None: unknown, every claim is applicable)."""

    def __init__(self, metrics: dict[str, dict], settings: dict, sentences: dict[str, Sentences], scale: str,
                 available: AvailableData | None = None):
        self.metrics, self.settings, self.scale, self.available = metrics, settings, scale, available
        self.by_metric = sentences               # BLEU-like metric -> its per-sentence statistics
        self.sentences = sentences.get("bleu")   # the length claims use Table 1's BLEU
        self.level = settings["significance_level"]
        self.method = (f"{100 * (1 - self.level):g}% bootstrap intervals, {self.sentences.resamples} resamples"
                       if self.sentences else "measured values only: no per-sentence data, no intervals")

    def bounds(self, samples: np.ndarray | None) -> tuple[float, float] | None:
        return None if samples is None else interval(samples, self.level)

    def diff_bounds(self, a: str, b: str, bucket: dict | None = None, metric: str = "bleu"):
        """Paired interval of BLEU(a) − BLEU(b), on the whole test set or one bucket; no interval
        for a metric without per-sentence statistics."""
        sentences = self.by_metric.get(metric)
        if sentences is None:
            return None, None
        members = sentences.members() if bucket is None else sentences.members(bucket["lo"], bucket["hi"])
        samples = sentences.difference_samples(a, b, members, 0 if bucket is None else bucket["key"])
        return samples, self.bounds(samples)

    def at_floor(self, *bleu: float) -> bool:
        """Every BLEU value of a comparison below ``floor_bleu``: no model has learnt enough to compare."""
        return max(bleu) < self.settings["floor_bleu"]

    def floored(self, result: dict, who: str, where: str = "") -> dict:
        """``result`` made inconclusive, the reason stated: ``who`` is below the floor ``where``."""
        reason = f"{who} below {self.settings['floor_bleu']:g} BLEU{where}"
        return {**result, "verdict": INCONCLUSIVE, "reason": reason, "evidence": f"{result['evidence']}; {reason}"}

    # ---- kinds -----------------------------------------------------------------------------------
    def far_below(self, c: dict) -> dict:
        """metric(model) at least ``far_below_margin`` below metric(than)."""
        margin = self.settings["far_below_margin"]
        a, b = self.metrics[c["model"]][c["metric"]], self.metrics[c["than"]][c["metric"]]
        _, bounds = self.diff_bounds(c["than"], c["model"], metric=c["metric"])
        v = verdict(b - a, margin - 1e-12, bounds)  # "at least margin": equal counts
        sizes = size_gap(self.metrics, c["model"], c["than"])
        out = {"verdict": v, "numbers": {"difference": b - a, "interval": bounds, "threshold": margin,
                                         "parameters": sizes["parameters"], "size_ratio": sizes["ratio"]},
               "evidence": f"{label(c['model'])} {a:.2f} vs {label(c['than'])} {b:.2f}: "
                           f"{label(c['than'])} higher by {b - a:.2f}{fmt_interval(bounds, 2)} "
                           f"(needs >= {margin:g}); {sizes['text']}"}
        return self.floored(out, "both models") if is_bleu(c["metric"]) and self.at_floor(a, b) else out

    def at_least(self, c: dict) -> dict:
        """metric(model) at most ``match_tolerance`` below metric(than): matches or beats it."""
        tolerance = self.settings["match_tolerance"]
        a, b = self.metrics[c["model"]][c["metric"]], self.metrics[c["than"]][c["metric"]]
        _, bounds = self.diff_bounds(c["model"], c["than"], metric=c["metric"])
        v = verdict(a - b, -tolerance - 1e-12, bounds)
        out = {"verdict": v, "numbers": {"difference": a - b, "interval": bounds, "threshold": -tolerance},
               "evidence": f"{label(c['model'])} {a:.2f} vs {label(c['than'])} {b:.2f}: difference "
                           f"{a - b:+.2f}{fmt_interval(bounds, 2)} (needs >= {-tolerance:g})"}
        return self.floored(out, "both models") if is_bleu(c["metric"]) and self.at_floor(a, b) else out

    def degrades_less(self, c: dict) -> dict:
        """On the same sentences, the (model − than) BLEU gap is (1) not below ``-match_tolerance`` on
        the longest populated bucket — the model stays at or above the other on long sentences, as in
        the paper's Figure 6 — and (2) larger there than on the shortest bucket."""
        a, b = c["model"], c["than"]
        buckets = populated_buckets(self.metrics, [a, b], self.settings["min_bucket_sentences"])
        if len(buckets) < 2:
            return {"verdict": NOT_CHECKED, "reason": "fewer than two populated length buckets",
                    "evidence": f"needs two buckets of >= {self.settings['min_bucket_sentences']} sentences"}
        rows, samples = [], {}
        for bucket in buckets:
            bleu_a, bleu_b = bucket_bleu(self.metrics[a], bucket), bucket_bleu(self.metrics[b], bucket)
            samples[bucket["bucket"]], bounds = self.diff_bounds(a, b, bucket)
            rows.append({"bucket": bucket["bucket"], "n": bucket["n"], "bleu_model": bleu_a, "bleu_than": bleu_b,
                         "gap": bleu_a - bleu_b, "interval": bounds})
        short, long = rows[0], rows[-1]
        change = long["gap"] - short["gap"]
        change_samples = (None if self.sentences is None
                          else samples[long["bucket"]] - samples[short["bucket"]])  # independent draws
        change_bounds = self.bounds(change_samples)
        tolerance = self.settings["match_tolerance"]
        stays = verdict(long["gap"], -tolerance - 1e-12, long["interval"])
        grows = verdict(change, 0.0, change_bounds)
        v = combine([stays, grows])
        gap_text = "; ".join(f"{r['bucket']} words ({r['n']} sentences): {r['bleu_model']:.1f} − "
                             f"{r['bleu_than']:.1f} = {r['gap']:+.1f}{fmt_interval(r['interval'])}"
                             for r in (short, long))
        evidence = (f"{label(a)} − {label(b)} BLEU on the same sentences, {gap_text}. "
                    f"On the longest: {'at or above' if long['gap'] >= -tolerance else 'below'} "
                    f"(needs gap >= {-tolerance:g}); gap change {change:+.1f}{fmt_interval(change_bounds)} "
                    f"(needs > 0)")
        out = {"verdict": v, "evidence": evidence,
               "numbers": {"model": label(a), "than": label(b), "buckets": rows, "gap_change": change,
                           "gap_change_interval": change_bounds, "tolerance": tolerance}}
        if self.at_floor(long["bleu_model"], long["bleu_than"]):  # at the floor neither "holds up"
            return self.floored(out, "both models", " on the longest bucket")
        return out

    def degrades_more(self, c: dict) -> dict:
        """Each model loses more BLEU from the shortest to the longest populated bucket than ``than``
        does: (short − long of the model) − (short − long of ``than``) > 0, a difference of differences.
        Every model loses BLEU on long sentences, so a loss alone says nothing about the decoder; the
        comparison with a model that has attention does. On each bucket the two models are compared on
        the same sentences (paired draws); the two buckets hold different sentences (independent draws)."""
        than = c["than"]
        buckets = populated_buckets(self.metrics, [*c["models"], than], self.settings["min_bucket_sentences"])
        if len(buckets) < 2:
            return {"verdict": NOT_CHECKED, "reason": "fewer than two populated length buckets",
                    "evidence": f"needs two buckets of >= {self.settings['min_bucket_sentences']} sentences"}
        short, long = buckets[0], buckets[-1]
        base_short, base_long = bucket_bleu(self.metrics[than], short), bucket_bleu(self.metrics[than], long)
        base_drop = base_short - base_long
        verdicts, parts, numbers, floored = [], [], {}, []
        for n in c["models"]:
            s, l = bucket_bleu(self.metrics[n], short), bucket_bleu(self.metrics[n], long)
            more = (s - l) - base_drop
            short_samples, _ = self.diff_bounds(n, than, short)
            long_samples, _ = self.diff_bounds(n, than, long)
            bounds = None if short_samples is None else self.bounds(short_samples - long_samples)
            at_floor = self.at_floor(s, l)  # a model near zero BLEU on both buckets has nothing to lose
            floored += [label(n)] if at_floor else []
            verdicts.append(INCONCLUSIVE if at_floor else verdict(more, 0.0, bounds))
            numbers[n] = {"short": s, "long": l, "drop": s - l, "than_drop": base_drop, "more": more,
                          "interval": bounds}
            parts.append(f"{label(n)} {s:.1f} → {l:.1f}, loses {s - l:.1f}: {more:+.1f}{fmt_interval(bounds)} "
                         f"more than {label(than)}")
        out = {"verdict": combine(verdicts), "numbers": numbers,
               "evidence": (f"from {short['bucket']} words ({short['n']} sentences) to {long['bucket']} "
                            f"({long['n']}): {label(than)} {base_short:.1f} → {base_long:.1f}, loses "
                            f"{base_drop:.1f}; " + "; ".join(parts) + " (each needs more > 0)")}
        if floored and out["verdict"] == INCONCLUSIVE:
            return self.floored(out, ", ".join(floored), " on both buckets")
        return out

    def rate_above(self, c: dict) -> dict:
        """A rate (e.g. ``agreement.error_rate``) of each model is above that of ``than``. The counts
        are small (a few errors in a few hundred noun phrases), so the interval of the difference is
        Newcombe's hybrid score interval (``proportions.py``), from the items each model was checked
        on (``<metric's parent>.checked``) and its count (``.errors``, else rate × checked)."""
        parent = c["metric"].rsplit(".", 1)[0]
        than = self.metrics[c["than"]]
        base, base_n = lookup(than, c["metric"]), lookup(than, f"{parent}.checked")
        base_x = count_of(than, parent, base, base_n)
        verdicts, parts, numbers = [], [], {}
        for n in c["models"]:
            rate, checked = lookup(self.metrics[n], c["metric"]), lookup(self.metrics[n], f"{parent}.checked")
            x = count_of(self.metrics[n], parent, rate, checked)
            bounds = newcombe(x, checked, base_x, base_n, 1 - self.level)
            verdicts.append(verdict(rate - base, 0.0, bounds))
            numbers[n] = {"rate": rate, "checked": checked, "count": x, "difference": rate - base,
                          "interval": bounds}
            parts.append(f"{label(n)} {100 * rate:.1f}% ({x} of {checked}) vs {label(c['than'])} "
                         f"{100 * base:.1f}% ({base_x} of {base_n}): {100 * (rate - base):+.1f} points "
                         f"[{100 * bounds[0]:+.1f}, {100 * bounds[1]:+.1f}]")
        return {"verdict": combine(verdicts), "numbers": numbers,
                "evidence": "; ".join(parts) + " (needs > 0; Newcombe hybrid score interval)"}

    # ---- dispatch --------------------------------------------------------------------------------
    def missing(self, c: dict, names: list[str]) -> str | None:
        absent = [n for n in names if n not in self.metrics]
        if absent:
            return f"model missing: {', '.join(label(n) for n in absent)} not in this run"
        metric = c.get("metric")
        if c["kind"] == "rate_above":
            parent = metric.rsplit(".", 1)[0]
            needed = [metric, f"{parent}.checked"]
        elif c["kind"] in ("degrades_less", "degrades_more"):
            needed = ["bleu_by_length"]
        else:
            needed = [metric]
        keys = [k for k in needed if any(lookup(self.metrics[n], k) is None for n in names)]
        without = [label(n) for n in names if any(lookup(self.metrics[n], k) is None for k in needed)]
        if keys:
            return f"metric missing: no {', '.join(keys)} for {', '.join(without)}"
        if c["kind"] == "rate_above":
            empty = [label(n) for n in names if not lookup(self.metrics[n], needed[1])]
            if empty:
                return f"metric missing: nothing was checked ({needed[1]} = 0) for {', '.join(empty)}"
        return None

    def not_applicable(self, c: dict) -> str | None:
        """Why the test data cannot support the claim (its first unmet need), or None."""
        if self.available is None:
            return None
        return next((why for need in c.get("needs", []) if (why := self.available.lacks(need))), None)

    def check(self, c: dict) -> dict:
        names = [*c.get("models", [c.get("model")]), *([c["than"]] if "than" in c else [])]
        head = {k: c[k] for k in ("id", "statement", "source")}
        present = [n for n in names if n in self.metrics]
        why = self.not_applicable(c)
        if why:  # before "not checked": no model or metric could make this data check the claim
            needs = "; ".join(NEEDS[n] for n in c["needs"])
            return {**head, "verdict": NOT_APPLICABLE, "reason": why,
                    "evidence": f"the claim needs {needs}; {why}",
                    "budget": budget(self.scale, present, self.metrics), "method": self.method}
        reason = self.missing(c, names)
        if reason:
            short = "model missing" if reason.startswith("model missing") else "metric missing"
            return {**head, "verdict": NOT_CHECKED, "reason": short, "evidence": reason,
                    "budget": budget(self.scale, present, self.metrics), "method": self.method}
        result = getattr(self, c["kind"])(c)
        return {**head, **result, "budget": budget(self.scale, names, self.metrics), "method": self.method}


def load_claims(path: str | Path) -> list[dict]:
    """The claims of ``path``, each checked for an id, a known kind and that kind's fields."""
    path = Path(path)
    claims = (yaml.safe_load(path.read_text()) or {}).get("claims")
    if not isinstance(claims, list):
        raise ValueError(f"{path}: needs a list under 'claims'")
    for i, c in enumerate(claims):
        where = f"{path}: claim {c.get('id', i + 1) if isinstance(c, dict) else i + 1}"
        if not isinstance(c, dict) or not all(k in c for k in ("id", "statement", "source", "kind")):
            raise ValueError(f"{where}: needs id, statement, source and kind")
        if c["kind"] not in KINDS:
            raise ValueError(f"{where}: unknown kind {c['kind']!r}; known: {', '.join(KINDS)}")
        lacking = [k for k in KINDS[c["kind"]] if k not in c]
        if lacking:
            raise ValueError(f"{where}: kind {c['kind']} needs {', '.join(lacking)}")
        needs = c.get("needs", [])
        unknown = [n for n in needs if n not in NEEDS] if isinstance(needs, list) else [needs]
        if unknown:
            raise ValueError(f"{where}: needs must list some of {', '.join(NEEDS)}; got {', '.join(map(str, unknown))}")
    return claims


def check_claims(path: str | Path, metrics: dict[str, dict], settings: dict,
                 sentences: Sentences | dict[str, Sentences] | None = None, scale: str = "",
                 available: AvailableData | None = None) -> list[dict]:
    """Every claim of ``path`` checked: ``{id, statement, source, verdict, evidence, budget, method,
    numbers}`` plus ``reason`` when not applicable, not checked or inconclusive for a stated reason.
    ``sentences``: per-sentence statistics for ``bleu`` (and ``bleu_multi_ref`` where the test set has
    several references); a lone ``Sentences`` is Table 1's ``bleu``. ``available``: what the test split
    offers (None: unknown, no claim is ruled out for its data)."""
    if isinstance(sentences, Sentences):
        sentences = {"bleu": sentences}
    checker = Checker(metrics, settings, sentences or {}, scale, available)
    return [checker.check(c) for c in load_claims(path)]


def display_verdict(claim: dict) -> str:
    """``not checked (model missing)``: the verdict with its reason, as the report shows it."""
    return f"{claim['verdict']} ({claim['reason']})" if claim.get("reason") else claim["verdict"]
