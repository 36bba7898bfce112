"""The algorithmic source: the Neural GPU's tasks (``data/algorithmic.py``), generated from a seed.

``AlgorithmicData`` is the schema of ``<scale>.data`` with ``source: algorithmic``; ``download.py``
writes the splits. The pairs are symbol sequences, not sentences, so its registry entry
(``data/sources/__init__.py``) names steps of its own: the prepare stage encodes them with the fixed
symbol vocabulary (``data/symbols.py``), the evaluate stage scores sequence accuracy
(``evaluate/algorithmic.py``) and the paper stage writes a table per task (``paper/algorithmic.py``).

- ``download.py``  writes each task's splits from the data seed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

from activemem.data.sources.fields import key, shown

Path = tuple[str, ...]  # a key path below <scale>.data


def _tasks() -> tuple[str, ...]:
    from activemem.data.algorithmic import TASKS  # torch-free
    return TASKS


@dataclass(frozen=True)
class AlgorithmicData:
    """``<scale>.data`` with ``source: algorithmic``: the Neural GPU's tasks, generated from a seed
    (``data/algorithmic.py``); one model learns every task of ``tasks``, each input led by its marker."""

    source: Literal["algorithmic"] = key("where the pairs come from: the algorithmic task generators")
    seed: int = key("seed of the generators", low=0)
    tasks: list[str] = key("tasks, trained together (copy, reverse, sort, add, mul)", choices=lambda: list(_tasks()))
    sizes: dict[str, int] = key("pairs of train and dev, and of each test split (one per task and length)", low=1)
    train_length: int = key("longest training (and dev) input, symbols without the task marker", low=3)
    test_lengths: list[int] = key("input length of each test split (symbols), increasing", low=3)
    held_out_share: float = key("test inputs are distinct and never in train or dev; at most this share of a "
                                "length's distinct inputs is held out (short lengths have few)", above=0, below=1)

    def problems(self) -> Iterator[tuple[Path, str]]:
        if not self.tasks or len(set(self.tasks)) < len(self.tasks):
            yield ("tasks",), f"must name at least one task, each once, got {shown(self.tasks)}"
        for split in ("train", "dev", "test"):
            if split not in self.sizes:
                yield ("sizes", split), "is missing"
        for split in self.sizes:
            if split not in ("train", "dev", "test"):
                yield ("sizes", split), "is not a split of the algorithmic source (train, dev, test)"
        if not self.test_lengths or self.test_lengths != sorted(set(self.test_lengths)):
            yield ("test_lengths",), f"must be at least one increasing length, got {shown(self.test_lengths)}"
