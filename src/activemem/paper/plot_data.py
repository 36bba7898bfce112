"""The paper stage's figures as data series for DVC's own plots (``dvc plots show`` / ``diff``).

``dvc.yaml``'s top-level ``plots`` draw these files with the template ``.dvc/plots/by_model.json``: one
chart per file, one line per model (the ``model`` field), numeric x, and one dash style per revision
when ``dvc plots diff`` compares commits or experiments. Each file is a JSON list of flat rows:

- ``bleu_by_length.json``: ``{model, words_from, words_to, bucket, sentences, bleu}`` per model and
  length bucket with a BLEU (Figure 6; ``words_from`` is the x axis, the bucket's first length);
- ``dev_perplexity.json``: ``{model, step, dev_perplexity}`` (the learning curves' dev side);
- ``train_loss.json``: ``{model, step, loss}`` (their training side).

The PNG figures beside them are DVC image plots too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from activemem.atomic import write_json
from activemem.paper.tables import label


def by_length_rows(series: dict[str, list[dict]]) -> list[dict]:
    return [{"model": label(name), "words_from": row["lo"], "words_to": row["hi"], "bucket": row["bucket"],
             "sentences": row["n"], "bleu": row["bleu"]}
            for name, rows in series.items() for row in rows if row["bleu"] is not None]


def curve_rows(logs: dict[str, pd.DataFrame], column: str, field: str) -> list[dict]:
    return [{"model": label(name), "step": int(step), field: float(value)}
            for name, log in logs.items() for step, value in zip(log["step"], log[column])]


def write_plot_data(series: dict[str, list[dict]], logs: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                    out: Path) -> None:
    """``logs[model]`` is ``(train_log, dev_log)`` as read from the train stage's CSV files."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bleu_by_length.json", by_length_rows(series))
    write_json(out / "dev_perplexity.json", curve_rows({n: dev for n, (_, dev) in logs.items()},
                                                       "dev_perplexity", "dev_perplexity"))
    write_json(out / "train_loss.json", curve_rows({n: train for n, (train, _) in logs.items()}, "loss", "loss"))
