"""The 2015 Neural GPU's length curriculum on training *sequence error* [K], with mixed-length sampling.

Kaiser & Sutskever 2016, "Neural GPUs Learn Algorithms", and their 2015–16 trainer (tensorflow/models
``neural_gpu/neural_gpu_trainer.py`` before 2017; ``docs/original-code.md`` §5 "2015 curriculum (B)"):

- the current length ``cur`` starts at ``start`` (6 in the code; shortest input 3);
- each step draws one length ``l ~ U[shortest, cur]``; with probability ``p_max_of_two`` (0.6)
  ``l = max(l, another draw)``; with probability ``p_mixed`` (0.25) ``l = max(l, U[shortest, longest])``
  ("mixed curriculum": a quarter of the batches may come from any length up to the longest);
  every batch holds pairs of that one length;
- every ``every`` steps (200 in the code), if the sequence error on the batches with ``l <= cur`` since
  the last check is below ``bound`` (0.15), ``cur += 1`` (up to ``longest``).

Lengths here are input lengths in symbols, marker left out (``data/algorithmic.py``). The state is a
plain dict so that a checkpoint carries it and a resumed run grows exactly as an uninterrupted one.
"""

from __future__ import annotations

import random


def start(first: int) -> dict:
    """The curriculum's state: current length, and the sequence errors counted since the last check."""
    return {"length": first, "wrong": 0, "seen": 0, "grown_at": []}


def sample_length(rng: random.Random, state: dict, shortest: int, longest: int,
                  p_max_of_two: float, p_mixed: float) -> int:
    """One batch's input length (the 2015 trainer's draw)."""
    cur = min(state["length"], longest)
    length = rng.randint(shortest, cur)
    if rng.random() < p_max_of_two:
        length = max(length, rng.randint(shortest, cur))
    if rng.random() < p_mixed:
        length = max(length, rng.randint(shortest, longest))
    return length


def record(state: dict, length: int, wrong: int, total: int) -> None:
    """Count one batch's wrong sequences, only when it lies inside the curriculum (``length <= cur``)."""
    if length <= state["length"]:
        state["wrong"] += wrong
        state["seen"] += total


def check(state: dict, step: int, bound: float, longest: int) -> bool:
    """At a check: grow by one if the sequence error since the last check is below ``bound``.

    Returns whether it grew; the counts restart either way."""
    grew = False
    state["last_error"] = round(state["wrong"] / state["seen"], 4) if state["seen"] else None
    if state["seen"] and state["wrong"] / state["seen"] < bound and state["length"] < longest:
        state["length"] += 1
        state["grown_at"].append(step)
        grew = True
    state["wrong"], state["seen"] = 0, 0
    return grew
