"""Time and peak memory of the data path (extract → clean → sub-word model → encode) as the corpus grows.

    python benchmarks/prepare_scale.py                                   # WMT-like corpus, 0.1M and 1M pairs
    python benchmarks/prepare_scale.py --pairs 100000 1000000 3000000 --out prepare_scale.md
    python benchmarks/prepare_scale.py --source demo --pairs 20000 200000  # the demo grammar

No WMT download exists on the machines this package is developed on, so the corpus is synthetic, built
to load the data path the way WMT'14 En-Fr does (about 40.8 million pairs):

- ``wmt-like``: sentence lengths drawn from a log-normal with WMT'14's shape (English mean about 27
  words, a long tail past 100; French about 1.1 times longer), words drawn from a Zipf distribution over
  100,000 invented word forms with accented letters, so that sentencepiece has a real vocabulary to
  learn and the cleaning filters (``max_words``, ``max_ratio``) drop a realistic share. It is packed in
  the WMT archive layout (``training-parallel-nc-v9.tgz``) and extracted with the download stage's code.
- ``demo``: the embedded demo grammar at the asked training size (short, one-clause sentences).

Every step runs in its own process (``os.wait4`` gives that process's peak resident memory), and the
prepare stage reports each of its phases (``--stats``: wall time and peak memory sampled every 50 ms).
The sub-word model is trained on at most ``--vocab-sentences`` sentences (``prepare.max_vocab_sentences``,
held fixed across sizes so that what grows with the corpus shows): its memory depends on that cap, not
on the corpus, and is measured separately by ``--vocab-sentences`` runs. The last table extrapolates each
phase's time linearly (per pair, from the largest size) and its memory as flat to ``--extrapolate``
pairs (40.8M: WMT'14 En-Fr).
"""

from __future__ import annotations

import argparse
import json
import os
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
MIB = 1 << 20
WMT14_PAIRS = 40_800_000
# The layout of the real archive (src/activemem/data/wmt14.yaml, news_commentary_v9).
ARCHIVE = "training-parallel-nc-v9.tgz"
MEMBERS = ("training/news-commentary-v9.fr-en.en", "training/news-commentary-v9.fr-en.fr")
EVALUATION_PAIRS = 3000  # the size of newstest2013/newstest2014


# ---- the synthetic corpus -------------------------------------------------------------------------
def lexicon(size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct invented word forms of 1-4 syllables, some with French accented letters."""
    onsets = list("bcdfghjlmnprstv") + ["ch", "qu", "tr", "pl", "gr", ""]
    vowels = list("aeiou") + ["é", "è", "ou", "ai", "eau", "â"]
    codas = ["", "", "n", "r", "s", "t", "l"]
    syllables = [o + v + c for o in onsets for v in vowels for c in codas]
    picks, counts = rng.integers(0, len(syllables), (2 * size, 4)), rng.integers(1, 5, 2 * size)
    words = dict.fromkeys("".join(syllables[i] for i in row[:k]) for row, k in zip(picks, counts))
    words = list(words)[:size]
    words += [f"{w}{string.ascii_lowercase[i % 26]}" for i, w in enumerate(words[:size - len(words)])]
    return np.array(words, dtype=object)


def sentence_lengths(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """English and French word counts with WMT'14's shape: log-normal, mean ≈ 27, a tail past 100."""
    en = np.clip(np.rint(rng.lognormal(mean=3.1, sigma=0.6, size=n)), 1, 250).astype(int)
    fr = np.clip(np.rint(en * rng.lognormal(mean=np.log(1.1), sigma=0.15, size=n)), 1, 300).astype(int)
    return en, fr


def write_side(path: Path, lengths: np.ndarray, words: np.ndarray, rng: np.random.Generator) -> None:
    ranks = np.arange(1, len(words) + 1)
    cumulative = np.cumsum(1.0 / ranks ** 1.1)
    cumulative /= cumulative[-1]
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, len(lengths), 50_000):
            chunk = lengths[start:start + 50_000]
            ids = np.searchsorted(cumulative, rng.random(int(chunk.sum())))
            tokens, ends = words[ids], np.cumsum(chunk)
            f.writelines(" ".join(tokens[end - k:end]) + " .\n" for k, end in zip(chunk, ends))


def wmt_like(folder: Path, pairs: int, seed: int) -> dict[str, tuple[Path, Path]]:
    """Training text for ``pairs`` pairs and two 3,000-pair evaluation splits, as plain files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    english, french = lexicon(100_000, rng), lexicon(100_000, rng)
    files = {}
    for split, n in (("train", pairs), ("dev", EVALUATION_PAIRS), ("test", EVALUATION_PAIRS)):
        en_len, fr_len = sentence_lengths(n, rng)
        files[split] = (folder / f"{split}.en", folder / f"{split}.fr")
        write_side(files[split][0], en_len, english, rng)
        write_side(files[split][1], fr_len, french, rng)
    return files


# ---- measuring ------------------------------------------------------------------------------------
def run_measured(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run ``cmd``; its wall time and its own peak resident memory (``wait4``), or the error."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{output.decode()[-3000:]}")
    return {"seconds": time.perf_counter() - start, "peak_rss_mib": usage.ru_maxrss * 1024 / MIB}


EXTRACT = """
import sys
from activemem.data.extract import check_archive, extract_members
archive, target, members = sys.argv[1], sys.argv[2], sys.argv[3:]
check_archive(archive, members)
extract_members(archive, members, target)
"""


def bench_params(work: Path, args) -> Path:
    """params.yaml with a ``bench`` scale: the paper preset's cleaning and widths, the asked vocabulary."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["bench"] = {**raw["news"], "prepare": {"vocab_size": args.vocab_size, "max_words": 100,
                                               "max_vocab_sentences": args.vocab_sentences,
                                               "threads": args.threads}}
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def one_size(pairs: int, args, work: Path) -> list[dict]:
    work.mkdir(parents=True)
    raw = work / "raw"
    raw.mkdir()
    rows = []
    params = bench_params(work, args)
    if args.source == "demo":
        demo = yaml.safe_load((REPO / "params.yaml").read_text())
        demo["demo"]["data"]["sizes"]["train"] = pairs
        demo["demo"]["prepare"].update(max_vocab_sentences=args.vocab_sentences, threads=args.threads)
        params = work / "params.yaml"
        params.write_text(yaml.safe_dump(demo, sort_keys=False))
        scale = "demo"
        step = run_measured([sys.executable, "-m", "activemem.stages.download", "--params", str(params),
                             "--scale", scale, "--out", str(raw)], work)
        rows.append({"pairs": pairs, "phase": "generate (demo grammar)", **step})
    else:
        scale = "bench"
        corpus = wmt_like(work / "text", pairs, args.seed)
        with tarfile.open(work / ARCHIVE, "w:gz", compresslevel=1) as tar:
            for member, path in zip(MEMBERS, corpus["train"]):
                tar.add(path, arcname=member)
        for path in corpus["train"]:
            path.unlink()  # only the archive stays, as after a download
        step = run_measured([sys.executable, "-c", EXTRACT, str(work / ARCHIVE), str(work / "extracted"), *MEMBERS], work)
        rows.append({"pairs": pairs, "phase": "check + extract archive", **step})
        splits = {"train": [[f"../extracted/{m}" for m in MEMBERS]],
                  **{s: [[f"../text/{s}.en", f"../text/{s}.fr"]] for s in ("dev", "test")}}
        (raw / "sources.json").write_text(json.dumps({"source": "wmt14", "splits": splits}))
    stats = work / "phases.json"
    step = run_measured([sys.executable, "-m", "activemem.stages.prepare", "--params", str(params), "--scale", scale,
                         "--raw", str(raw), "--out", str(work / "prepared"), "--stats", str(stats)], work,
                        env={**os.environ, "TQDM_DISABLE": "1"})
    rows += [{"pairs": pairs, **p, "phase": f"prepare: {p['phase']}"} for p in json.loads(stats.read_text())]
    rows.append({"pairs": pairs, "phase": "prepare (whole stage)", **step})
    report = json.loads((work / "prepared" / "report.json").read_text())
    rows[-1]["kept"] = report["train"]["kept"]
    disk = sum(p.stat().st_size for p in (work / "prepared").iterdir())
    rows[-1]["prepared_mib"] = disk / MIB
    return rows


VOCAB_ONLY = """
import sys
from activemem.data.encode import text_chunks
from activemem.data.vocab import train_vocab
from pathlib import Path
folder, out, cap, size, threads = Path(sys.argv[1]), Path(sys.argv[2]), *map(int, sys.argv[3:])
sentences = (s for en, fr in text_chunks(folder / "train.en", folder / "train.fr") for p in zip(en, fr) for s in p)
train_vocab(sentences, out / "spm.model", size, "unigram", 1, cap, threads)
"""


def vocab_caps(caps: list[int], prepared: Path, args) -> list[dict]:
    """The sub-word model alone, on the prepared training text, at each ``max_vocab_sentences`` cap."""
    rows = []
    for cap in caps:
        out = prepared.parent / f"vocab-{cap}"
        out.mkdir()
        step = run_measured([sys.executable, "-c", VOCAB_ONLY, str(prepared), str(out), str(cap),
                             str(args.vocab_size), str(args.threads)], prepared.parent)
        rows.append({"cap": cap, **step})
    return rows


def markdown(rows: list[dict], caps: list[dict], args) -> str:
    lines = ["| training pairs | step | wall time (s) | peak memory (MiB) |", "|--:|:--|--:|--:|"]
    lines += [f"| {r['pairs']:,} | {r['phase']} | {r['seconds']:.1f} | {r['peak_rss_mib']:,.0f} |" for r in rows]
    largest = max(r["pairs"] for r in rows)
    factor = args.extrapolate / largest
    lines += ["", f"Extrapolated to {args.extrapolate:,} pairs: time × {factor:,.1f} from {largest:,} pairs, "
                  f"memory as measured there (flat), except the sub-word model, whose time and memory depend on "
                  f"its sample (`prepare.max_vocab_sentences` = {args.vocab_sentences:,} here), not on the corpus:",
              "", "| step | wall time (h) | peak memory (MiB) |", "|:--|--:|--:|"]
    for r in (r for r in rows if r["pairs"] == largest and r["phase"] != "prepare (whole stage)"):
        scale = 1 if r["phase"] == "prepare: vocab" else factor
        lines.append(f"| {r['phase']} | {r['seconds'] * scale / 3600:.2f} | {r['peak_rss_mib']:,.0f} |")
    whole = next(r for r in rows if r["pairs"] == largest and r["phase"] == "prepare (whole stage)")
    lines += ["", f"Prepared data on disk: {whole['prepared_mib']:,.0f} MiB for {whole['kept']:,} kept pairs "
                  f"(≈ {whole['prepared_mib'] * factor / 1024:,.0f} GiB extrapolated)."]
    if caps:
        lines += ["", f"The sub-word model alone (vocabulary {args.vocab_size:,}, {args.threads} threads) on the "
                      f"{largest:,}-pair training text, by `prepare.max_vocab_sentences`:", "",
                  "| sentences sampled | wall time (s) | peak memory (MiB) |", "|--:|--:|--:|"]
        lines += [f"| {c['cap']:,} | {c['seconds']:.1f} | {c['peak_rss_mib']:,.0f} |" for c in caps]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=("wmt-like", "demo"), default="wmt-like")
    p.add_argument("--pairs", type=int, nargs="+", default=[100_000, 1_000_000])
    p.add_argument("--vocab-size", type=int, default=32_768, help="prepare.vocab_size (paper: 32768)")
    p.add_argument("--vocab-sentences", type=int, default=200_000,
                   help="prepare.max_vocab_sentences, held fixed across sizes")
    p.add_argument("--threads", type=int, default=2, help="prepare.threads")
    p.add_argument("--vocab-caps", type=int, nargs="*", default=[],
                   help="also train the sub-word model alone at these max_vocab_sentences (largest corpus)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--extrapolate", type=int, default=WMT14_PAIRS)
    p.add_argument("--keep", help="keep the corpora and outputs in this folder (default: a temporary one)")
    p.add_argument("--out", help="also write the Markdown table here")
    p.add_argument("--json", help="also write the rows as JSON here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        rows = []
        for pairs in args.pairs:
            rows += one_size(pairs, args, root / f"{args.source}-{pairs}")
            print(f"{pairs:,} pairs done", file=sys.stderr)
        caps = vocab_caps(args.vocab_caps, root / f"{args.source}-{max(args.pairs)}" / "prepared", args)
    table = markdown(rows, caps, args)
    print(table)
    if args.out:
        Path(args.out).write_text(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "vocab_caps": caps}, indent=1))


if __name__ == "__main__":
    main()
