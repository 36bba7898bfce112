"""The prepare stage for the algorithmic tasks: encode every split with the fixed symbol vocabulary.

No cleaning and no sub-word model: the generator wrote exactly the pairs wanted (``data/algorithmic.py``),
so a pair is encoded symbol by symbol and every pair is kept. A training pair wider than
``prepare.max_width`` is a settings mistake (``max_width`` must hold ``train_length`` + marker), not
data to drop, and stops the stage.

``manifest.json`` holds what the translation path's holds where it means something here
(``vocab_size``, ``pairs``, ``longest_train_source``, ``files``) and the algorithmic facts the
evaluate and paper stages read: ``source`` ("algorithmic"), ``symbols`` (id ``RESERVED + i`` is
``symbols[i]``), ``train_length``, ``tests`` (each test split's ``{split, task, length, pairs, distinct_inputs,
held_out}``: its inputs are distinct and never in train or dev, ``distinct_inputs`` is how many the
length has) and ``held_out_inputs`` (all test inputs, which train and dev were drawn without).
"""

from __future__ import annotations

from pathlib import Path

from activemem.atomic import write_json
from activemem.data.algorithmic import SYMBOLS, SymbolVocab
from activemem.data.lines import DataError, read_lines
from activemem.data.store import SplitWriter, encoded_files, file_digest, pair_width

CHUNK = 10000  # pairs encoded and written at a time


def encode_split(vocab: SymbolVocab, raw: Path, out: Path, split: str, files: list[list[str]]) -> tuple[int, int]:
    """Encode one split's ``(src, tgt)`` files into ``out``; returns (pairs, widest pair width)."""
    (src_name, tgt_name), = files
    sources, targets = read_lines(raw / src_name), read_lines(raw / tgt_name)
    if len(sources) != len(targets):
        raise DataError(f"{raw / tgt_name}: {len(targets)} lines but {raw / src_name} has {len(sources)}: "
                        f"rerun the download stage")
    widest = 0
    with SplitWriter(out, split) as arrays:
        for start in range(0, len(sources), CHUNK):
            try:
                src = vocab.encode(sources[start:start + CHUNK])
                tgt = vocab.encode(targets[start:start + CHUNK])
            except ValueError as err:
                raise DataError(f"{raw / src_name} (or .tgt), lines {start + 1}-{start + CHUNK}: {err}") from None
            arrays.add(src, tgt)
            widest = max([widest, *(int(pair_width(len(s), len(t))) for s, t in zip(src, tgt))])
    return len(sources), widest


def prepare_algorithmic(params: dict, listing: dict, raw: Path, out: Path) -> dict:
    """Encode every split of ``listing`` (sources.json) into ``out`` and write ``manifest.json``;
    returns the per-split report (pairs read and kept)."""
    vocab = SymbolVocab()
    max_width = params["prepare"]["max_width"]
    pairs, longest, written = {}, 0, []
    for split, files in listing["splits"].items():
        pairs[split], widest = encode_split(vocab, raw, out, split, files)
        written += encoded_files(split)
        if split == "train":
            longest = widest
            if widest > max_width:
                raise DataError(f"{raw / files[0][0]}: a training pair is {widest} symbols wide but "
                                f"'{params['scale']}.prepare.max_width' is {max_width}: it must be at least "
                                f"data.train_length + 1 (the task marker)")
    tests = [{**t, "pairs": pairs[t["split"]]} for t in listing["tests"]]
    manifest = {"source": "algorithmic", "vocab_size": len(vocab), "symbols": list(SYMBOLS), "pairs": pairs,
                "train_length": listing["train_length"], "tests": tests,
                "held_out_inputs": listing.get("held_out_inputs", 0),
                "longest_train_source": {"symbols": longest},
                "files": {name: file_digest(out / name) for name in sorted(written)}}
    write_json(out / "manifest.json", manifest)
    report = {split: {"read": n, "kept": n, "dropped": {}} for split, n in pairs.items()}
    for t in listing["tests"]:  # distinct held-out inputs, and all there are at that length
        report[t["split"]]["held_out"] = {k: t[k] for k in ("held_out", "distinct_inputs") if k in t}
    return report
