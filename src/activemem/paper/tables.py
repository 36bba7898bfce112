"""Every table of the paper stage, as plain ``{header, align, rows, notes}`` data.

Table 1's columns are defined here once (``TABLE1``); ``paper/published.yaml`` rows, the regenerated
rows and every template (``table1.{md,tex}.j2``, the report's) use this definition. The regenerated
and the published Table 1 go through the same template and the same row order, so
``diff table1.published.md table1.md`` shows exactly the numbers that moved.

A table here is a dict ``{"header": [...], "align": "lrr", "rows": [[cell, ...], ...], "notes": [...]}``
of strings; the Jinja macros in ``paper/templates/macros.j2`` render it as Markdown or HTML. A
model without a number shows ``?`` (unknown) or ``—`` (does not apply to that model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from activemem import models

UNKNOWN, NOT_APPLICABLE = "?", "—"
TRUNCATED_MARK = "†"   # training cut by the wall clock
SUBSAMPLE_MARK = "§"   # scored on the first evaluate.max_sentences test sentences only
FEW_MARK = "‡"         # a length bucket under report.min_bucket_sentences
BEYOND_MARK = "⁺"      # a model the paper has no row for (registry: in_paper False)
NEURAL_GPU_FAMILY = ("neural_gpu", "markovian_neural_gpu", "extended_neural_gpu")


@dataclass(frozen=True)
class Column:
    key: str     # evaluation.json key (dotted for nested keys)
    label: str   # header text
    digits: int  # decimals shown (significant ones after the first with `scientific`)
    scientific: bool = False


TABLE1 = (Column("perplexity", "Perplexity", 2), Column("log_perplexity", "log-Perplexity", 3),
          Column("bleu", "BLEU", 1))
TABLE1_KEYS = tuple(c.key for c in TABLE1)
# What each regenerated number cost: the step whose weights were scored (train.select: the best dev
# perplexity's when training runs to convergence) and the training FLOPs up to it (train/flops.py). The
# paper reports neither (its cells show ?). Seconds are in the runs table: they depend on the machine,
# and Table 1 is reproduced byte for byte.
TABLE1_COST = (Column("selected.step", "Steps", 0), Column("selected.flops", "Training FLOPs", 2, scientific=True))
BOLD = re.compile(r"\*\*(.+?)\*\*")
LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "<": r"$<$", ">": r"$>$",
                 TRUNCATED_MARK: r"\textsuperscript{\dag}", SUBSAMPLE_MARK: r"\textsuperscript{\S}",
                 FEW_MARK: r"\textsuperscript{\ddag}", BEYOND_MARK: r"\textsuperscript{+}"}


def label(name: str) -> str:
    return models.label(name)


def ordered(names: list[str]) -> list[str]:
    """Registry order (the paper's rows first, as the registry lists them); a name outside the
    registry goes last, as given."""
    return [n for n in models.NAMES if n in names] + [n for n in names if n not in models.REGISTRY]


def value(metrics: dict, dotted: str):
    """``metrics["a"]["b"]`` for ``"a.b"``; None when any part is absent or null."""
    node = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return None
        node = node[part]
    return node


def number(x, digits: int, missing: str = UNKNOWN, scientific: bool = False) -> str:
    if x is None:
        return missing
    return f"{x:.{digits}e}" if scientific else f"{round(x, digits) + 0.0:.{digits}f}"  # + 0.0: never "-0.0"


def cell(metrics: dict, dotted: str, digits: int, missing: str = UNKNOWN, scale: float = 1.0,
         scientific: bool = False) -> str:
    """``metrics[dotted]`` as text; ``mean ± sd`` when the run pooled several seeds (paper/seeds.py)."""
    x = value(metrics, dotted)
    text = number(None if x is None else scale * x, digits, missing, scientific)
    sd = (metrics.get("spread") or {}).get(dotted)
    return text if x is None or sd is None else f"{text} ± {number(scale * sd, digits, scientific=scientific)}"


def seeds_note(names: list[str], metrics: dict[str, dict]) -> list[str]:
    seeds = {tuple(metrics[n].get("seeds") or ()) for n in names}
    if len(seeds) != 1 or len(next(iter(seeds))) < 2:
        return []
    listed = ", ".join(map(str, next(iter(seeds))))
    return [f"Mean ± standard deviation over {len(next(iter(seeds)))} training seeds ({listed})."]


def table(header: list[str], rows: list[list[str]], notes: list[str] | None = None) -> dict:
    return {"header": header, "align": "l" + "r" * (len(header) - 1), "rows": rows, "notes": notes or []}


# ---- Table 1 ---------------------------------------------------------------------------------------
def truncated_note(names: list[str], metrics: dict[str, dict]) -> list[str]:
    cut = [n for n in names if metrics[n].get("truncated")]
    if not cut:
        return []
    runs = ", ".join(f"{label(n)} at step {metrics[n]['train_steps']} of {metrics[n].get('train_max_steps', '?')}"
                     for n in cut)
    return [f"{TRUNCATED_MARK} Training cut short by the wall-clock limit (train.max_minutes): {runs}. "
            f"These numbers are not the preset's run."]


def subsampled(metrics: dict) -> bool:
    """Whether ``evaluate.max_sentences`` cut this run's test split (a setting at or above the split's
    size scores every sentence, and changes nothing)."""
    total = metrics.get("test_sentences_total")
    return metrics.get("max_sentences") is not None and total is not None and metrics["test_sentences"] < total


def subsample_note(names: list[str], metrics: dict[str, dict]) -> list[str]:
    cut = {(metrics[n]["test_sentences"], metrics[n]["test_sentences_total"]) for n in names if subsampled(metrics[n])}
    if not cut:
        return []
    counts = "; ".join(f"the first {n:,} of {total:,}" for n, total in sorted(cut))
    return [f"{SUBSAMPLE_MARK} Scored on {counts} test sentences only (evaluate.max_sentences): not the whole "
            f"test set, so not comparable with the published numbers."]


def beyond_paper(names: list[str]) -> list[str]:
    """The registry models among ``names`` that the paper has no row for."""
    return [n for n in names if n in models.REGISTRY and not models.in_paper(n)]


def beyond_note(names: list[str]) -> list[str]:
    beyond = beyond_paper(names)
    if not beyond:
        return []
    return [f"{BEYOND_MARK} Beyond the paper: {', '.join(label(n) for n in beyond)} "
            f"{'is' if len(beyond) == 1 else 'are'} not among the paper's models, so the published "
            f"Table 1 has no row to hold {'it' if len(beyond) == 1 else 'them'} against ({UNKNOWN})."]


def model_cell(name: str, metrics: dict) -> str:
    return label(name) + (f" {BEYOND_MARK}" if name in beyond_paper([name]) else "") + (
        f" {TRUNCATED_MARK}" if metrics.get("truncated") else "") + (
        f" {SUBSAMPLE_MARK}" if subsampled(metrics) else "")


def regenerated_table1(names: list[str], metrics: dict[str, dict]) -> dict:
    names = ordered(names)
    rows = [[model_cell(n, metrics[n]), *(cell(metrics[n], c.key, c.digits, scientific=c.scientific)
                                          for c in TABLE1 + TABLE1_COST)] for n in names]
    return table(["Model", *(c.label for c in TABLE1 + TABLE1_COST)], rows,
                 seeds_note(names, metrics) + truncated_note(names, metrics) + subsample_note(names, metrics)
                 + beyond_note(names))


def published_table1(published: dict, names: list[str]) -> tuple[dict, list[str]]:
    """The published rows of ``names``. A model without a row shows ``?``: marked as beyond the paper
    when the registry says the paper has none, with a warning when it should have one."""
    rows, warnings = [], []
    for n in ordered(names):
        cells = published["models"].get(n)
        mark = f" {BEYOND_MARK}" if n in beyond_paper([n]) else ""
        if cells is None:
            if not mark:
                warnings.append(f"{label(n)} has no row in published.yaml: its published cells show {UNKNOWN}")
            rows.append([label(n) + mark, *(UNKNOWN for _ in TABLE1 + TABLE1_COST)])
        else:
            rows.append([label(n) + mark, *(cells[c.key].display(c.digits) for c in TABLE1),
                         *(UNKNOWN for _ in TABLE1_COST)])  # the paper reports neither
    return table(["Model", *(c.label for c in TABLE1 + TABLE1_COST)], rows, beyond_note(names)), warnings


def side_by_side(regenerated: dict, published: dict) -> dict:
    """Regenerated Table 1 with the published BLEU beside it (the HTML report's one table)."""
    bleu = 1 + TABLE1_KEYS.index("bleu")
    rows = [[*r, p[bleu]] for r, p in zip(regenerated["rows"], published["rows"])]
    return table([*regenerated["header"], "published BLEU"], rows, regenerated["notes"])


# ---- beside Table 1: what the paper argues, measured ----------------------------------------------
def measured_table(names: list[str], metrics: dict[str, dict]) -> dict | None:
    """Multi-reference BLEU and the agreement error rate per model; None when neither was measured."""
    names = ordered(names)
    if not any(value(metrics[n], "bleu_multi_ref") is not None or value(metrics[n], "agreement.error_rate")
               is not None for n in names):
        return None
    refs = max((value(metrics[n], "references") or 1 for n in names), default=1)
    rows = []
    for n in names:
        m = metrics[n]
        kinds = value(m, "agreement.errors_by_kind") or {}
        of = value(m, "agreement.checked_by_kind") or {}
        rows.append([model_cell(n, m), cell(m, "bleu", 1), cell(m, "bleu_multi_ref", 1, NOT_APPLICABLE),
                     cell(m, "agreement.error_rate", 1, NOT_APPLICABLE, scale=100),
                     (f"{value(m, 'agreement.checked')} / {value(m, 'agreement.noun_phrases')}"
                      if value(m, "agreement.noun_phrases") is not None else NOT_APPLICABLE),
                     ", ".join(f"{k} {v}" + (f"/{of[k]}" if k in of else "") for k, v in sorted(kinds.items()))
                     or NOT_APPLICABLE])
    notes = seeds_note(names, metrics) + ["BLEU (1 reference) is Table 1's number. "
             f"BLEU ({refs} references) scores the same output against every valid translation the demo "
             "grammar knows (noun synonyms of another gender change articles, adjectives and participles): "
             "a model is not penalised for choosing a different valid noun.",
             "Agreement errors: the share of the output's noun phrases (found in the output) whose "
             "determiner, adjective or participle disagrees with its noun in gender or number. The paper "
             "argues that a decoder emitting words in parallel cannot keep such choices consistent."]
    return table(["Model", "BLEU (1 reference)", f"BLEU ({refs} references)", "Agreement errors (%)",
                  "Noun phrases checked", "Disagreeing modifiers"], rows, notes)


# ---- runs: budget, decoding, both BLEUs of the Neural GPU family -----------------------------------
def runs_table(names: list[str], metrics: dict[str, dict], width: str | None,
               converged: dict[str, str] | None = None) -> dict:
    """``width``: evaluate.width of the settings, used where evaluation.json does not record it. With
    ``width: fixed`` the beam already decodes at a fixed width: no second, identical column. ``converged``:
    a cell per model from ``convergence.py`` (whether it converged), shown after how it stopped."""
    names = ordered(names)
    widths = {metrics[n].get("width") for n in names} - {None}
    width = widths.pop() if len(widths) == 1 else width
    fixed = width != "fixed" and any(value(metrics[n], "bleu_fixed_width") is not None for n in names)
    ratio = any(value(metrics[n], "length_ratio") is not None for n in names)
    greedy = any(value(metrics[n], "bleu_greedy") is not None for n in names)  # off: evaluate.greedy
    header = ["Model", "Parameters", "Training steps", "Stopped by", *(["Converged"] if converged else []),
              "Scored step", "Training FLOPs to it",
              "Training time to it (s)", "Decoding (sentences/s)",
              "BLEU beam" + (f" (width {width})" if fixed and width else ""),
              *(["BLEU beam (fixed width)"] if fixed else []), *(["BLEU greedy"] if greedy else []), "chrF",
              *(["Length ratio", "Length ratio (training lengths)"] if ratio else [])]
    rows = []
    for n in names:
        m = metrics[n]
        steps = (f"{m['train_steps']} / {m['train_max_steps']}" if m.get("train_max_steps") is not None
                 else f"{m['train_steps']}") + (f" {TRUNCATED_MARK}" if m.get("truncated") else "")
        family = n in NEURAL_GPU_FAMILY
        rows.append([model_cell(n, m), f"{m['parameters']:,}", steps, m.get("train_stop_reason") or UNKNOWN,
                     *([converged.get(n, UNKNOWN)] if converged else []),
                     cell(m, "selected.step", 0), cell(m, "selected.flops", 2, scientific=True),
                     cell(m, "selected.train_seconds", 0),
                     number(m.get("decode_sentences_per_s"), 1), cell(m, "bleu", 1),
                     *([cell(m, "bleu_fixed_width", 1, UNKNOWN if family else NOT_APPLICABLE)] if fixed else []),
                     *([cell(m, "bleu_greedy", 1)] if greedy else []), cell(m, "chrf", 1),
                     *([cell(m, "length_ratio", 2), cell(m, "length_ratio_within_training", 2)] if ratio else [])])
    notes = seeds_note(names, metrics) + truncated_note(names, metrics) + subsample_note(names, metrics)
    notes.append("Stopped by: patience (train.patience dev evaluations in a row each gained less than "
                 "train.min_improvement), max_steps (the step cap) or max_minutes (the wall clock)."
                 + (" Converged: only a run stopped by patience whose best dev evaluation was followed by "
                    "train.patience evaluations that did not improve on it; 'still improving' when its best dev "
                    "perplexity was its last evaluation." if converged else "") + " Scored step: the step whose weights were evaluated "
                 "(train.select: the best dev perplexity's, or the last); its FLOPs and seconds of training "
                 "(dev evaluations and FLOP counting left out) are what reaching it cost. Seconds depend on the machine.")
    if width == "fixed" and any(n in NEURAL_GPU_FAMILY for n in names):
        notes.append("The Neural GPU family decodes at one memory width per sentence (evaluate.width: fixed), "
                     "not with the authors' width search: 'BLEU beam' is that fixed-width decode.")
    if fixed:
        notes.append("The Neural GPU family's output length is tied to its memory width. 'BLEU beam' decodes "
                     + ("with the authors' width search (every training-bucket width from |src| to 2·|src|+8, "
                        "the best length-normalised hypothesis kept)" if width == "search" else f"with evaluate.width: {width}")
                     + "; 'fixed width' decodes at one memory width per sentence, an ablation.")
    if ratio:
        pairs = {(value(metrics[n], "within_training_sentences"), value(metrics[n], "train_source_max_words"))
                 for n in names}
        count, words = pairs.pop() if len(pairs) == 1 else (None, None)
        detail = f" ({count} sentences of at most {words} words)" if None not in (count, words) else ""
        notes.append("Length ratio: hypothesis / reference length (sacreBLEU), on all test sentences and on "
                     f"those whose source is no longer than the longest training source{detail}.")
    return table(header, rows, notes)


# ---- where the gap is: by word class (the demo grammar) ---------------------------------------------
def word_class_tables(names: list[str], metrics: dict[str, dict]) -> dict | None:
    """Teacher-forced perplexity and top-1 error per word class (``evaluate/by_word_class.py``), one row
    per model; None when no run measured them (WMT)."""
    names = ordered(names)
    # every model is scored on the same references, so a class holds the same pieces in each
    pieces = {k: c["pieces"] for n in names for k, c in (value(metrics[n], "word_classes") or {}).items()}
    if not pieces:
        return None
    kinds = list(pieces)
    header = ["Model", *(f"{k} ({count})" for k, count in pieces.items())]
    perplexity = [[model_cell(n, metrics[n]), *(cell(metrics[n], f"word_classes.{k}.perplexity", 2) for k in kinds)]
                  for n in names]
    errors = [[model_cell(n, metrics[n]), *(cell(metrics[n], f"word_classes.{k}.error_rate", 1, scale=100)
                                            for k in kinds)] for n in names]
    notes = seeds_note(names, metrics) + [
        "Each column is a word class of the demo grammar, with the number of reference sub-word pieces it holds. "
        "Teacher-forced on the test split's first reference: each piece is predicted after the reference's own "
        "earlier words, so a determiner or adjective is judged after the noun the reference chose (agreement), "
        "a noun's error includes choosing the other valid synonym (lexical choice), and end of sentence is "
        "the model's decision to stop (length)."]
    return {"perplexity": table(header, perplexity, notes), "errors": table(header, errors, seeds_note(names, metrics))}


# ---- BLEU by length --------------------------------------------------------------------------------
def few(row: dict, min_sentences: int | None) -> bool:
    """A non-empty length bucket holding too few sentences for its BLEU to mean much."""
    return min_sentences is not None and 0 < row["n"] < min_sentences


def length_table(names: list[str], series: dict[str, list[dict]], min_sentences: int | None = None) -> dict:
    """One row per populated length bucket: sentences, then BLEU of each model; a bucket under
    ``min_sentences`` (report.min_bucket_sentences) is marked."""
    names = ordered(names)
    first = series[names[0]]
    rows = [[row["bucket"] + (f" {FEW_MARK}" if few(row, min_sentences) else ""), str(row["n"]),
             *(number(series[n][i]["bleu"], 1) + (f" ± {number(series[n][i]['sd'], 1)}"
                                                  if series[n][i].get("sd") is not None else "") for n in names)]
            for i, row in enumerate(first) if row["n"] > 0]
    notes = ([f"{FEW_MARK} Fewer than {min_sentences} sentences (report.min_bucket_sentences): too few for a "
              f"BLEU to mean much (hollow markers in the figure); the length claims leave such buckets out."]
             if any(few(row, min_sentences) for row in first) else [])
    return table(["Length (words)", "Sentences", *(label(n) for n in names)], rows, notes)


# ---- widths never trained at -----------------------------------------------------------------------
def wider_table(names: list[str], metrics: dict[str, dict]) -> dict | None:
    """Test sentences wider than the widest training bucket, and BLEU on them and on the rest;
    None when there are none (or evaluation.json predates the count)."""
    names = ordered(names)
    if not any(value(metrics[n], "wider_than_trained.sentences") for n in names):
        return None
    rows = []
    for n in names:
        m = metrics[n]
        if value(m, "wider_than_trained") is not None:
            rows.append([model_cell(n, m), str(value(m, "wider_than_trained.sentences")),
                         cell(m, "wider_than_trained.bleu", 1, NOT_APPLICABLE),
                         cell(m, "wider_than_trained.bleu_rest", 1, NOT_APPLICABLE), cell(m, "bleu", 1)])
    widths = sorted({value(metrics[n], "wider_than_trained.width") for n in names} - {None})
    width = " / ".join(map(str, widths))
    notes = [f"A test pair is wider than trained when max(|source|, |reference| + 1) exceeds {width} sub-words, "
             "the widest training bucket (train.buckets; prepare.max_width drops wider training pairs): no "
             "model saw such a length in training, and the Neural GPU family decodes it at a memory width it "
             "was never trained at."]
    return table(["Model", f"Sentences wider than {width}", "BLEU on them", "BLEU on the rest", "BLEU (all)"],
                 rows, notes)


def gap_table(claim: dict) -> dict | None:
    """Per-bucket BLEU gap of the length claim with its paired-bootstrap interval."""
    numbers = claim.get("numbers") or {}
    buckets = numbers.get("buckets")
    if not buckets:
        return None
    model, than = numbers["model"], numbers["than"]
    rows = [[b["bucket"], str(b["n"]), f"{b['bleu_model']:.1f}", f"{b['bleu_than']:.1f}", f"{b['gap']:+.1f}",
             NOT_APPLICABLE if b["interval"] is None else f"[{b['interval'][0]:+.1f}, {b['interval'][1]:+.1f}]"]
            for b in buckets]
    return table(["Length (words)", "Sentences", model, than, "Difference", "Bootstrap interval"], rows)


# ---- beyond the paper: extrapolation ---------------------------------------------------------------
def extrapolation_table(names: list[str], metrics: dict[str, dict]) -> dict | None:
    names = [n for n in ordered(names) if value(metrics[n], "extrapolation.bleu") is not None]
    if not names:
        return None
    multi = any(value(metrics[n], "extrapolation.bleu_multi_ref") is not None for n in names)
    agree = any(value(metrics[n], "extrapolation.agreement.error_rate") is not None for n in names)
    rows = []
    for n in names:
        m = metrics[n]
        rows.append([model_cell(n, m), cell(m, "bleu", 1), cell(m, "extrapolation.bleu", 1),
                     *([cell(m, "extrapolation.bleu_multi_ref", 1)] if multi else []),
                     *([cell(m, "extrapolation.agreement.error_rate", 1, scale=100)] if agree else []),
                     cell(m, "extrapolation.perplexity", 2), cell(m, "extrapolation.length_ratio", 2),
                     str(value(metrics[n], "extrapolation.sentences") or UNKNOWN)])
    return table(["Model", "BLEU (Table 1 test)", "BLEU (longer test)",
                  *(["BLEU (longer test, all references)"] if multi else []),
                  *(["Agreement errors (longer test, %)"] if agree else []),
                  "Perplexity (longer test)", "Length ratio (longer test)", "Sentences"], rows)


# ---- rendering -------------------------------------------------------------------------------------
def latex(text: str) -> str:
    return "".join(LATEX_ESCAPES.get(ch, ch) for ch in BOLD.sub(r"\1", str(text)))


def md_cell(text: str) -> str:
    """A Markdown table cell: a ``|`` inside would end the cell."""
    return str(text).replace("|", "\\|")


def strong(text: str) -> markupsafe.Markup:
    """HTML cell: escaped text, with Markdown's ``**bold**`` (the tables' alarm) as <strong>."""
    return markupsafe.Markup(BOLD.sub(r"<strong>\1</strong>", str(markupsafe.escape(str(text)))))


def environment(templates: str | Path, autoescape: bool = False) -> jinja2.Environment:
    """Templates from ``templates``; ``autoescape`` for HTML, off for Markdown and LaTeX."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=autoescape)
    env.filters.update(latex=latex, mdcell=md_cell, strong=strong)
    return env


def render_table(env: jinja2.Environment, fmt: str, table1: dict) -> str:
    return env.get_template(f"table1.{fmt}.j2").render(table=table1)
