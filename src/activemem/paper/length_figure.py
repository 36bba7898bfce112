"""The algorithmic scale's figure: sequence accuracy against input length, one panel per task.

Length on a log axis (the test lengths grow by factors, not steps) and the training lengths shaded,
so what a model does beyond what it was trained on is read at a glance. Each model keeps its registry
style (``figures._style``); with several seeds a point is their mean.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from activemem.paper.figures import _style, save


def accuracy_by_length_figure(series: dict[str, dict[str, list[tuple[int, float]]]], train_length: int,
                              stem: Path) -> list[Path]:
    """``series[model][task]``: ``(length, sequence accuracy)`` points; writes ``stem.png`` and ``.pdf``."""
    tasks = list(dict.fromkeys(task for by_task in series.values() for task in by_task))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.0 * len(tasks), 3.2), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        ax.axvspan(1, train_length, color="0.92", zorder=0, label="training lengths")
        for name, by_task in series.items():
            points = sorted(by_task.get(task, []))
            ax.plot([x for x, _ in points], [100 * y for _, y in points], **_style(name))
        ax.set_xscale("log")
        lengths = sorted({x for by_task in series.values() for x, _ in by_task.get(task, [])})
        ax.set_xlim(min([train_length / 2, *lengths]), max(lengths) * 1.3)
        ax.set_xticks(lengths, [str(x) for x in lengths])
        ax.minorticks_off()
        ax.set_ylim(-3, 103)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("input length (symbols)")
        ax.grid(True, color="0.9")
    axes[0][0].set_ylabel("sequence accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False, fontsize=8)
    fig.subplots_adjust(bottom=0.32, wspace=0.08)
    return save(fig, stem)
