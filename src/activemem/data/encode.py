"""Sub-word encoding of prepared text, one chunk of pairs at a time.

The prepare stage never holds a split in memory: it reads ``CHUNK_PAIRS`` aligned lines of the English
and French files, encodes them with sentencepiece (its ``num_threads`` encode a chunk in parallel, in
C++, outside Python's lock), hands the ids to ``store.SplitWriter`` and forgets them. Memory is then a
function of the chunk size, not of the corpus: a chunk of 20,000 pairs of WMT-length sentences is a
few tens of MB of Python lists, and the ids do not depend on the chunk size or the thread count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from activemem.data.lines import DataError, numbered_lines
from activemem.data.store import pair_width
from activemem.data.vocab import SubwordVocab

CHUNK_PAIRS = 20_000


def _strict_lines(path: Path) -> Iterator[str]:
    """The lines of a file this package wrote (UTF-8 by construction: anything else is damage)."""
    for number, text in numbered_lines(path):
        if text is None:
            raise DataError(f"{path}:{number}: not valid UTF-8")
        yield text


def text_chunks(en_path: Path, fr_path: Path, size: int = CHUNK_PAIRS) -> Iterator[tuple[list[str], list[str]]]:
    """``(english, french)`` lists of at most ``size`` aligned lines each, to the end of both files."""
    en_lines, fr_lines = _strict_lines(en_path), _strict_lines(fr_path)
    read = 0
    while True:
        en = [line for _, line in zip(range(size), en_lines)]
        fr = [line for _, line in zip(range(len(en) or 1), fr_lines)]
        if len(en) != len(fr) or (not en and fr):
            longer = en_path if len(en) > len(fr) else fr_path
            raise DataError(f"{longer}:{read + min(len(en), len(fr)) + 1}: {en_path.name} and {fr_path.name} "
                            f"have different line counts")
        if not en:
            return
        read += len(en)
        yield en, fr


def encode_chunk(vocab: SubwordVocab, en: list[str], fr: list[str], threads: int):
    """Ids of both sides and each pair's memory width (``store.pair_width``)."""
    en_ids, fr_ids = vocab.encode(en, threads), vocab.encode(fr, threads)
    widths = pair_width(np.fromiter(map(len, en_ids), np.int64, len(en_ids)),
                        np.fromiter(map(len, fr_ids), np.int64, len(fr_ids)))
    return en_ids, fr_ids, widths
