"""The WMT'14 manifest (``wmt14.yaml``) and the download-and-extract step built on it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from activemem.data.download import ChecksumLock, Expected, Retry, fetch_locked, resolve_url
from activemem.data.extract import check_archive, extract_members

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


def mirror_from(params_mirror: str | None) -> str | None:
    """The environment variable wins over ``params.yaml`` so a user can redirect one run."""
    return os.environ.get(MIRROR_ENV) or params_mirror or None


def fetch_corpus(corpus: Corpus, downloads: Path, extracted: Path, lock: ChecksumLock,
                 checksums: dict[str, Expected], mirror: str | None, progress: bool = True,
                 retry: Retry = Retry()) -> tuple[Path, Path]:
    """Download (or reuse) the corpus's archive and extract its two sides; returns (en, fr) paths.

    A fresh download is read to the end and must hold both sides before it is renamed into place
    or its checksum is recorded.
    """
    members = [corpus.en, corpus.fr]
    archive = fetch_locked(resolve_url(corpus.url, mirror), downloads / corpus.archive_name, lock,
                           checksums.get(corpus.archive_name, Expected()),
                           lambda path, label: check_archive(path, members, label), retry, progress)
    target = extracted / corpus.archive_name.split(".")[0]
    paths = [target / corpus.en, target / corpus.fr]
    missing = [m for m, p in zip(members, paths) if not p.exists()]
    if missing:
        extract_members(archive, missing, target)
    return paths[0], paths[1]
