"""The demo source: the embedded English→French grammar (``data/demo.py``), generated from a seed.

``DemoData`` is the schema of ``<scale>.data`` with ``source: demo``; ``download.py`` writes the corpus.
Its registry entry (``data/sources/__init__.py``) says what the report calls it, and that every test
word's class is known (the evaluation scores by word class).

- ``download.py``  writes the corpus from the grammar and the data seed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

from activemem.data.sources.fields import key, shown

Path = tuple[str, ...]  # a key path below <scale>.data


@dataclass(frozen=True)
class DemoData:
    """``<scale>.data`` with ``source: demo``: the embedded English→French grammar."""

    source: Literal["demo"] = key("where the corpus comes from: the embedded demo grammar")
    seed: int = key("seed of the corpus generator", low=0)
    sizes: dict[str, int] = key("sentence pairs per split (train, dev, test; more splits are optional)", low=1)
    clauses: dict[str, list[int]] = key("[fewest, most] clauses per sentence, per split of sizes", low=1)
    max_depth: int = key("nesting of 'of …' phrases and relative clauses", low=0)
    references: int = key("reference streams of the evaluation splits (sacreBLEU nrefs)", low=1)

    def problems(self) -> Iterator[tuple[Path, str]]:
        for split in ("train", "dev", "test"):
            if split not in self.sizes:
                yield ("sizes", split), "is missing"
        for split in self.sizes:
            if split not in self.clauses:
                yield ("clauses", split), "is missing"
        for split, value in self.clauses.items():
            if split not in self.sizes:
                yield ("clauses", split), f"names no split of data.sizes ({', '.join(self.sizes)})"
            elif len(value) != 2 or value[0] > value[1]:
                yield ("clauses", split), f"must be [fewest, most] clauses with 1 <= fewest <= most, got {shown(value)}"
