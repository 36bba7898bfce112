"""Stage ``prepare``: clean every split, train the sub-word model, encode, and report what was dropped.

    python -m activemem.stages.prepare --params params.yaml --scale demo \\
        --raw data/demo/raw --out data/demo/prepared

Outputs in ``<out>``: ``{split}.en`` / ``{split}.fr`` (cleaned text; dev/test are the BLEU
references), ``spm.model`` / ``spm.vocab``, ``{split}.npz`` (encoded, see ``data/store.py``),
``report.json`` (pairs read, kept and dropped by reason, per split) and ``manifest.json``.

Splits: train, dev and test, plus any further split that ``sources.json`` lists (the demo's
``test_long``), prepared like test: kept as published, never width-filtered. Where the download
stage wrote further reference streams (``<split>.fr.ref2`` …) and noun-phrase records
(``<split>.np.jsonl``), they are copied line for line; they stay aligned because an evaluation
split drops no pair (a split that did would be refused).

``manifest.json``: ``vocab_size``; ``pairs`` (kept, per split); ``references`` (per evaluation split,
its reference files, ``<split>.fr`` first: one for WMT, ``data.references`` for the demo);
``noun_phrases`` (per split with records, its ``.np.jsonl``); ``longest_train_source`` (``words`` and
``subwords`` of the longest kept training source, the bound of "within training length"); and
``files`` (size and SHA-256 of every output).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tqdm import tqdm

from activemem.atomic import write_json
from activemem.config import ParamsError, get
from activemem.data.batching import pair_width
from activemem.data.clean import clean_pairs
from activemem.data.lines import read_lines
from activemem.data.readers import DataError, read_parallel
from activemem.data.store import file_digest, save_split
from activemem.data.vocab import SubwordVocab, train_vocab
from activemem.stages._common import SPLITS, params_or_exit, parser, run_stage, write_lines


def read_split(raw: Path, files: list[list[str]], downloads: str | None = None):
    """The pairs of a split's files: relative to ``downloads`` where sources.json names that folder
    (WMT'14), else to the raw folder (the demo)."""
    root = Path(downloads) if downloads is not None else raw
    for en, fr in files:
        yield from read_parallel(root / en, root / fr)


def copy_aligned(raw: Path, out: Path, name: str, report, split: str) -> None:
    """Copy a per-sentence file of an evaluation split (a reference stream, noun-phrase records)."""
    lines = read_lines(raw / name)
    if len(lines) != report.read or report.kept != report.read:
        raise DataError(f"{raw / name}: has {len(lines)} lines for {report.read} '{split}' pairs of which "
                        f"{report.kept} were kept: it cannot stay aligned with {split}.fr")
    write_lines(out / name, lines)


def prepare(params: dict, raw: Path, out: Path) -> dict:
    listing = json.loads((raw / "sources.json").read_text())
    sources = listing["splits"]
    max_ratio = get(params, "prepare.max_ratio", float, minimum=1.0)
    max_words = get(params, "prepare.max_words", int, minimum=1)
    max_width = get(params, "prepare.max_width", int, minimum=2)
    splits = list(SPLITS) + [s for s in sources if s not in SPLITS]
    texts, reports = {}, {}
    for split in splits:
        if split not in sources:
            raise ParamsError(f"{raw / 'sources.json'} has no '{split}' split")
        pairs = tqdm(read_split(raw, sources[split], listing.get("downloads")), desc=f"clean {split}",
                     unit="pairs", mininterval=1.0)
        texts[split], report = clean_pairs(pairs, split == "train", max_ratio, max_words)
        reports[split] = report
        if not texts[split]:
            raise DataError(f"{split}: no pair survived cleaning ({report.as_dict()['dropped']})")

    model = train_vocab((s for pair in texts["train"] for s in pair), out / "spm.model",
                        get(params, "prepare.vocab_size", int, minimum=8),
                        get(params, "prepare.model_type", str), get(params, "prepare.seed", int),
                        get(params, "prepare.max_vocab_sentences", int, minimum=1))
    vocab = SubwordVocab(model)
    for split in splits:
        en = vocab.encode([p[0] for p in texts[split]])
        fr = vocab.encode([p[1] for p in texts[split]])
        if split == "train":
            # The Neural GPU memory must hold source and target+EOS: wider pairs cannot be trained.
            keep = [i for i in range(len(en)) if pair_width(len(en[i]), len(fr[i])) <= max_width]
            if len(keep) < len(en):
                reports[split].drop("wider_than_max_width", f"{split} (sub-words > {max_width})",
                                    count=len(en) - len(keep))
            reports[split].kept = len(keep)
            if not keep:
                raise DataError(f"train: every pair is wider than prepare.max_width={max_width} sub-words")
            texts[split] = [texts[split][i] for i in keep]
            en, fr = [en[i] for i in keep], [fr[i] for i in keep]
            longest = {"words": max(len(p[0].split()) for p in texts[split]), "subwords": max(map(len, en))}
        write_lines(out / f"{split}.en", (p[0] for p in texts[split]))
        write_lines(out / f"{split}.fr", (p[1] for p in texts[split]))
        save_split(out / f"{split}.npz", en, fr)

    references, records = {}, {}
    for split in splits:
        if split == "train":
            continue
        extra = listing.get("references", {}).get(split, [])
        if split != "dev":
            references[split] = [f"{split}.fr"] + extra
        for name in extra:
            copy_aligned(raw, out, name, reports[split], split)
        if split in listing.get("noun_phrases", {}):
            records[split] = listing["noun_phrases"][split]
            copy_aligned(raw, out, records[split], reports[split], split)

    report = {split: reports[split].as_dict() for split in splits}
    write_json(out / "report.json", report)
    files = sorted(p.name for p in out.iterdir() if p.name != "manifest.json" and not p.name.endswith(".tmp"))
    write_json(out / "manifest.json", {"vocab_size": len(vocab),
                                       "pairs": {s: reports[s].kept for s in splits},
                                       "references": references, "noun_phrases": records,
                                       "longest_train_source": longest,
                                       "files": {name: file_digest(out / name) for name in files}})
    return report


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--raw", required=True, help="the download stage's output directory")
    p.add_argument("--out", required=True, help="directory for the prepared data")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        report = prepare(params, Path(args.raw), out)
    except (ParamsError, DataError, ValueError) as err:
        sys.exit(f"error: {err}")
    for split, r in report.items():
        print(f"{split}: read {r['read']}, kept {r['kept']}, dropped {r['dropped']}")


if __name__ == "__main__":
    run_stage(main, "prepare")
