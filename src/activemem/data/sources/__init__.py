"""The data-source registry: one entry per source (``data.source`` in ``params.yaml``), carrying every
fact the rest of the project needs about it.

    from activemem.data import sources
    listing = sources.hook("demo", "download")(params, out)   # sources.json's keys after "source"
    sources.data_class("wmt14")                               # the dataclass of a wmt14 scale's data

Source names are a user-facing contract: they are ``data.source`` and the keys of ``defaults.data``.
Files, one idea each:

- ``fields.py``       ``key``, ``shown`` and ``ParamsError``: what a source types its ``data`` block with
- ``demo/``           the embedded English→French grammar (``data/demo.py``), generated from a seed
- ``wmt14/``          WMT'14 En-Fr, downloaded and checksummed (``data/wmt14.yaml``, ``data/archives.py``)
- ``algorithmic/``    the Neural GPU's tasks (``data/algorithmic.py``), generated from a seed

Each source is a package: its ``__init__.py`` holds ``Data``, the dataclass of ``<scale>.data`` (its
keys, types, ranges and cross-checks, read by ``schema.py``), and its ``download.py`` makes or fetches
the raw text. A package, not one file, for the reason the models have one: every check of
``params.yaml`` (each time either engine loads the DAG) imports every ``Data``, and must not pay for
the archive, extraction and progress-bar machinery the download needs.

What each stage asks of a source is its entry below:

* ``download`` writes or fetches the raw files into the stage's folder and returns ``sources.json``'s
  keys after ``source``: at least ``splits`` (for each of train, dev and test, aligned
  ``[english_file, french_file]`` pairs); bad input raises one of ``ERRORS`` (one line, no traceback);
* ``archives`` (sources that download): the SHA-256 of each archive a download would use now, by file
  name, so that both engines see a replaced archive (``stages/download.py`` ``changed_archives``);
* ``prepare``, ``evaluate``, ``report``: a source whose pairs are not sentences to clean, sub-word and
  score with BLEU names its own stage steps; None takes the translation path every other source shares
  (``stages/prepare.py``, ``stages/evaluate.py``, ``paper/report.py``). Their signatures are below.
* ``name`` and ``note``: what the report says the run trained on (Table 1's heading and note, the
  report's opening note: ``paper/run_data.py``);
* ``word_classes``, ``paper_data``, ``evaluate_reads``: facts a stage reads (below).

Hooks are named by ``"module:function"``, imported on first use: a hook of the evaluate or paper
layer is imported only by the stage that runs it (``stages/``), never by this data-layer package, and
nothing here imports torch. ``tests/test_sources.py`` checks that each hook sits in the layer of the
stage step that calls it.

Adding a data source is three touches: (1) its package ``data/sources/<name>/`` (``Data`` with
``source: Literal["<name>"]`` in ``__init__.py``, its ``download.py``); (2) its entry below; (3) its
defaults in ``params.yaml`` (``defaults.data.<name>``) and a scale with ``data.source: <name>``. Nothing
else names a source (``tests/test_sources.py`` checks both); the JSON schema of ``params.yaml`` is then
regenerated (``python -m activemem.schema_export``), like after any schema change.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Callable, Iterator, NamedTuple

# What a source's download (and its ``archives``) raises for bad input: a setting, a server, a file or
# a full disk. The stage prints it as one line naming the file; every error of ``data/`` derives from one.
ERRORS = (ValueError, RuntimeError, OSError)


class Entry(NamedTuple):
    """One data source. Paths are ``"package.module:name"``."""

    data: str                    # the dataclass of <scale>.data (cheap to import: every params check does)
    download: str                # (params, out folder) -> sources.json's keys after "source"
    name: str                    # what a run on it trained and was tested on (Table 1's heading and note)
    note: str | None = None      # the report's opening note at any scale on it; None: the generic one
    archives: str | None = None  # (params) -> {archive file name: sha256 or None}; None: downloads nothing
    prepare: str | None = None   # (params, sources.json, raw folder, out folder) -> the per-split report;
                                 # None: clean, train the sub-word model, encode (stages/prepare.py)
    evaluate: str | None = None  # (trained model, model name, params, data, out, progress, made_from) ->
                                 # evaluation.json's content; None: BLEU and perplexity (stages/evaluate.py)
    evaluate_reads: tuple[str, ...] = ()  # keys of `report` its own evaluation reads (a change reruns it)
    report: str | None = None    # (scale, model names, results, paper, out, seeds, patience) -> {claims,
                                 # warnings, snapshot, beside: the files it wrote beside report.html};
                                 # None: Table 1, figures and claims (paper/report.py)
    word_classes: bool = False   # every test word's class is known: the evaluation scores by word class
    paper_data: bool = False     # the paper's own data: its report compares the run with the paper preset
                                 # (config.preset_comparison) and names the corpora (paper/run_data.py)


REGISTRY: dict[str, Entry] = {
    "demo": Entry("activemem.data.sources.demo:DemoData", "activemem.data.sources.demo.download:generate",
                  "the demo grammar (an embedded synthetic English→French corpus), not WMT'14",
                  note="Embedded demo corpus (a small English→French grammar) and CPU-sized models: this shows "
                       "the pipeline and the models' qualitative behaviour, not the paper's WMT'14 numbers.",
                  word_classes=True),
    "wmt14": Entry("activemem.data.sources.wmt14:Wmt14Data", "activemem.data.sources.wmt14.download:fetch",
                   "WMT'14 English→French", archives="activemem.data.sources.wmt14.download:current_archives",
                   paper_data=True),
    "algorithmic": Entry("activemem.data.sources.algorithmic:AlgorithmicData",
                         "activemem.data.sources.algorithmic.download:generate",
                         "the algorithmic tasks (generated symbol sequences)",
                         prepare="activemem.data.symbols:prepare_algorithmic",
                         evaluate="activemem.evaluate.algorithmic:evaluate_algorithmic",
                         evaluate_reads=("significance_level",),
                         report="activemem.paper.algorithmic:build"),
}

HOOKS = ("download", "archives", "prepare", "evaluate", "report")  # the entry's fields that name a function


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown data source {name!r}; known sources: {', '.join(REGISTRY)}") from None


def load(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def data_class(name: str) -> type:
    """Source ``name``'s ``<scale>.data`` dataclass (imports nothing heavy)."""
    return load(entry(name).data)


def hook(name: str, part: str) -> Callable | None:
    """Source ``name``'s function for ``part`` (one of ``HOOKS``), imported now; None where it has none."""
    if part not in HOOKS:
        raise ValueError(f"{part!r} is not a source hook; hooks: {', '.join(HOOKS)}")
    path = getattr(entry(name), part)
    return load(path) if path else None


class DataClasses(Mapping):
    """Source name -> its ``Data`` dataclass, each imported on first use: ``schema.DATA_SOURCES``. A view
    of ``REGISTRY``, so an entry added to it (a test's toy source) is checked like any other."""

    def __getitem__(self, name: str) -> type:
        try:
            path = REGISTRY[name].data
        except (KeyError, TypeError):  # TypeError: a YAML list or mapping where a name belongs
            raise KeyError(name) from None
        return load(path)

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


__all__ = ["ERRORS", "HOOKS", "REGISTRY", "DataClasses", "Entry", "data_class", "entry", "hook", "load"]
