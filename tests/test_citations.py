"""Every citation in the code can be followed in a fresh clone: it names a file of ``docs/`` and, when
it gives one, a section that file has; and nothing points outside the repository for its facts."""

from __future__ import annotations

import re

from conftest import REPO

CITED = ["src", "benchmarks", "params.yaml", "paper/published.yaml", "paper/claims.yaml", "paper/claims.algorithmic.yaml", "dvc.yaml", "pipeline"]
CITATION = re.compile(r"docs/([\w-]+\.md)`{0,2}(?:\s+§(\d+(?:\.\d+)?))?")


def files():
    for name in CITED:
        path = REPO / name
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and f.suffix in (".py", ".yaml", ".yml", ".smk", ".md", ".j2") or f.name == "Snakefile":
                yield f


def headings(doc: str) -> set[str]:
    """The section numbers of a Markdown file: '## 2. …' gives '2', '### 2.4 …' gives '2.4'."""
    return set(re.findall(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", doc, re.M))


def test_every_citation_names_a_doc_and_a_section_it_has():
    found = 0
    for f in files():
        for doc, section in CITATION.findall(f.read_text()):
            target = REPO / "docs" / doc
            assert target.exists(), f"{f.relative_to(REPO)} cites docs/{doc}, which does not exist"
            if section:
                assert section in headings(target.read_text()), f"{f.relative_to(REPO)}: docs/{doc} has no §{section}"
            found += 1
    assert found >= 8   # the models cite the paper's equations and the original code


def test_no_source_cites_notes_outside_the_repository():
    for f in files():
        assert "shared/reference" not in f.read_text(), f"{f.relative_to(REPO)} cites a file a clone does not have"
