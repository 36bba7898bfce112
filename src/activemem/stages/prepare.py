"""Stage ``prepare``: clean every split, train the sub-word model, encode, and report what was dropped.

    python -m activemem.stages.prepare --params params.yaml --scale demo \\
        --raw data/demo/raw --out data/demo/prepared

Outputs in ``<out>``: ``{split}.en`` / ``{split}.fr`` (cleaned text; dev/test are the BLEU
references), ``spm.model`` / ``spm.vocab``, ``{split}.{src,src_offsets,tgt,tgt_offsets}.npy`` (encoded,
see ``data/store.py``), ``report.json`` (pairs read, kept and dropped by reason, per split, with the
first ``file:line`` of each reason) and ``manifest.json``.

Splits: train, dev and test, plus any further split that ``sources.json`` lists (the demo's
``test_long``), prepared like test: kept as published, never width-filtered. Where the download
stage wrote further reference streams (``<split>.fr.ref2`` …) and noun-phrase records
(``<split>.np.jsonl``), they are copied line for line; they stay aligned because an evaluation
split drops no pair (a split that did would be refused).

Memory does not grow with the corpus: every step streams (``data/encode.py``). The phases:

1. **clean** — read each split's raw pairs, normalise and filter them (``data/clean.py``), write the
   kept text: evaluation splits straight to ``<out>``, the training split to a staging folder;
2. **vocab** — train sentencepiece on at most ``prepare.max_vocab_sentences`` sentences of the cleaned
   training text (sampled by sentencepiece as it reads; this sample is the one part of the stage whose
   memory grows, up to that cap);
3. **encode** — encode chunk after chunk on ``prepare.threads`` threads (at most the cores the job was
   given, ``activemem/cores.py``), drop training pairs wider than ``prepare.max_width``, write the text
   and the arrays as they come.

``report.json`` also holds, for each evaluation split, ``overlap_with_train`` (``data/overlap.py``): how many
of its sentence pairs and English sources also occur in the kept training pairs, of how many, and the first
lines that do; the stage warns when any do.

Each phase's wall time and peak memory are printed (and written as JSON with ``--stats FILE``).

``manifest.json``: ``vocab_size`` (and ``vocab_size_asked``: sentencepiece gives fewer pieces than
asked when the text cannot fill them, and the stage warns); ``pairs`` (kept, per split); ``references``
(per evaluation split, its reference files, ``<split>.fr`` first: one for WMT, ``data.references``
for the demo); ``noun_phrases`` (per split with records, its ``.np.jsonl``); ``longest_train_source``
(``words`` and ``subwords`` of the longest kept training source, the bound of "within training
length"); ``threads`` (used by sentencepiece, whose model records it); ``archives`` (WMT: each archive
the text came from and what vouched for it, from ``sources.json``); ``files`` (size and SHA-256
of every output); and ``made_from`` (size and SHA-256 of the ``sources.json`` read, ``activemem/lineage.py``:
the Snakemake workflow removes prepared data whose listing is gone or changed, as after a refused download).

A source whose registry entry names a ``prepare`` of its own (``activemem/data/sources``; the
``source`` of ``sources.json``) takes that path instead: the algorithmic tasks have no cleaning, no
sub-word model, every split encoded with the fixed symbol vocabulary (``data/symbols.py``, which
describes that manifest).
"""

from __future__ import annotations

import json
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from activemem import lineage
from activemem.atomic import open_atomic, write_json
from activemem.config import ParamsError
from activemem.cores import capped_threads
from activemem.data import sources
from activemem.data.clean import SplitReport, clean_pairs
from activemem.data.encode import encode_chunk, text_chunks
from activemem.data.lines import LineWriter, numbered_lines, read_lines
from activemem.data.overlap import overlap_with_train
from activemem.data.phases import Phases
from activemem.data.readers import DataError, read_parallel
from activemem.data.store import SplitWriter, encoded_files, file_digest, verify_files
from activemem.data.vocab import SubwordVocab, train_vocab
from activemem.entry import one_line
from activemem.progress import progress_bar
from activemem.stages._common import SPLITS, params_or_exit, parser, run_stage, write_lines

STAGING = ".staging"  # the cleaned training text before the width filter, removed at the end


# ---- the raw text ---------------------------------------------------------------------------------
def load_listing(raw: Path) -> dict:
    path = raw / "sources.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path} does not exist: run the download stage first") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not valid JSON ({err.msg}): rerun the download stage") from None


def listing_source(listing: dict, raw: Path) -> str:
    """The data source the download stage made ``listing`` for (its ``source``: a registry name)."""
    source = listing.get("source")
    if not isinstance(source, str) or source not in sources.REGISTRY:
        raise DataError(f"{raw / 'sources.json'} names no known data source ({', '.join(sources.REGISTRY)}), "
                        f"got {source!r}: rerun the download stage")
    return source


def source_files(listing: dict, raw: Path, split: str) -> list[tuple[Path, Path]]:
    """The ``(english, french)`` files of ``split``. Demo paths are relative to ``raw``; WMT paths to the
    download cache (``downloads``), whose files must still be what the download stage extracted."""
    if split not in listing["splits"]:
        raise ParamsError(f"{raw / 'sources.json'} has no '{split}' split")
    base = Path(listing["downloads"]) if "downloads" in listing else raw
    pairs = [(base / en, base / fr) for en, fr in listing["splits"][split]]
    if "files" in listing:
        try:
            verify_files(base, listing["files"], [str(p.relative_to(base)) for pair in pairs for p in pair])
        except (ValueError, FileNotFoundError) as err:
            raise DataError(f"{err} (extracted by the download stage: rerun it)") from None
    return pairs


# ---- phase 1: clean -------------------------------------------------------------------------------
def clean_split(files: list[tuple[Path, Path]], folder: Path, split: str, prepare: dict,
                report: SplitReport) -> list[str]:
    """Write the kept pairs of ``split`` to ``folder/<split>.{en,fr}``; for the training split also the
    ``file:line`` of each (``<split>.where``), so that a pair the width filter drops later is named."""
    pairs = (pair for en, fr in files for pair in read_parallel(en, fr))
    kept = clean_pairs(progress_bar(pairs, desc=f"clean {split}", unit="pairs", mininterval=1.0),
                       split == "train", prepare["max_ratio"], prepare["max_words"], report)
    names = [f"{split}.en", f"{split}.fr"] + ([f"{split}.where"] if split == "train" else [])
    with ExitStack() as stack:
        writers = [LineWriter(stack.enter_context(open_atomic(folder / name)), folder / name) for name in names]
        for location, src, tgt in kept:
            for writer, line in zip(writers, (src, tgt, location)):
                writer.write(line)
    if not report.kept:
        raise DataError(f"{split}: no pair survived cleaning ({report.as_dict()['dropped']})")
    return names[:2]


def training_sentences(staging: Path):
    """English, French, English, … of the cleaned training pairs, streamed (sentencepiece's input)."""
    for en, fr in text_chunks(staging / "train.en", staging / "train.fr"):
        for pair in zip(en, fr):
            yield from pair


# ---- phase 3: encode ------------------------------------------------------------------------------
def encode_training_split(vocab: SubwordVocab, staging: Path, out: Path, max_width: int, threads: int,
                          report: SplitReport) -> dict:
    """Encode the staged training text, drop pairs wider than ``max_width`` (the Neural GPU memory must
    hold source and target+EOS), write the rest; returns the longest kept source (words, sub-words)."""
    where = (line for _, line in numbered_lines(staging / "train.where"))
    longest = {"words": 0, "subwords": 0}
    kept = 0
    with ExitStack() as stack:
        writers = [LineWriter(stack.enter_context(open_atomic(out / n)), out / n) for n in ("train.en", "train.fr")]
        arrays = stack.enter_context(SplitWriter(out, "train"))
        for en, fr in progress_bar(text_chunks(staging / "train.en", staging / "train.fr"),
                                   desc="encode train", unit="chunks", mininterval=1.0):
            en_ids, fr_ids, widths = encode_chunk(vocab, en, fr, threads)
            locations = [next(where) for _ in en]
            keep = np.flatnonzero(widths <= max_width)
            for i in np.flatnonzero(widths > max_width):
                report.drop("wider_than_max_width", f"{locations[i]} ({widths[i]} sub-words > {max_width})")
            arrays.add([en_ids[i] for i in keep], [fr_ids[i] for i in keep])
            for i in keep:
                writers[0].write(en[i])
                writers[1].write(fr[i])
                longest = {"words": max(longest["words"], len(en[i].split())),
                           "subwords": max(longest["subwords"], len(en_ids[i]))}
            kept += len(keep)
    report.kept = kept
    if not kept:
        raise DataError(f"train: every pair is wider than prepare.max_width={max_width} sub-words")
    return longest


def encode_evaluation_split(vocab: SubwordVocab, out: Path, split: str, threads: int) -> None:
    """Encode an evaluation split as published: nothing is dropped, so every reference stays aligned."""
    with SplitWriter(out, split) as arrays:
        for en, fr in progress_bar(text_chunks(out / f"{split}.en", out / f"{split}.fr"), desc=f"encode {split}",
                                   unit="chunks", mininterval=1.0):
            en_ids, fr_ids, _ = encode_chunk(vocab, en, fr, threads)
            arrays.add(en_ids, fr_ids)


# ---- the per-sentence files of the evaluation splits -----------------------------------------------
def copy_aligned(raw: Path, out: Path, name: str, report: SplitReport, split: str) -> None:
    """Copy a per-sentence file of an evaluation split (a reference stream, noun-phrase records)."""
    lines = read_lines(raw / name)
    if len(lines) != report.read or report.kept != report.read:
        raise DataError(f"{raw / name}: has {len(lines)} lines for {report.read} '{split}' pairs of which "
                        f"{report.kept} were kept: it cannot stay aligned with {split}.fr")
    write_lines(out / name, lines)


def copy_evaluation_extras(listing: dict, raw: Path, out: Path, splits: list[str],
                           reports: dict[str, SplitReport]) -> tuple[dict, dict, list[str]]:
    """Further reference streams and noun-phrase records; returns the manifest's ``references`` and
    ``noun_phrases`` and the names of the files written."""
    references, records, written = {}, {}, []
    for split in splits:
        if split == "train":
            continue
        extra = listing.get("references", {}).get(split, [])
        if split != "dev":
            references[split] = [f"{split}.fr"] + extra
        names = extra + ([listing["noun_phrases"][split]] if split in listing.get("noun_phrases", {}) else [])
        for name in names:
            copy_aligned(raw, out, name, reports[split], split)
        if split in listing.get("noun_phrases", {}):
            records[split] = listing["noun_phrases"][split]
        written += names
    return references, records, written


# ---- the stage -----------------------------------------------------------------------------------
def prepare(params: dict, raw: Path, out: Path, phases: Phases | None = None) -> dict:
    """Every phase of the stage (see the module docstring); returns the per-split report."""
    phases = phases or Phases()
    settings = params["prepare"]  # checked by schema.py when params.yaml was loaded
    threads = capped_threads(settings["threads"], f"{params['scale']}.prepare.threads")
    listing = load_listing(raw)
    own = sources.hook(listing_source(listing, raw), "prepare")
    if own:  # a source whose pairs are not sentences to clean and sub-word (the algorithmic tasks)
        return own(params, listing, raw, out)
    splits = list(SPLITS) + [s for s in listing["splits"] if s not in SPLITS]
    reports = {split: SplitReport() for split in splits}
    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what a killed run left
    written = []
    try:
        with phases("clean"):
            for split in splits:
                files = source_files(listing, raw, split)
                names = clean_split(files, staging if split == "train" else out, split, settings, reports[split])
                written += [] if split == "train" else names
        with phases("vocab"):
            model = train_vocab(training_sentences(staging), out / "spm.model", settings["vocab_size"],
                                settings["model_type"], settings["seed"], settings["max_vocab_sentences"], threads)
            vocab = SubwordVocab(model)
        if len(vocab) < settings["vocab_size"]:
            print(f"warning: {params['scale']}.prepare.vocab_size is {settings['vocab_size']} but sentencepiece "
                  f"made {len(vocab)} pieces: the training text cannot fill more (a smaller vocab_size "
                  f"gives the same model)", file=sys.stderr)
        with phases("encode"):
            longest = encode_training_split(vocab, staging, out, settings["max_width"], threads, reports["train"])
            for split in splits[1:]:
                encode_evaluation_split(vocab, out, split, threads)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    references, records, extras = copy_evaluation_extras(listing, raw, out, splits, reports)
    report = {split: reports[split].as_dict() for split in splits}
    for split, shared in overlap_with_train(out, splits[1:]).items():
        report[split]["overlap_with_train"] = shared
        if shared["pairs"] or shared["sources"]:
            print(f"warning: {split}: {shared['pairs']} of {shared['sentences']} sentence pairs and {shared['sources']} "
                  f"English sources are also in the training data (first: {', '.join(shared['examples'])}): scores "
                  f"on {split} are partly of sentences the models trained on (report.json overlap_with_train)",
                  file=sys.stderr)
    write_json(out / "report.json", report)
    written += ["train.en", "train.fr", "spm.model", "spm.vocab", *extras, "report.json",
                *(name for split in splits for name in encoded_files(split))]
    manifest = {"vocab_size": len(vocab), "vocab_size_asked": settings["vocab_size"],
                "pairs": {s: reports[s].kept for s in splits},
                "references": references, "noun_phrases": records, "longest_train_source": longest,
                "threads": threads, **({"archives": listing["archives"]} if "archives" in listing else {}),
                "files": {name: file_digest(out / name) for name in sorted(written)},
                # the download's listing this was made from: gone or changed (a refused or another
                # download), the prepared data is stale (the workflow removes it when it loads)
                lineage.KEY: lineage.made_from(raw / "sources.json")}
    write_json(out / "manifest.json", manifest)
    return report


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--raw", required=True, help="the download stage's output directory")
    p.add_argument("--out", required=True, help="directory for the prepared data")
    p.add_argument("--stats", help="also write each phase's seconds and peak memory to this JSON file")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    phases = Phases()
    try:
        report = prepare(params, Path(args.raw), out, phases)
    except (ParamsError, DataError, ValueError, OSError) as err:
        sys.exit(f"error: {one_line(err)}")
    if args.stats:
        write_json(Path(args.stats), phases.table)
    for split, r in report.items():
        held = r.get("held_out")
        extra = (f"; {held['held_out']} distinct held-out inputs of {held['distinct_inputs']} at this length"
                 if held else "")
        shared = r.get("overlap_with_train")
        extra += f"; also in train: {shared['pairs']} pairs, {shared['sources']} sources" if shared else ""
        print(f"{split}: read {r['read']}, kept {r['kept']}, dropped {r['dropped']}{extra}")


if __name__ == "__main__":
    run_stage(main, "prepare")
