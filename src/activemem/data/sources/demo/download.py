"""The demo source's download: the corpus generated into the stage's folder (``data/demo.py``).

For every split of ``data.sizes`` (train, dev, test, and e.g. ``test_long``) it writes ``<split>.en``
and ``<split>.fr``; sources.json's paths are relative to that folder. Each evaluation split (every split
but train and dev) also gets:

* ``<split>.fr.ref2`` … ``<split>.fr.ref<N>`` (N = ``data.references``): further valid references of
  each English sentence, with the other French synonyms (``demo.valid_references``); ``<split>.fr``
  stays the first. A sentence with fewer than N distinct valid references (one without synonym
  nouns has one) repeats its first reference in the remaining streams: sacreBLEU needs every stream
  to have a line per sentence, and a repeated reference changes no score (``evaluate/bleu.py``).
* ``<split>.np.jsonl``: per sentence, what the agreement checker needs (``Pair.agreement_record``).

``sources.json`` lists them under ``references`` and ``noun_phrases``, keyed by split.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

from activemem.atomic import open_atomic
from activemem.data import demo
from activemem.data.lines import LineWriter
from activemem.progress import progress_bar

SPLITS = ("train", "dev", "test")  # every scale's; data.sizes may name more (test_long)


def demo_splits(data: dict) -> list[str]:
    """train, dev, test, then any further split named in ``data.sizes`` (e.g. test_long)."""
    return list(SPLITS) + [s for s in data["sizes"] if s not in SPLITS]


def demo_lines(refs: list, n_refs: int) -> list[str]:
    """One sentence's line in each file of its split: English, French, then for an evaluation split
    (``n_refs`` > 0) references 2…N (a sentence with fewer distinct valid references repeats its first:
    sacreBLEU needs a line in every stream, and a repeated reference changes no score) and its record."""
    lines = [refs[0].en, refs[0].fr]
    if n_refs:
        lines += [(refs[r] if r < len(refs) else refs[0]).fr for r in range(1, n_refs)]
        lines.append(json.dumps(refs[0].agreement_record(), ensure_ascii=False))
    return lines


def generate(params: dict, out: Path) -> dict:
    """Write the demo corpus into ``out``; returns sources.json's keys after ``source``: ``splits``,
    then the evaluation splits' further ``references`` and ``noun_phrases`` (see the module docstring)."""
    data = params["data"]  # checked by DemoData when params.yaml was loaded
    seed, depth, n_refs = data["seed"], data["max_depth"], data["references"]
    sources, references, records = {}, {}, {}
    for split in demo_splits(data):
        count = data["sizes"][split]
        fewest, most = data["clauses"][split]
        evaluation = split not in ("train", "dev")  # scored with BLEU: several references and records
        wanted = n_refs if evaluation else 1
        names = [f"{split}.en", f"{split}.fr"]
        if evaluation:
            # further valid references, then the agreement records (see the module docstring)
            references[split] = [f"{split}.fr.ref{r + 1}" for r in range(1, n_refs)]
            records[split] = f"{split}.np.jsonl"
            names += references[split] + [records[split]]
        sources[split] = [names[:2]]
        items = progress_bar(demo.generate_references(seed, split, count, wanted, most, depth, fewest),
                             total=count, desc=f"demo {split}", unit="pairs", mininterval=1.0)
        with ExitStack() as stack:  # every file of the split written as the pairs come: memory stays flat
            writers = [LineWriter(stack.enter_context(open_atomic(out / name)), out / name) for name in names]
            for refs in items:
                for writer, line in zip(writers, demo_lines(refs, n_refs if evaluation else 0)):
                    writer.write(line)
    return {"splits": sources, "references": references, "noun_phrases": records}
