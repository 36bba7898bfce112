"""The paper's Figure 6 (BLEU by source-sentence length) and the learning curves, with matplotlib.

Readable without colour, as the paper's reviewers asked: every model has its own marker *and* line
style (its registry entry's ``style``), and the palette is one a greyscale print still separates. A length bucket holding fewer than
``report.min_bucket_sentences`` sentences is drawn with a hollow marker (and a legend entry says
so): its BLEU rests on too few sentences to read much into it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from activemem import models  # noqa: E402
from activemem.atomic import open_atomic  # noqa: E402
from activemem.paper.provenance import figure_metadata, footer  # noqa: E402

OTHER = models.Style("x", "-", "0.5")  # a name outside the registry


def _style(name: str) -> dict:
    """Each model's marker, line style and grey level come from its registry entry."""
    marker, line, grey = models.REGISTRY[name].style if name in models.REGISTRY else OTHER
    return {"marker": marker, "linestyle": line, "color": grey, "label": models.label(name),
            "linewidth": 1.8, "markersize": 6}


def save(fig, stem: Path, facts: dict | None = None, title: str = "") -> list[Path]:
    """``stem.png`` and ``stem.pdf``, with the provenance footer and metadata when ``facts`` is given.

    Byte-reproducible: no creation date is written and the metadata holds only the inputs' facts.
    """
    meta = figure_metadata(facts, title) if facts else {"png": {}, "pdf": {"CreationDate": None}}
    if facts:  # below the axes, where it never covers data
        fig.text(0.01, 0.005, footer(facts), fontsize=6, color="0.35", ha="left", va="bottom")
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for p in paths:
        with open_atomic(p, binary=True) as f:
            fig.savefig(f, format=p.suffix[1:], dpi=150, bbox_inches="tight", metadata=meta[p.suffix[1:]])
    plt.close(fig)
    return paths


def bleu_by_length_figure(series: dict[str, list[dict]], stem: Path, title: str,
                          facts: dict | None = None, min_sentences: int | None = None) -> list[Path]:
    """``series[model]`` is a ``bleu_by_length`` list (of evaluation.json or its extrapolation block);
    rows pooled over several seeds carry ``sd``, drawn as error bars. Buckets of fewer than
    ``min_sentences`` sentences get hollow markers."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    any_few = False
    for name, rows in series.items():
        rows = [r for r in rows if r["n"] > 0 and r["bleu"] is not None]
        x, y = [r["bucket"] for r in rows], [r["bleu"] for r in rows]
        if any(r.get("sd") is not None for r in rows):
            ax.errorbar(x, y, yerr=[r.get("sd") or 0.0 for r in rows], capsize=3, **_style(name))
        else:
            ax.plot(x, y, **_style(name))
        few = [i for i, r in enumerate(rows) if min_sentences is not None and r["n"] < min_sentences]
        if few:  # drawn over the filled marker: hollow, the line's colour as its edge
            any_few = True
            style = _style(name)
            ax.plot([x[i] for i in few], [y[i] for i in few], linestyle="none", marker=style["marker"],
                    markersize=style["markersize"], markeredgecolor=style["color"], markerfacecolor="white",
                    zorder=3)
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel("BLEU")
    ax.set_title(title, fontsize=10)
    ax.grid(True, color="0.9")
    handles, labels = ax.get_legend_handles_labels()
    if any_few:
        handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="0.3"))
        labels.append(f"hollow: < {min_sentences} sentences")
    ax.legend(handles, labels, frameon=False, fontsize=8)
    fig.subplots_adjust(bottom=0.16)
    return save(fig, stem, facts, title)


# the x axes of the learning curves: the dev log's column and its label (train/loop.py DEV_FIELDS)
CURVE_AXES = (("step", "training step"), ("flops", "training FLOPs (counted)"), ("train_seconds", "training seconds"))


def learning_curves_figure(logs: dict[str, tuple[pd.DataFrame, pd.DataFrame]], stem: Path,
                           facts: dict | None = None, scored: dict[str, int] | None = None) -> list[Path]:
    """Dev perplexity (top row) and greedy dev BLEU (bottom row, where training measured it) against
    steps, training FLOPs and seconds of training, one line per model; a star marks the step whose
    weights were scored (``scored``: model → step). A dev log without a column leaves its axis out."""
    devs = {name: dev for name, (_, dev) in logs.items()}
    axes_x = [(column, text) for column, text in CURVE_AXES if all(column in dev for dev in devs.values())]
    bleu = any("dev_bleu" in dev and dev["dev_bleu"].notna().any() for dev in devs.values())
    fig, axes = plt.subplots(1 + bleu, len(axes_x), figsize=(3.4 * len(axes_x), 3.0 * (1 + bleu)), squeeze=False)
    for name, dev in devs.items():
        rows = [("dev_perplexity", dev)] + ([("dev_bleu", dev.dropna(subset=["dev_bleu"]))] if bleu else [])
        at = dev[dev["step"] == (scored or {}).get(name)]
        for i, (y, points) in enumerate(rows):
            for j, (x, _) in enumerate(axes_x):
                axes[i][j].plot(points[x], points[y], **_style(name))
                if y == "dev_perplexity" and len(at):
                    axes[i][j].plot(at[x], at[y], marker="*", markersize=11, color=_style(name).get("color"),
                                    linestyle="none")
    for j, (x, text) in enumerate(axes_x):
        axes[-1][j].set_xlabel(text)
        for i in range(1 + bleu):
            axes[i][j].grid(True, color="0.9")
            if x == "flops":
                axes[i][j].set_xscale("log")
        axes[0][j].set_yscale("log")
    axes[0][0].set_ylabel("dev perplexity (per sub-word)")
    if bleu:
        axes[1][0].set_ylabel("dev BLEU (greedy)")
    axes[0][-1].legend(frameon=False, fontsize=7)
    fig.subplots_adjust(bottom=0.16 if not bleu else 0.1, hspace=0.3, wspace=0.3)
    return save(fig, stem, facts, "Learning curves against compute")
