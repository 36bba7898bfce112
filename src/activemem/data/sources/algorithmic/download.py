"""The algorithmic source's download: every split generated into the stage's folder (``data/algorithmic.py``).

Each split is ``<split>.src`` / ``<split>.tgt`` (symbols separated by spaces): train, dev, and one test
split per task and length, ``test_<task>_<L>``; ``sources.json`` adds ``tests``, each test split's
``{split, task, length, distinct_inputs, held_out}``, ``train_length`` and ``held_out_inputs``. Test
inputs are distinct and held out: train and dev never contain one (``algorithmic.held_out``).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from activemem.atomic import open_atomic
from activemem.data import algorithmic
from activemem.data.lines import LineWriter


def generate(params: dict, out: Path) -> dict:
    """Write the algorithmic tasks' splits into ``out``; returns sources.json's keys after ``source``."""
    data = params["data"]  # checked by AlgorithmicData when params.yaml was loaded
    tasks, longest = data["tasks"], data["train_length"]
    # The test inputs first, distinct and held out: train and dev never draw one (issue 29: at length 10,
    # 99 of 100 addition test inputs were also training inputs). A short length has few inputs
    # (2^bits): at most held_out_share of them are held out, the rest stay for training.
    tests, held = [], {}
    for task in tasks:
        for length in data["test_lengths"]:
            split = algorithmic.split_name(task, length)
            held[split] = algorithmic.held_out(data["seed"], task, length, data["sizes"]["test"],
                                               data["held_out_share"])
            tests.append({"split": split, "task": task, "length": length, "distinct_inputs":
                          algorithmic.distinct_inputs(task, length), "held_out": len(held[split])})
    banned = frozenset(src for pairs in held.values() for src, _ in pairs)
    plan = [("train", data["sizes"]["train"], tasks, (1, longest)), ("dev", data["sizes"]["dev"], tasks, (1, longest))]
    splits = {}
    for split, count, split_tasks, lengths in plan:
        rows = ((src, tgt) for *_, src, tgt in algorithmic.generate(data["seed"], split, count, split_tasks,
                                                                    lengths, banned))
        splits[split] = write_pairs(out, split, rows)
    for split, pairs in held.items():
        splits[split] = write_pairs(out, split, pairs)
    return {"splits": splits, "tests": tests, "train_length": longest, "held_out_inputs": len(banned)}


def write_pairs(out: Path, split: str, pairs) -> list[list[str]]:
    """``pairs`` written to ``<split>.src`` and ``<split>.tgt``; returns the split's entry of ``splits``."""
    names = [f"{split}.src", f"{split}.tgt"]
    with ExitStack() as stack:
        writers = [LineWriter(stack.enter_context(open_atomic(out / name)), out / name) for name in names]
        for src, tgt in pairs:
            writers[0].write(src)
            writers[1].write(tgt)
    return [names]
