"""The WMT'14 manifest (``wmt14.yaml``) and the download-and-extract step built on it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from activemem.data.download import ChecksumLock, fetch_locked, resolve_url
from activemem.data.extract import extract_members

MIRROR_ENV = "ACTIVEMEM_MIRROR"


@dataclass(frozen=True)
class Corpus:
    name: str
    url: str
    en: str
    fr: str

    @property
    def archive_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def load_manifest(path: str | Path | None = None) -> tuple[dict[str, Corpus], dict]:
    text = Path(path).read_text() if path else resources.files("activemem.data").joinpath("wmt14.yaml").read_text()
    raw = yaml.safe_load(text)
    corpora = {name: Corpus(name, **entry) for name, entry in raw["corpora"].items()}
    return corpora, raw.get("checksums") or {}


def mirror_from(params_mirror: str | None) -> str | None:
    """The environment variable wins over ``params.yaml`` so a user can redirect one run."""
    return os.environ.get(MIRROR_ENV) or params_mirror or None


def fetch_corpus(corpus: Corpus, downloads: Path, extracted: Path, lock: ChecksumLock,
                 checksums: dict, mirror: str | None, progress: bool = True) -> tuple[Path, Path]:
    """Download (or reuse) the corpus's archive and extract its two sides; returns (en, fr) paths."""
    known = checksums.get(corpus.archive_name, {})
    archive = fetch_locked(resolve_url(corpus.url, mirror), downloads / corpus.archive_name, lock,
                           known.get("sha256"), known.get("size"), progress)
    target = extracted / corpus.archive_name.split(".")[0]
    paths = [target / corpus.en, target / corpus.fr]
    missing = [m for m, p in zip((corpus.en, corpus.fr), paths) if not p.exists()]
    if missing:
        extract_members(archive, missing, target)
    return paths[0], paths[1]
