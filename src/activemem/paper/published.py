"""``paper/published.yaml``: the published Table 1, where a cell may be exact, a bound, a relation
to another row, or unknown — each with its provenance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from activemem import models
from activemem.paper.tables import TABLE1_KEYS

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
            return f"{self.op} {models.label(self.other)}"
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
    if isinstance(value, str) and (m := RELATION.match(value)) and m.group(2) in models.REGISTRY:
        return Cell("relation", op=m.group(1), other=m.group(2), provenance=provenance)
    raise ValueError(f"{where}: value {value!r} is not a number, a bound like '< 5', a relation like "
                     f"'< extended_neural_gpu' or 'unknown'")


def load_published(path: str | Path) -> dict:
    """``{"table", "task", "models": {name: {column: Cell}}}``; every row holds every Table 1 column
    (``tables.TABLE1``, the one definition of those columns)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), dict):
        raise ValueError(f"{path}: needs a mapping 'models: {{name: {{column: cell}}}}'")
    cells = {}
    for model, row in raw["models"].items():
        if model not in models.REGISTRY:
            raise ValueError(f"{path}: unknown model {model!r}; known: {sorted(models.NAMES)}")
        if not isinstance(row, dict):
            raise ValueError(f"{path}: model {model!r} needs one cell per column {list(TABLE1_KEYS)}")
        missing, extra = set(TABLE1_KEYS) - set(row), set(row) - set(TABLE1_KEYS)
        if missing or extra:
            raise ValueError(f"{path}: model {model!r} must have exactly the Table 1 columns "
                             f"{list(TABLE1_KEYS)}; missing {sorted(missing)}, unknown {sorted(extra)}")
        cells[model] = {col: parse_cell(row[col], f"{path}: {model}.{col}") for col in TABLE1_KEYS}
    return {"table": raw.get("table", ""), "task": raw.get("task", ""), "models": cells}
