"""What a data source types its own ``<scale>.data`` block with, and how it refuses a setting.

``schema.py`` types every other section of ``params.yaml`` with the same ``key`` and quotes values with
the same ``shown``, and ``config.ParamsError`` is this ``ParamsError``. They live here, in the data
layer, because a source's module sits in that layer and may not import from ``schema.py`` or
``config.py`` above it (``tests/test_layers.py``).
"""

from __future__ import annotations

import reprlib
from dataclasses import field
from typing import Any, Callable

# A message shows at most this much of the value it refuses: a wrong value may be a huge list (a YAML
# alias expanded, a pasted array), and formatting all of it would hang the check and flood the terminal.
SHOWN_CHARS = 120


class ParamsError(ValueError):
    """A setting of ``params.yaml`` refused: the message names the file and the key."""


def _repr_limits() -> reprlib.Repr:
    limits = reprlib.Repr()
    limits.maxlevel, limits.maxlist, limits.maxtuple, limits.maxdict = 3, 8, 8, 6
    limits.maxstring = limits.maxother = limits.maxlong = SHOWN_CHARS
    return limits


_REPR = _repr_limits()


def shown(value: Any) -> str:
    """``repr(value)`` in at most ``SHOWN_CHARS`` characters (``...`` marks what is left out); it visits
    only the first few items of each level, so it takes no time whatever the value's size."""
    text = _REPR.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def key(doc: str, *, low: float | None = None, high: float | None = None, above: float | None = None,
        below: float | None = None, choices: Callable[[], list[str]] | None = None) -> Any:
    """One key of ``params.yaml``: ``doc`` says what it is; numbers must be ``>= low``, ``<= high``,
    ``> above`` and ``< below``; ``choices`` lists the allowed strings where they live elsewhere."""
    return field(metadata={"doc": doc, "low": low, "high": high, "above": above, "below": below,
                           "choices": choices})
