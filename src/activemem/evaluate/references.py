"""An evaluation split as the evaluate stage scores it: sources, every reference stream, and the
noun-phrase records of the agreement diagnostic.

The prepare stage's ``manifest.json`` says what a split has (``stages/prepare.py``): ``references``
lists its reference files, ``<split>.fr`` first (the single reference of the paper's BLEU), then
the demo's further valid references; ``noun_phrases`` names its records file. A WMT split has one
reference and no records, so its multi-reference BLEU and agreement are None.

``test_long`` is the demo's extrapolation split (more clauses than any training sentence); the
evaluate stage reports it apart from Table 1, under ``extrapolation``.

Subsampling (``evaluate.max_sentences``): ``load_split(..., max_sentences=N)`` keeps the first ``N``
sentences of every stream (sources, each reference, the records and the encoded pairs), cut *after*
the whole files were checked to be aligned, so the streams stay aligned. The first N, not a random
draw: the paper stage cuts ``test.en``/``test.fr`` the same way from the count in ``evaluation.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from activemem.data.lines import DataError, Lines, read_lines
from activemem.data.store import EncodedSplit, encoded_files
from activemem.evaluate.agreement import agreement_scores, load_records
from activemem.evaluate.bleu import check_aligned, corpus_scores

EXTRAPOLATION_SPLIT = "test_long"


@dataclass
class EvalSplit:
    name: str
    encoded: EncodedSplit
    sources: Lines
    references: Lines                 # <split>.fr: the first reference
    more_references: list[Lines]      # the further streams (empty for WMT)
    records: Lines | None             # noun-phrase records (None for WMT)
    total: int | None = None          # sentences in the split's files (set by head(); > len(references) when cut)


class FirstPairs:
    """The first ``n`` pairs of an encoded split, read through its public interface (lengths and
    per-sentence tokens), so it works whatever the split's storage on disk."""

    def __init__(self, split: EncodedSplit, n: int):
        self.split, self.n, self.path = split, min(n, len(split)), split.path

    def __len__(self) -> int:
        return self.n

    @property
    def src_lengths(self):
        return self.split.src_lengths[:self.n]

    @property
    def tgt_lengths(self):
        return self.split.tgt_lengths[:self.n]

    def source(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(f"pair {i} of the first {self.n} of {self.path}")
        return self.split.source(i)

    def target(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(f"pair {i} of the first {self.n} of {self.path}")
        return self.split.target(i)


def first(lines: Lines, n: int) -> Lines:
    """The first ``n`` lines, still naming their file."""
    return Lines(lines[:n], source=lines.source)


def head(split: EvalSplit, n: int | None) -> EvalSplit:
    """``split`` cut to its first ``n`` sentences in every stream (``n`` None: all of it)."""
    total = len(split.references)
    if n is None or n >= total:
        return EvalSplit(split.name, split.encoded, split.sources, split.references, split.more_references,
                         split.records, total)
    return EvalSplit(split.name, FirstPairs(split.encoded, n), first(split.sources, n), first(split.references, n),
                     [first(r, n) for r in split.more_references],
                     None if split.records is None else first(split.records, n), total)


def reference_names(manifest: dict, split: str) -> list[str]:
    return manifest.get("references", {}).get(split) or [f"{split}.fr"]


def split_files(manifest: dict, split: str) -> list[str]:
    """The files of ``split`` the evaluate stage reads, to check against the manifest first."""
    records = manifest.get("noun_phrases", {}).get(split)
    return [*encoded_files(split), f"{split}.en", *reference_names(manifest, split), *([records] if records else [])]


def load_split(data: Path, manifest: dict, split: str, max_sentences: int | None = None) -> EvalSplit:
    """Read one evaluation split; refuses files whose line counts differ, naming them. With
    ``max_sentences``, only its first sentences (see the module docstring)."""
    names = reference_names(manifest, split)
    records_name = manifest.get("noun_phrases", {}).get(split)
    sources = read_lines(data / f"{split}.en")
    references, *more = [read_lines(data / name) for name in names]
    records = load_records(data / records_name) if records_name else None
    check_aligned(references, sources=sources,
                  **{f"reference_stream_{i}": r for i, r in enumerate(more, start=2)},
                  **({"noun_phrase_records": records} if records is not None else {}))
    encoded = EncodedSplit(data, split)
    if len(encoded) != len(references):
        raise DataError(f"{encoded.path} holds {len(encoded)} pairs but {references.source} has "
                        f"{len(references)} lines: refusing to score misaligned text")
    return head(EvalSplit(split, encoded, sources, references, more, records), max_sentences)


def multi_reference_scores(hypotheses: list[str], split: EvalSplit) -> dict:
    """``bleu_multi_ref``, ``multi_ref_signature``, ``references`` (stream count) and ``agreement``."""
    multi = corpus_scores(hypotheses, split.references, *split.more_references) if split.more_references else None
    return {"bleu_multi_ref": multi["bleu"] if multi else None,
            "multi_ref_signature": multi["sacrebleu_signature"] if multi else None,
            "references": 1 + len(split.more_references),
            "agreement": agreement_scores(hypotheses, split.records) if split.records is not None else None}
