"""Vouched copies: archives that differ from the published file, accepted because someone said so.

A copy of a WMT'14 archive that is not byte for byte the published file (a re-compressed tarball on
a cluster, an older snapshot) is refused, unless the committed file named by ``data.vouched``
(``pipeline/wmt14.vouched.yaml``) has an entry for it::

    training-parallel-nc-v9.tgz: {sha256: "<64 hex>", size: <bytes>, vouched_by: "who, and why"}

The entry names one copy exactly (its SHA-256 and size), so it cannot wave through whatever happens
to sit under that name later, and it says who takes responsibility, which the download stage carries
into ``sources.json`` (``verified_by: vouched``) for the prepare stage's provenance. A file that does
not exist holds no entries; every problem in one that does is a ``VouchedError`` naming its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

PLACEHOLDER = "<who you are, and why this copy is fine>"
KEYS = ("sha256", "size", "vouched_by")


class VouchedError(ValueError):
    pass


@dataclass(frozen=True)
class Vouch:
    sha256: str
    size: int
    vouched_by: str
    line: int  # where the entry is, for messages


def paste_line(name: str, sha256: str, size: int) -> str:
    """The entry a user would add to vouch for this copy (``vouched_by`` left for them to fill)."""
    # the digest quoted: YAML would read one made only of decimal digits as a number
    return f'{name}: {{sha256: "{sha256}", size: {size}, vouched_by: "{PLACEHOLDER}"}}'


def _entry(where: str, name, value) -> tuple[str, str, int, str]:
    """The checked fields of one entry; raises ``VouchedError`` naming ``where`` (file:line)."""
    if not isinstance(name, str):
        raise VouchedError(f"{where}: {name!r} is not an archive file name")
    if not isinstance(value, dict) or set(value) != set(KEYS):
        keys = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise VouchedError(f"{where}: the entry for {name} must have exactly the keys {', '.join(KEYS)} "
                           f"(got {keys})")
    sha256, size, who = value["sha256"], value["size"], value["vouched_by"]
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise VouchedError(f"{where}: {name}.sha256 must be 64 lower-case hex digits, got {sha256!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise VouchedError(f"{where}: {name}.size must be the copy's size in bytes, got {size!r}")
    if not isinstance(who, str) or not who.strip() or who.strip() == PLACEHOLDER:
        raise VouchedError(f"{where}: {name}.vouched_by must say who vouches for this copy and why, "
                           f"got {who!r}")
    return name, sha256, size, who.strip()


def load_vouched(path: str | Path) -> dict[str, Vouch]:
    """The entries of ``path`` by archive file name ({} when the file is missing or has none)."""
    path = Path(path)
    if not path.exists():
        return {}
    text = path.read_text()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise VouchedError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if root is None:  # comments only: the file as shipped
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise VouchedError(f"{path}:{root.start_mark.line + 1}: must map archive file names to entries "
                           f"like {paste_line('<archive>', '<sha256>', 0)}")
    loader = yaml.SafeLoader("")
    entries: dict[str, Vouch] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        name, sha256, size, who = _entry(f"{path}:{line}", loader.construct_object(key_node, deep=True),
                                         loader.construct_object(value_node, deep=True))
        if name in entries:  # YAML would silently keep the last one
            raise VouchedError(f"{path}:{line}: {name} is vouched for twice (first on line "
                               f"{entries[name].line})")
        entries[name] = Vouch(sha256, size, who, line)
    return entries
