"""The WMT'14 manifest (``wmt14.yaml``) and the mirror setting (``archives.py`` uses both)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from activemem.data.download import BadURLError, Expected, url_problem

MIRROR_ENV = "ACTIVEMEM_MIRROR"
# What a checksums entry may hold; each value needs a ``sources`` line saying who published it.
VALUE_PATTERNS = {"sha256": r"[0-9a-f]{64}", "md5": r"[0-9a-f]{32}", "size": None}


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class Corpus:
    name: str
    url: str
    en: str
    fr: str

    @property
    def archive_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _expected(where: str, name: str, entry) -> Expected:
    """One ``checksums`` entry, checked: known keys, well-formed values, a source for each value."""
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: checksums.{name} must be a mapping")
    sources = entry.get("sources") or {}
    unknown = set(entry) - set(VALUE_PATTERNS) - {"sources"}
    if unknown or not isinstance(sources, dict):
        raise ManifestError(f"{where}: checksums.{name}: unknown keys {sorted(unknown)} "
                            f"(allowed: {sorted(VALUE_PATTERNS)} and sources)")
    for key, pattern in VALUE_PATTERNS.items():
        value = entry.get(key)
        if value is None:
            continue
        if pattern:
            well_formed = isinstance(value, str) and re.fullmatch(pattern, value) is not None
        else:  # a size in bytes
            well_formed = isinstance(value, int) and not isinstance(value, bool) and value > 0
        if not well_formed:
            raise ManifestError(f"{where}: checksums.{name}.{key} is malformed: {value!r}")
        if not sources.get(key):
            raise ManifestError(f"{where}: checksums.{name}.{key} has no sources.{key} "
                                f"(say who published the value)")
    labelled = {k: f"published by {v}" for k, v in sources.items()}
    return Expected(sha256=entry.get("sha256"), md5=entry.get("md5"), size=entry.get("size"),
                    sources=labelled)


def load_manifest(path: str | Path | None = None) -> tuple[dict[str, Corpus], dict[str, Expected]]:
    """The corpora and the published checksums (archive file name -> ``Expected``)."""
    where = str(path) if path else "activemem/data/wmt14.yaml"
    text = Path(path).read_text() if path else resources.files("activemem.data").joinpath("wmt14.yaml").read_text()
    raw = yaml.safe_load(text)
    corpora = {name: Corpus(name, **entry) for name, entry in raw["corpora"].items()}
    checksums = {name: _expected(where, name, entry) for name, entry in (raw.get("checksums") or {}).items()}
    return corpora, checksums


def mirror_from(params_mirror: str | None, setting: str = "data.mirror") -> str | None:
    """The mirror to use: the environment variable wins over ``params.yaml`` so a user can redirect
    one run. One that cannot work is refused here, naming where it was set (``setting``)."""
    from_env = os.environ.get(MIRROR_ENV)
    mirror, where = (from_env, MIRROR_ENV) if from_env else (params_mirror, setting)
    if not mirror:
        return None
    problem = url_problem(mirror)
    if problem:
        raise BadURLError(f"{where} = {mirror!r} is not a usable mirror URL: {problem}")
    return mirror
