"""The authors' length curriculum [K]: train on short pairs first, widen while the model copes.

In the 2017 trainer the widest bucket allowed starts at 17 and grows by one every
``steps_per_checkpoint`` (100) steps whenever the training perplexity over those steps is below
``curriculum_ppx`` (9.9); there is no upper cap. Here the same rule admits a batch only when its
bucket edge is within the current width (the smallest bucket is always admitted, so training never
stalls when the buckets are coarser than one token). The curriculum's state lives in the training
state, so a resumed run widens exactly as an uninterrupted one.
"""

from __future__ import annotations

import math

from activemem.schema import Curriculum


def start(settings: Curriculum | None) -> dict:
    """The curriculum's part of the training state (``{}`` when the curriculum is off)."""
    if not settings:
        return {}
    return {"width": settings.start_width, "nll": 0.0, "tokens": 0}


def admits(state: dict, edge: int, smallest_edge: int) -> bool:
    """``smallest_edge``: the narrowest bucket that holds training pairs, always admitted."""
    return not state or edge <= max(state["width"], smallest_edge)


def record(state: dict, settings: Curriculum | None, step: int, nll: float, tokens: int) -> None:
    """Add one step's training NLL; every ``every`` steps widen by one if perplexity is low enough."""
    if not state:
        return
    state["nll"] += nll
    state["tokens"] += tokens
    if step % settings.every == 0:
        if math.exp(state["nll"] / max(state["tokens"], 1)) < settings.max_perplexity:
            state["width"] += 1
        state["nll"], state["tokens"] = 0.0, 0
