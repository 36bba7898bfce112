"""This run's numbers and verdicts against the committed snapshot of its scale.

``paper/snapshot/<name>/`` holds what a pipeline run of that scale produced when it was committed:
``table1.md`` (``tables.md`` at the algorithmic scale) and ``claims.json``, beside the report and
figures. ``<name>`` is the scale, with ``-<k>seeds`` for a run of k seeds (``converged-3seeds``). A
rerun that moved any number or verdict says so at the top of its report, with the models, the
columns and by how much, and the claims whose verdict changed; a rerun that moved nothing says it is
identical; a scale with no snapshot says there is none. Only numbers and verdicts are compared, cell
by cell: the tables' notes and the claims' wording may change with the code without moving a result.

Both tables are read back from their Markdown (``templates/macros.j2`` writes them): the snapshot's
file and the one this run just wrote, so the two are parsed alike. A cell's number is its first one
(``6.56 ± 0.42``: the mean; ``78.0 (5.6)``: the accuracy); a cell without one is compared as text.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
MARKS = re.compile(r"\s*[⁺†‡§*]+$")  # row marks (beyond the paper, truncated, …): not part of the model
TABLES = ("table1.md", "tables.md")  # translation scales, the algorithmic scale
CLAIMS = "claims.json"
SHOWN_ROWS = 12  # rows of moved numbers named at the top of a report; the algorithmic tables have 20


def snapshot_name(scale: str, seeds: list[int]) -> str:
    """``converged`` for one seed, ``converged-3seeds`` for three."""
    return scale if len(seeds) == 1 else f"{scale}-{len(seeds)}seeds"


def snapshot_files(paper: Path, scale: str, seeds: list[int]) -> list[Path]:
    """The snapshot files this comparison reads, those that exist (for the stage's record of its inputs)."""
    folder = paper / "snapshot" / snapshot_name(scale, seeds)
    return [folder / name for name in (*TABLES, CLAIMS) if (folder / name).is_file()]


def parse_tables(text: str) -> dict[tuple[str, str, str], str]:
    """``{(section, row, column): cell}`` of every Markdown table in ``text``; ``section`` is the last
    ``###`` heading above the table ('' before any), ``row`` the first cell without its marks."""
    cells, section, header = {}, "", None
    for line in text.splitlines():
        if line.startswith("### "):
            section, header = line[4:].strip(), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = row
        elif not all(set(c) <= set(":-") for c in row):
            name = MARKS.sub("", row[0])
            for column, cell in zip(header[1:], row[1:]):
                cells[(section, name, column)] = cell
    return cells


def number(cell: str) -> float | None:
    found = NUMBER.search(cell)
    return float(found.group()) if found else None


def moved(old: str, new: str) -> str:
    """``13.4 → 14.0 (+0.6)``, as many decimals as the table shows; text cells without a difference."""
    a, b = number(old), number(new)
    if a is None or b is None or a == b:  # text, or the same value with another spread (± sd)
        return f"{old} → {new}"
    digits = max(len(x.split(".")[1]) if "." in x and "e" not in x else 0
                 for x in (NUMBER.search(old).group(), NUMBER.search(new).group()))
    if "e" in old.lower() or "e" in new.lower():
        return f"{NUMBER.search(old).group()} → {NUMBER.search(new).group()} ({(b - a) / a:+.1%})" if a else f"{old} → {new}"
    return f"{a:.{digits}f} → {b:.{digits}f} ({b - a:+.{digits}f})"


@dataclass
class Comparison:
    """What moved between the snapshot and this run; ``folder`` None when the scale has no snapshot."""

    folder: str | None
    models: list[str] = field(default_factory=list)     # "Neural GPU: BLEU 13.4 → 14.0 (+0.6), …"
    verdicts: list[str] = field(default_factory=list)   # "claim_id: reproduced → inconclusive"
    table_diff: str = ""                                 # `diff <snapshot>/table1.md table1.md`, unified

    @property
    def identical(self) -> bool:
        return self.folder is not None and not self.models and not self.verdicts

    def text(self) -> str:
        """One paragraph for the top of the report."""
        if self.folder is None:
            return "No committed snapshot of this scale: there is nothing to compare these numbers with."
        if self.identical:
            return (f"Identical to the committed snapshot ({self.folder}): every number of the table and every "
                    f"verdict.")
        parts = []
        if self.models:
            shown = self.models[:SHOWN_ROWS]
            more = len(self.models) - len(shown)
            parts.append("numbers moved: " + "; ".join(shown)
                         + (f"; and {more} more row{'s' if more > 1 else ''} (diff the tables)" if more else ""))
        if self.verdicts:
            parts.append("verdicts changed: " + "; ".join(self.verdicts))
        return f"Differs from the committed snapshot ({self.folder}): " + ". ".join(parts) + "."


def compare_tables(old: dict, new: dict) -> list[str]:
    """A line per row (model, or ``task: model``) whose cells moved, in this run's order."""
    rows: dict[str, list[str]] = {}
    for key in list(dict.fromkeys([*new, *old])):
        section, name, column = key
        row = f"{section}: {name}" if section else name
        if key not in old:
            rows.setdefault(row, []).append(f"{column} {new[key]} (not in the snapshot)")
        elif key not in new:
            rows.setdefault(row, []).append(f"{column} not in this run (snapshot: {old[key]})")
        elif old[key] != new[key]:
            rows.setdefault(row, []).append(f"{column} {moved(old[key], new[key])}")
    lines = []
    for row, changes in rows.items():
        gone = all("not in this run" in c for c in changes)
        added = all("not in the snapshot" in c for c in changes)
        lines.append(f"{row}: " + ("in the snapshot, not in this run" if gone else "not in the snapshot" if added
                                   else ", ".join(changes)))
    return lines


def compare_claims(old: list[dict], new: list[dict]) -> list[str]:
    """A line per claim whose verdict changed, was added or is no longer checked (by claim id)."""
    before, after = {c["id"]: c["verdict"] for c in old}, {c["id"]: c["verdict"] for c in new}
    lines = [f"{i}: {before[i]} → {v}" for i, v in after.items() if i in before and before[i] != v]
    lines += [f"{i}: {v} (a claim the snapshot does not have)" for i, v in after.items() if i not in before]
    lines += [f"{i}: no longer checked (snapshot: {v})" for i, v in before.items() if i not in after]
    return lines


def compare(paper: Path, scale: str, seeds: list[int], out: Path) -> Comparison:
    """This run's tables and claims (written under ``out``) against ``<paper>/snapshot/<name>``."""
    folder = paper / "snapshot" / snapshot_name(scale, seeds)
    if not folder.is_dir():
        return Comparison(None)
    result = Comparison(f"{paper.name}/snapshot/{folder.name}/")
    for name in TABLES:
        if (folder / name).is_file() or (out / name).is_file():
            old = parse_tables((folder / name).read_text()) if (folder / name).is_file() else {}
            new = parse_tables((out / name).read_text()) if (out / name).is_file() else {}
            result.models += compare_tables(old, new)
            if (folder / name).is_file() and (out / name).is_file():
                result.table_diff += "".join(difflib.unified_diff(
                    (folder / name).read_text().splitlines(True), (out / name).read_text().splitlines(True),
                    f"{result.folder}{name}", name))
    if (folder / CLAIMS).is_file():
        result.verdicts = compare_claims(json.loads((folder / CLAIMS).read_text()),
                                         json.loads((out / CLAIMS).read_text()))
    return result
