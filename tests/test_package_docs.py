"""Every package's docstring lists what is in it, so a reader finds a module without opening them all.

The list is one line per module (continued, if need be, on indented lines)::

    - ``loop.py``      one training loop for every registry model
    - ``transformer/`` a sub-package, named with a trailing slash
    - ``wmt14.yaml``   a data file may be listed too (it need not be)

Every ``*.py`` file beside the ``__init__.py`` and every sub-package must have its line, and every name
listed must exist, so adding, renaming or removing a module fails here until the list says so. Only
lines that start with ``- ``name``  `` count; other text may mention any file. Offline and fast: the
docstrings are read with ``ast``, nothing is imported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src" / "activemem"

ENTRY = re.compile(r"^- ``([^`\s]+)``(.*)$", re.M)


def packages(root: Path) -> list[Path]:
    """``root`` and every package below it: each folder with an ``__init__.py``."""
    return sorted(init.parent for init in root.rglob("__init__.py"))


def listed(doc: str) -> dict[str, str]:
    """``{name: description}`` of the docstring's ``- ``name``  description`` lines."""
    return {m.group(1): m.group(2).strip() for m in ENTRY.finditer(doc)}


def contents(package: Path) -> set[str]:
    """What the docstring must list: the package's modules and its sub-packages (``name/``)."""
    return ({p.name for p in package.glob("*.py") if p.name != "__init__.py"}
            | {p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file()})


def doc_problems(package: Path) -> list[str]:
    """What is wrong with ``package``'s list of its contents, one line each; [] when it is right."""
    init = package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(), str(init)))
    if not doc:
        return [f"{init}: no docstring (it lists the package's modules, one line each)"]
    entries = listed(doc)
    problems = [f"{init}: {name} is not listed in the docstring" for name in sorted(contents(package) - set(entries))]
    for name, description in entries.items():
        path = package / name.rstrip("/")
        if not (path.is_dir() and (path / "__init__.py").is_file() if name.endswith("/") else path.is_file()):
            problems.append(f"{init}: the docstring lists {name}, which is not in {package}")
        elif not description:
            problems.append(f"{init}: the docstring lists {name} without saying what it holds")
    return problems


@pytest.mark.parametrize("package", packages(PACKAGE), ids=lambda p: ".".join(p.relative_to(PACKAGE.parent).parts))
def test_the_package_docstring_lists_every_module(package):
    assert doc_problems(package) == []


def test_every_package_is_checked():
    names = {".".join(p.relative_to(PACKAGE.parent).parts) for p in packages(PACKAGE)}
    assert {"activemem", "activemem.data", "activemem.models", "activemem.models.transformer",
            "activemem.train", "activemem.evaluate", "activemem.paper", "activemem.stages"} <= names


def test_the_check_finds_a_missing_a_stale_and_an_undescribed_entry(tmp_path):
    """The checker itself, on a made-up package: each kind of mistake is reported, a right list passes."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "__init__.py").write_text('"""- ``leaf.py``  a leaf"""\n')
    (pkg / "sub" / "leaf.py").write_text("")
    (pkg / "notes").mkdir()  # a plain folder, not a package: need not be listed
    for name in ("a.py", "b.py", "c.py"):
        (pkg / name).write_text("")
    (pkg / "__init__.py").write_text('"""Made up.\n\n- ``a.py``  the first\n- ``c.py``\n- ``gone.py``  removed\n'
                                     '- ``notes/``  not a package\n\nText may name ``b.py`` too."""\n')
    init = pkg / "__init__.py"
    assert doc_problems(pkg) == [
        f"{init}: b.py is not listed in the docstring",
        f"{init}: sub/ is not listed in the docstring",
        f"{init}: the docstring lists c.py without saying what it holds",
        f"{init}: the docstring lists gone.py, which is not in {pkg}",
        f"{init}: the docstring lists notes/, which is not in {pkg}",
    ]
    assert doc_problems(pkg / "sub") == []
    init.write_text('"""- ``a.py``  the first\n- ``b.py``  the second\n- ``c.py``  the third,\n  on two lines\n'
                    '- ``sub/``  a sub-package"""\n')
    assert doc_problems(pkg) == []
    init.write_text("x = 1\n")
    assert doc_problems(pkg) == [f"{init}: no docstring (it lists the package's modules, one line each)"]
