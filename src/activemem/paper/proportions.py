"""The difference of two independent proportions with an interval fit for small counts.

The agreement claim compares error rates of 2 or 3 errors in a few hundred noun phrases. The normal
approximation (Wald) interval of such a difference is centred on the estimate with a symmetric width
from ``p(1 − p)/n``: at 2 or 3 errors it is too narrow, and it can reach below zero errors. Newcombe's
*hybrid score* interval (R. G. Newcombe, "Interval estimation for the difference between independent
proportions: comparison of eleven methods", Statistics in Medicine 17:873–890, 1998, method 10) is
built from each proportion's Wilson score interval ``[l, u]``:

    δ = p₁ − p₂
    lower = δ − √((p₁ − l₁)² + (u₂ − p₂)²)
    upper = δ + √((u₁ − p₁)² + (p₂ − l₂)²)

It keeps close to its nominal coverage down to zero successes, stays inside [−1, 1], and is what
Newcombe recommends among the eleven methods he compared. Wilson's interval is the one the algorithmic
scale already uses (``evaluate/sequence_accuracy.py``).
"""

from __future__ import annotations

import math

from activemem.evaluate.sequence_accuracy import wilson


def newcombe(x1: int, n1: int, x2: int, n2: int, level: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``x1/n1 − x2/n2`` at confidence ``level``."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"a proportion needs at least one item, got {n1} and {n2}")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, level)
    l2, u2 = wilson(x2, n2, level)
    delta = p1 - p2
    return (delta - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            delta + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
