"""The paper stage's figures as data series for DVC's own plots (``dvc plots show`` / ``diff``).

``dvc.yaml``'s top-level ``plots`` draw these files with the template ``.dvc/plots/by_model.json``: one
chart per file, one line per model (the ``model`` field), numeric x, and one dash style per revision
when ``dvc plots diff`` compares commits or experiments. Each file is a JSON list of flat rows:

- ``bleu_by_length.json``: ``{model, words, words_from, words_to, bucket, sentences, bleu}`` per model
  and length bucket with a BLEU (Figure 6; ``words``, the x axis, is the mean source length of the
  bucket's sentences; ``words_from``/``words_to`` its first and last length);
- ``dev_perplexity.json``: ``{model, step, flops, train_seconds, dev_perplexity}`` (the learning curves:
  ``dvc.yaml`` draws dev perplexity against steps, against training FLOPs and against seconds);
- ``dev_bleu.json``: the same with ``dev_bleu`` (greedy, at the evaluations that measured it);
- ``train_loss.json``: ``{model, step, loss}`` (their training side).

The PNG figures beside them are DVC image plots too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from activemem.atomic import write_json
from activemem.paper.tables import label


def bucket_x(row: dict) -> float:
    """Where a length bucket is drawn: the mean length of its sentences; for an evaluation made before
    it recorded that, the middle of the bucket's lengths (``lo`` is exclusive: bucket 1-4 has ``lo`` 0)."""
    if row.get("mean_words") is not None:
        return row["mean_words"]
    return (row["lo"] + 1 + row["hi"]) / 2


def by_length_rows(series: dict[str, list[dict]]) -> list[dict]:
    return [{"model": label(name), "words": bucket_x(row), "words_from": row["lo"] + 1, "words_to": row["hi"],
             "bucket": row["bucket"], "sentences": row["n"], "bleu": row["bleu"]}
            for name, rows in series.items() for row in rows if row["bleu"] is not None]


COMPUTE = ("flops", "train_seconds")  # the dev log's measures of compute, beside the step


def curve_rows(logs: dict[str, pd.DataFrame], column: str, field: str) -> list[dict]:
    """One row per logged point with a value: the model, the step, the compute columns the log has."""
    rows = []
    for name, log in logs.items():
        log = log.dropna(subset=[column])
        extra = [c for c in COMPUTE if c in log]
        for record in log[["step", *extra, column]].to_dict("records"):
            rows.append({"model": label(name), "step": int(record["step"]),
                         **{c: float(record[c]) for c in extra}, field: float(record[column])})
    return rows


def write_plot_data(series: dict[str, list[dict]], logs: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                    out: Path) -> None:
    """``logs[model]`` is ``(train_log, dev_log)`` as read from the train stage's CSV files."""
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "bleu_by_length.json", by_length_rows(series))
    devs = {n: dev for n, (_, dev) in logs.items()}
    write_json(out / "dev_perplexity.json", curve_rows(devs, "dev_perplexity", "dev_perplexity"))
    write_json(out / "dev_bleu.json", curve_rows({n: dev for n, dev in devs.items() if "dev_bleu" in dev},
                                                 "dev_bleu", "dev_bleu"))
    write_json(out / "train_loss.json", curve_rows({n: train for n, (train, _) in logs.items()}, "loss", "loss"))
