"""How much of each evaluation split is also in the training data: a test set leaking into training
inflates every score, and a user's own archives (``data.archives``) can hold exactly that.

Compared after cleaning, on the text the models see: the kept training pairs against each evaluation
split's pairs, whole pairs and English sources alone (a source seen in training with another
translation helps too). Memory stays flat in the training corpus: only the evaluation splits' lines
are held, as 16-byte digests, and the training text is streamed past them once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from activemem.data.encode import text_chunks
from activemem.data.lines import read_lines
from activemem.progress import progress_bar

EXAMPLES = 3  # the first line numbers of each split that are also in training, named in the report


def _key(*parts: str) -> bytes:
    return hashlib.blake2b("\t".join(parts).encode(), digest_size=16).digest()


def overlap_with_train(folder: Path, splits: list[str]) -> dict[str, dict]:
    """For each split of ``splits`` (``<split>.en``/``.fr`` in ``folder``, beside ``train.en``/``.fr``):
    ``{pairs, sources, sentences, examples}``: how many of its sentence pairs, and of its English
    sources, also occur in training, out of how many, and the first ``split.en:LINE`` of a shared pair
    (or, if none, of a shared source)."""
    pairs: dict[bytes, list[tuple[str, int]]] = {}
    sources: dict[bytes, list[tuple[str, int]]] = {}
    sizes = {}
    for split in splits:
        en, fr = read_lines(folder / f"{split}.en"), read_lines(folder / f"{split}.fr")
        sizes[split] = len(en)
        for number, (src, tgt) in enumerate(zip(en, fr), start=1):
            pairs.setdefault(_key(src, tgt), []).append((split, number))
            sources.setdefault(_key(src), []).append((split, number))
    seen_pairs, seen_sources = set(), set()
    chunks = text_chunks(folder / "train.en", folder / "train.fr")
    for en, fr in progress_bar(chunks, desc="overlap with train", unit="chunks", mininterval=1.0):
        for src, tgt in zip(en, fr):
            source = _key(src)
            if source in sources:
                seen_sources.add(source)
                pair = _key(src, tgt)
                if pair in pairs:
                    seen_pairs.add(pair)
    report = {}
    for split in splits:
        shared_pairs = sorted(n for key in seen_pairs for s, n in pairs[key] if s == split)
        shared_sources = sorted(n for key in seen_sources for s, n in sources[key] if s == split)
        report[split] = {"pairs": len(shared_pairs), "sources": len(shared_sources), "sentences": sizes[split],
                         "examples": [f"{split}.en:{n}" for n in (shared_pairs or shared_sources)[:EXAMPLES]]}
    return report
