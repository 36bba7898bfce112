"""Learning-rate decay for the positive control (``benchmarks/neural_gpu_control.py``), two ways.

- **Settle phases** [U]: once the length curriculum has reached its top size, train ``settle_steps`` more
  at the base lr, then each lr of ``lrs`` in turn for ``phase_steps`` steps, then stop. This is the
  hand-made step decay of runs G and H (``docs/neural-gpu-control.md``) made automatic: at a constant lr
  the model collapsed ~1600 steps after reaching the top size, and each 10× lower phase raised the long test.
- **The 2015 trainer's rule** [K]: at every check, if the training perplexity since the last check
  exceeds the largest of the previous ``window`` checks', multiply the lr by ``factor`` (the 2015 code:
  0.98 over 3 checkpoints of 200 steps; the 2017 code: 0.995 over 5 of 100, ``docs/original-code.md``
  §2.6). ``factor`` 1.0 switches it off.

Both are pure functions of a small state (plain dicts, carried by the checkpoint), so a resumed run
decays exactly as an uninterrupted one.
"""

from __future__ import annotations

import math


def steps_at_top(grown_at: list[int], size: int, top: int, step: int) -> int | None:
    """How many steps (this one included) the curriculum has been at ``top``; None while below it.

    The curriculum grows at the end of a step, so step ``grown_at[-1] + 1`` is the first one at the top;
    a curriculum that started at the top counts from step 0."""
    if size < top:
        return None
    return step - (grown_at[-1] if grown_at else 0)


def settle_lr(base_lr: float, at_top: int | None, settle_steps: int, lrs: list[float], phase_steps: int) -> float:
    """The schedule's lr for a step ``at_top`` steps into the top size (None: not there yet)."""
    if at_top is None or at_top <= settle_steps or not lrs:
        return base_lr
    phase = (at_top - 1 - settle_steps) // phase_steps
    return lrs[min(phase, len(lrs) - 1)]


def settle_total(settle_steps: int, lrs: list[float], phase_steps: int) -> int:
    """Steps at the top size after which the schedule is done (0: never, run to ``max_steps``)."""
    return settle_steps + len(lrs) * phase_steps


def settled(at_top: int | None, settle_steps: int, lrs: list[float], phase_steps: int) -> bool:
    total = settle_total(settle_steps, lrs, phase_steps)
    return bool(total) and at_top is not None and at_top >= total


def plateau_start() -> dict:
    """The 2015 rule's state: the last checks' training perplexities, the lr scale, where it decayed."""
    return {"history": [], "scale": 1.0, "decayed_at": [], "loss": 0.0, "n": 0}


def plateau_record(state: dict, loss: float) -> None:
    """One step's training loss (mean cross-entropy per symbol) towards the next check's perplexity."""
    state["loss"] += loss
    state["n"] += 1


def plateau_check(state: dict, step: int, factor: float, window: int) -> bool:
    """At a check: decay the lr scale by ``factor`` if this perplexity exceeds the last ``window``'s.

    Returns whether it decayed; the loss sum restarts either way. Like the 2015 code, no decay until
    ``window`` earlier checks exist."""
    if not state["n"]:
        return False
    perplexity = math.exp(min(state["loss"] / state["n"], 50.0))
    history = state["history"]
    decayed = len(history) >= window and perplexity > max(history[-window:]) and factor != 1.0
    if decayed:
        state["scale"] *= factor
        state["decayed_at"].append(step)
    history.append(perplexity)
    del history[:-window]  # only the last ``window`` are ever compared
    state["loss"], state["n"] = 0.0, 0
    return decayed
