"""``paper/published.yaml``: the published Table 1, where a cell may be exact, a bound, a relation
to another row, or unknown — each with its provenance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from activemem.models import PAPER_NAMES

BOUND = re.compile(r"^\s*(<=|>=|<|>)\s*([-+]?\d+(?:\.\d+)?)\s*$")
RELATION = re.compile(r"^\s*(<=|>=|<|>)\s*([a-z_]+)\s*$")
OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@dataclass(frozen=True)
class Cell:
    kind: str                   # exact | bound | relation | unknown
    value: float | None = None  # exact value or bound
    op: str | None = None       # <, <=, >, >= for bounds and relations
    other: str | None = None    # the other row of a relation
    provenance: str = ""

    def display(self, digits: int) -> str:
        if self.kind == "exact":
            return f"{self.value:.{digits}f}"
        if self.kind == "bound":
            return f"{self.op} {self.value:g}"
        if self.kind == "relation":
            return f"{self.op} {PAPER_NAMES.get(self.other, self.other)}"
        return "?"

    def holds_for(self, value: float, row_values: dict[str, float]) -> bool | None:
        """Does a regenerated ``value`` satisfy this published cell? None when nothing is known."""
        if self.kind == "bound":
            return OPS[self.op](value, self.value)
        if self.kind == "relation" and self.other in row_values:
            return OPS[self.op](value, row_values[self.other])
        return None


def parse_cell(raw: dict, where: str) -> Cell:
    if not isinstance(raw, dict) or "value" not in raw or "provenance" not in raw:
        raise ValueError(f"{where}: each cell needs 'value' and 'provenance', got {raw!r}")
    value, provenance = raw["value"], str(raw["provenance"])
    if value == "unknown":
        return Cell("unknown", provenance=provenance)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Cell("exact", float(value), provenance=provenance)
    if isinstance(value, str) and (m := BOUND.match(value)):
        return Cell("bound", float(m.group(2)), m.group(1), provenance=provenance)
    if isinstance(value, str) and (m := RELATION.match(value)) and m.group(2) in PAPER_NAMES:
        return Cell("relation", op=m.group(1), other=m.group(2), provenance=provenance)
    raise ValueError(f"{where}: value {value!r} is not a number, a bound like '< 5', a relation like "
                     f"'< extended_neural_gpu' or 'unknown'")


def load_published(path: str | Path) -> dict:
    """``{"columns": {key: label}, "models": {name: {column: Cell}}, ...}``."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text())
    columns = raw["columns"]
    cells = {}
    for model, row in raw["models"].items():
        if model not in PAPER_NAMES:
            raise ValueError(f"{path}: unknown model {model!r}; known: {sorted(PAPER_NAMES)}")
        missing = set(columns) - set(row)
        if missing:
            raise ValueError(f"{path}: model {model!r} lacks columns {sorted(missing)}")
        cells[model] = {col: parse_cell(row[col], f"{path}: {model}.{col}") for col in columns}
    return {"table": raw.get("table", ""), "task": raw.get("task", ""), "columns": columns, "models": cells}
