"""The wmt14 source: WMT'14 En-Fr corpora, downloaded and checksummed (``data/wmt14.yaml``).

``Wmt14Data`` is the schema of ``<scale>.data`` with ``source: wmt14``; ``download.py`` obtains, judges
and extracts the archives. Its registry entry (``data/sources/__init__.py``) marks it as the paper's
own data: a scale on it is compared with the ``paper`` preset (``config.preset_comparison``).

- ``download.py``  obtains, judges and extracts the archives
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Literal

from activemem.data.sources.fields import key

Path = tuple[str, ...]  # a key path below <scale>.data


@functools.cache
def wmt14_corpora() -> list[str]:
    """The corpus names of ``data/wmt14.yaml`` (read only when a wmt14 scale is checked)."""
    from activemem.data.manifest import load_manifest
    return sorted(load_manifest()[0])


@dataclass(frozen=True)
class Wmt14Data:
    """``<scale>.data`` with ``source: wmt14``: WMT'14 En-Fr corpora, downloaded and checksummed."""

    source: Literal["wmt14"] = key("where the corpus comes from: WMT'14 archives (data/wmt14.yaml)")
    train: list[str] = key("training corpora", choices=wmt14_corpora)
    dev: str = key("development corpus (dev perplexity, lr decay)", choices=wmt14_corpora)
    test: str = key("test corpus (Table 1, Figure 6)", choices=wmt14_corpora)
    downloads: str = key("archive cache folder, shared by scales")
    archives: str | None = key("folder of archives you already have, used in place after the same "
                               "checks as a download (null: download them)")
    lock: str = key("checksum lock file, written on the first download")
    vouched: str = key("committed file of archive copies that differ from the published ones, "
                       "each with who vouches for it")
    mirror: str | None = key("base URL (http://, https:// or file:///) to download from instead "
                             "(ACTIVEMEM_MIRROR overrides it)")
    retries: int = key("retries of a dropped or short download", low=0)
    backoff_seconds: float = key("wait before the first retry, doubled for each next one", low=0)

    def problems(self) -> Iterator[tuple[Path, str]]:
        if not self.train:
            yield ("train",), "must name at least one corpus"
        if self.mirror is not None:
            from activemem.data.download import url_problem  # only when a wmt14 scale is checked
            problem = url_problem(self.mirror)
            if problem:
                yield ("mirror",), f"is not a usable mirror URL: {problem}"
