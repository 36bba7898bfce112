"""Several training seeds: every number as mean ± sd, and claims that must hold for every seed.

``params.yaml`` ``seeds`` lists the training seeds; each (model, seed) is its own training and
evaluation job, with results under ``results/<scale>/<model>/seed<k>/``. The seed changes the
initial weights and the order of the training batches; the data, the test set and the bootstrap
draws stay the same, so the seeds' spread is the spread of training alone.

- ``pooled`` turns one model's per-seed metrics into one metrics dict: every measured real number
  (BLEU, perplexity, length ratio, agreement error rate, BLEU by length, …) is the mean over the
  seeds, and ``spread`` holds the sample standard deviation under the same dotted key
  (``bleu``, ``bleu_by_length.2.bleu``). Integers are counts: parameters, steps and sentences must
  agree between seeds; other counts (e.g. agreement errors) are the first seed's. The step scored and
  the training FLOPs (``MEASURED_INTEGERS``) are measurements: a run that stops by patience stops where
  its seed takes it, so they are pooled like BLEU.
- ``across_seeds`` turns the claims checked on each seed into one verdict per claim: a claim is
  reproduced (or not reproduced) only if every seed says so; seeds that disagree make it
  inconclusive, and the evidence lists every seed's. A claim not applicable to the data (the same
  for every seed) or not checked in some seed stays so: the other seeds cannot decide it alone.
With one seed both are the identity, so a one-seed run reads exactly as before.
"""

from __future__ import annotations

import statistics

from activemem.paper.claims import INCONCLUSIVE, NOT_APPLICABLE, NOT_CHECKED
from activemem.paper.tables import value

SEED_FOLDER = "seed{seed}"
# Integers that are measurements, not counts: a run that stops by patience stops where its seed takes it
MEASURED_INTEGERS = ("selected.step", "selected.flops", "train_flops")


def run_folder(model: str, seed: int) -> str:
    """``<model>/seed<k>``: where a (model, seed) run keeps its results under results/<scale>."""
    return f"{model}/{SEED_FOLDER.format(seed=seed)}"


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _pool(values: list, key: str, spread: dict):
    """Mean of a measured real number (a float in some seed: 14 and 14.5 are one BLEU) with its sd
    in ``spread``; mappings and equal-length lists element by element; anything else the first's."""
    first = values[0]
    if all(_is_number(v) for v in values) and (any(isinstance(v, float) for v in values) or key in MEASURED_INTEGERS):
        spread[key] = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values)
    if all(isinstance(v, dict) for v in values):
        keys = [k for k in first if all(k in v for v in values)]
        return {k: _pool([v[k] for v in values], f"{key}.{k}" if key else k, spread) for k in keys}
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return [_pool([v[i] for v in values], f"{key}.{i}", spread) for i in range(len(first))]
    return first  # counts, names, signatures, provenance: the first seed's (checked equal where it matters)


def pooled(model: str, runs: dict[int, dict]) -> dict:
    """One metrics dict for ``model`` from its ``runs`` {seed: metrics}: means, ``spread`` (sd) and
    ``seeds``. Counts that differ between seeds mean the runs are not comparable: ValueError."""
    seeds = sorted(runs)
    for key in ("parameters", "test_sentences", "train_max_steps"):
        found = {runs[s].get(key) for s in seeds}
        if len(found) > 1:
            raise ValueError(f"{model}: the seeds' runs differ in {key} ({sorted(map(str, found))}): they are "
                             f"not runs of one setting and cannot be averaged")
    spread: dict[str, float] = {}
    metrics = _pool([runs[s] for s in seeds], "", spread)
    metrics["seeds"] = seeds
    metrics["spread"] = spread if len(seeds) > 1 else {}
    for prefix in ("", "extrapolation."):  # BLEU by length rows carry their own sd for the figure
        for i, row in enumerate((value(metrics, prefix + "bleu_by_length") or []) if metrics["spread"] else []):
            row["sd"] = spread.get(f"{prefix}bleu_by_length.{i}.bleu")
    metrics["truncated"] = any(runs[s].get("truncated") for s in seeds)
    metrics["train_steps"] = min(runs[s]["train_steps"] for s in seeds)
    return metrics


def across_seeds(per_seed: dict[int, list[dict]]) -> list[dict]:
    """One claim list from the claims checked on each seed's runs (same claims, same order)."""
    seeds = sorted(per_seed)
    if len(seeds) == 1:
        return per_seed[seeds[0]]
    combined = []
    for i, first in enumerate(per_seed[seeds[0]]):
        claims = {s: per_seed[s][i] for s in seeds}
        verdicts = {s: c["verdict"] for s, c in claims.items()}
        claim = {**first, "per_seed": {str(s): verdicts[s] for s in seeds}}
        claim["evidence"] = " | ".join(f"seed {s}: {c['evidence']}" for s, c in claims.items())
        if len({c.get("budget") for c in claims.values()}) > 1:  # seeds stop at different steps, or not at all
            claim["budget"] = " | ".join(f"seed {s}: {c.get('budget')}" for s, c in claims.items())
        if len(set(verdicts.values())) > 1:
            claim["verdict"] = next((v for v in (NOT_APPLICABLE, NOT_CHECKED) if v in verdicts.values()), INCONCLUSIVE)
            counts = ", ".join(f"{sum(v == w for v in verdicts.values())} {w}" for w in sorted(set(verdicts.values())))
            claim["reason"] = f"seeds disagree: {counts}"
        combined.append(claim)
    return combined
