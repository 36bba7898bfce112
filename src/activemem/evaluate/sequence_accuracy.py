"""Scores of the algorithmic tasks: sequence accuracy, per-symbol error rate and a Wilson interval.

An answer has one right form, so BLEU (partial n-gram credit) would hide exactly what matters; the
Neural GPU papers report the share of wholly right answers and the share of wrong symbols.

- **sequence accuracy**: the share of hypotheses equal to their reference, symbol for symbol and of
  the same length;
- **per-symbol error rate**: over every reference symbol, the share whose position in the
  hypothesis holds another symbol or nothing (a hypothesis too short misses its tail). Symbols a
  hypothesis writes beyond its reference are not counted here (sequence accuracy counts them), so the
  rate stays within [0, 1];
- **Wilson score interval** of a proportion: unlike the normal approximation it stays inside [0, 1]
  and is not empty at 0 or n successes, where these tasks' accuracies often lie.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def symbol_errors(hypothesis: list[str], reference: list[str]) -> int:
    """Reference positions the hypothesis gets wrong (a missing symbol is wrong)."""
    return sum(i >= len(hypothesis) or hypothesis[i] != r for i, r in enumerate(reference))


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / trials`` at confidence ``level``; (0, 1) without trials."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def score(hypotheses: list[str], references: list[str], level: float = 0.95) -> dict:
    """Both scores of one split (lines of symbols separated by spaces), with the accuracy's interval."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    hyps = [h.split() for h in hypotheses]
    refs = [r.split() for r in references]
    correct = sum(h == r for h, r in zip(hyps, refs))
    errors = sum(symbol_errors(h, r) for h, r in zip(hyps, refs))
    symbols = sum(map(len, refs))
    lo, hi = wilson(correct, len(refs), level)
    return {"sequences": len(refs), "correct": correct, "accuracy": correct / max(len(refs), 1),
            "accuracy_interval": [lo, hi], "interval_level": level,
            "symbols": symbols, "symbol_errors": errors, "symbol_error_rate": errors / max(symbols, 1)}
