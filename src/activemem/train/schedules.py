"""The two schedules of the original recipe [K]: scheduled sampling and learning-rate decay on plateau."""

from __future__ import annotations


def sampling_rate(step: int, start_rate: float, max_rate: float, double_every: float) -> float:
    """Probability of feeding the model its own previous output (Extended Neural GPU).

    Starts at ``start_rate`` and doubles every ``double_every`` steps up to ``max_rate``; the original
    code used 0.005 → 0.1, doubling every 100k steps.
    """
    return min(max_rate, start_rate * 2.0 ** (step / double_every))


def plateau_decay(history: list[float], window: int) -> bool:
    """Decay the learning rate when the newest dev perplexity is worse than all of the ``window``
    before it (the original code compared with the max of the last 5 checkpoints)."""
    return len(history) > window and history[-1] > max(history[-window - 1:-1])
