"""What the report says about the run's data: the scale note that opens it, and what the test split
offers the claims.

The smoke scale keeps its fixed one-line note, and every other scale on a source that has one (its
registry entry's ``note``, ``activemem/data/sources``: the demo grammar's, at demo and converged) that
note; ``data_name`` names what a run trained on (the entry's ``name``), for Table 1's heading and note.
A scale on the paper's own data (WMT'14: the entry's ``paper_data``) is compared with the paper preset,
and its note says what a reader diffing Table 1 against the published numbers must know: which corpora were trained on
(``data.train``), how many pairs the prepare stage kept (``manifest.json`` ``pairs``,
``report.json``), and every setting that differs from the ``paper`` preset (``config.preset_comparison``,
the same entry both engines track for the paper stage). The paper preset is the yardstick because
it holds the authors' sizes: a difference from it is a reason the numbers may differ from the
paper's, while a difference from ``defaults`` would also list what every scale sets on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

from activemem.data import sources
from activemem.evaluate.references import reference_names
from activemem.paper.claims import AvailableData

SCALE_NOTES = {
    "smoke": "Tiny smoke-test scale: numbers are meaningless; it checks that the pipeline runs.",
}
GENERIC_NOTE = "Data source not recorded (data.source): the report cannot say what this run was trained on."
# how a reader knows the WMT'14 training corpora (data.train keys: data/wmt14.yaml)
CORPUS_NAMES = {"europarl_v7": "Europarl v7", "commoncrawl": "Common Crawl", "un": "UN corpus",
                "news_commentary_v9": "News Commentary v9", "giga_fren": "10^9 French-English corpus"}


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def shown(value) -> str:
    """A setting as a reader writes it in params.yaml: ``[a, b]``, ``{k: v}``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def kept(data: Path, split: str) -> str:
    """``3,003 pairs kept of 3,010 read``: what the prepare stage kept of a split; empty without its files."""
    pairs = (_json(data / "manifest.json") or {}).get("pairs", {}).get(split)
    read = ((_json(data / "report.json") or {}).get(split) or {}).get("read")
    if pairs is None:
        return ""
    return f"{pairs:,} pairs kept" + (f" of {read:,} read" if read is not None else "")


def counted(corpus: str, data: Path, split: str) -> str:
    return f"{corpus} ({kept(data, split)})" if kept(data, split) else corpus


def wmt_note(scale: str, comparison: dict, data: Path) -> str:
    corpora, preset = comparison["corpora"], comparison["preset"]
    preset_train = next((d[2] for d in comparison["differences"] if d[0] == "data.train"), None)
    pairs = kept(data, "train")
    text = (f"WMT'14 English→French at scale {scale}. Trained on {', '.join(corpora['train'])}"
            + (" only" if preset_train and set(corpora["train"]) < set(preset_train) else "") + " (data.train" + (f"; {pairs})" if pairs else ")"))
    if preset_train:
        text += f", where the {preset} preset trains on all of WMT'14 En→Fr: {', '.join(preset_train)}"
    text += (f". Dev {counted(corpora['dev'], data, 'dev')}, test {counted(corpora['test'], data, 'test')}. "
             "The published Table 1 is the paper's full WMT'14 run. ")
    if preset is None:
        return text + "params.yaml has no paper scale to compare this run's settings with."
    differences = comparison["differences"]
    if differences:
        text += (f"This run differs from the {preset} preset (params.yaml, the authors' sizes) in "
                 f"{len(differences)} setting{'s' if len(differences) > 1 else ''}: "
                 + "; ".join(f"{key} {shown(mine)} ({preset}: {shown(theirs)})" for key, mine, theirs in differences)
                 + ".")
    else:
        text += f"Every setting that changes the numbers is the {preset} preset's (params.yaml)."
    if comparison["job_differences"]:
        text += (" Settings of the job alone, which do not change what is computed, also differ: "
                 + ", ".join(comparison["job_differences"]) + ".")
    return text


UNNAMED = "data this report cannot name (data.source not given)"


def _entry(source: str | None) -> sources.Entry | None:
    """The registry entry of ``source``; None for a run that names no (or no known) source."""
    return sources.REGISTRY.get(source) if isinstance(source, str) else None


def scale_note(scale: str, comparison: dict | None, data: Path, source: str | None = None) -> str:
    """The report's opening note (``comparison``: ``config.preset_comparison`` of the run's params;
    ``source``: its ``data.source``). Every scale on a source with a note gets it, whatever its name:
    the converged scale is the demo grammar, not WMT'14."""
    if scale in SCALE_NOTES:
        return SCALE_NOTES[scale]
    if comparison:
        return wmt_note(scale, comparison, data)
    entry = _entry(source)
    return entry.note if entry and entry.note else GENERIC_NOTE


def data_name(source: str | None, comparison: dict | None) -> str:
    """What this run trained and was tested on, for Table 1's heading: from ``data.source`` and, on
    WMT'14, the corpora (``data.train``) against the paper preset's (``comparison``)."""
    if comparison:
        corpora, preset = comparison["corpora"], comparison["preset"]
        preset_train = next((d[2] for d in comparison["differences"] if d[0] == "data.train"), None)
        names = ", ".join(CORPUS_NAMES.get(c, c) for c in corpora["train"])
        if preset_train and set(corpora["train"]) < set(preset_train):
            return f"a WMT'14 English→French subset ({names} only), tested on {corpora['test']}"
        if preset and not preset_train:
            return f"full WMT'14 English→French, tested on {corpora['test']}"
        return f"WMT'14 English→French ({names}), tested on {corpora['test']}"
    entry = _entry(source)
    return entry.name if entry else UNNAMED


def data_note(source: str | None, comparison: dict | None, data: Path) -> str:
    """Table 1's first note: the data it was regenerated on, its training pairs (``manifest.json``) and
    the corpora, against the published table's data."""
    pairs = kept(data, "train")
    corpora = (f"; trained on {', '.join(CORPUS_NAMES.get(c, c) for c in comparison['corpora']['train'])}"
               if comparison else "")
    return f"Regenerated on {data_name(source, comparison)}" + (f" ({pairs} for training{corpora})" if pairs else
                                                                  f" ({corpora[2:]})" if corpora else "") + "."


def available(scale: str, comparison: dict | None, data: Path) -> AvailableData | None:
    """What the test split offers the claims, from the prepare stage's manifest.json; None without
    one (then no claim is ruled out for its data)."""
    manifest = _json(data / "manifest.json")
    if manifest is None:
        return None
    name = f"WMT'14 {comparison['corpora']['test']}" if comparison else f"the {scale} test split"
    return AvailableData(name=name, references=len(reference_names(manifest, "test")),
                    noun_phrases="test" in (manifest.get("noun_phrases") or {}))


def prepared_data_warnings(data: Path) -> list[str]:
    """What the prepare stage's manifest says a reader must know before any number: archives accepted
    only because someone vouched for them (their bytes differ from the published files), and a
    sub-word vocabulary smaller than asked (the training text could not fill it)."""
    manifest = _json(data / "manifest.json") or {}
    out = []
    for name, archive in sorted((manifest.get("archives") or {}).items()):
        if archive.get("verified_by") == "vouched":
            out.append(f"{name} is not the published file (SHA-256 {archive.get('sha256', '?')[:12]}…): it was "
                       f"accepted because its entry in the vouched file says \"{archive.get('vouched_by')}\". Every "
                       f"number here rests on that copy.")
    asked, made = manifest.get("vocab_size_asked"), manifest.get("vocab_size")
    if asked and made and made < asked:
        out.append(f"The sub-word vocabulary has {made:,} pieces, not the {asked:,} asked (prepare.vocab_size): "
                   f"sentencepiece made no more from this training text.")
    return out
