"""Table 1 from the regenerated metrics or from the published cells, through one Jinja template.

Both tables go through the same template and the same row order, so
``diff table1.published.md table1.md`` shows exactly the numbers that moved.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pandas as pd

from activemem.models import PAPER_NAMES

COLUMNS = ("perplexity", "log_perplexity", "bleu")
DIGITS = {"perplexity": 2, "log_perplexity": 3, "bleu": 1}
LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "<": r"$<$", ">": r"$>$"}


def metrics_frame(metrics: dict[str, dict]) -> pd.DataFrame:
    """One row per model (registry order) with the Table 1 columns, as numbers."""
    rows = [{"name": name, "model": PAPER_NAMES[name], **{c: metrics[name][c] for c in COLUMNS}}
            for name in PAPER_NAMES if name in metrics]
    return pd.DataFrame(rows).set_index("name")


def regenerated_rows(frame: pd.DataFrame) -> list[dict]:
    return [{"model": row["model"], **{c: f"{row[c]:.{DIGITS[c]}f}" for c in COLUMNS}}
            for _, row in frame.iterrows()]


def published_rows(published: dict, names: list[str]) -> list[dict]:
    return [{"model": PAPER_NAMES[name],
             **{c: published["models"][name][c].display(DIGITS[c]) for c in COLUMNS}} for name in names]


def latex(text: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def environment(templates: str | Path, autoescape: bool = False) -> jinja2.Environment:
    """Templates from ``templates``; ``autoescape`` for HTML, off for Markdown and LaTeX."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=autoescape)
    env.filters["latex"] = latex
    return env


def render_table(env: jinja2.Environment, fmt: str, rows: list[dict]) -> str:
    return env.get_template(f"table1.{fmt}.j2").render(rows=rows)
