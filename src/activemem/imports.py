"""Which package files a module runs when it is imported: its own, its packages' ``__init__`` and every
``activemem`` module they import, directly or through others. Parsed with ``ast``; nothing is imported.

Why: a stage must rerun when any code it runs changes, and listing that code by hand (once per engine)
went stale whenever an import was added. ``activemem/dag.py`` derives each stage's code from here; the
layer test (``tests/test_layers.py``) reads imports the same way.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # src/activemem


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``src/activemem/a/b.py`` → ``activemem.a.b`` (a package's ``__init__.py`` → the package)."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_part(name: str, package: Path) -> bool:
    """Whether ``activemem.<name>`` is a module or subpackage (not a name defined in ``__init__``)."""
    return (package / name).is_dir() or (package / f"{name}.py").is_file()


def imported_modules(path: Path, package: Path = PACKAGE) -> list[tuple[int, str]]:
    """(line, module) of every ``activemem`` import in the file, wherever it stands in the file (also
    ``importlib.import_module("activemem…")`` with a literal name, as the model registry imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own_package = module_name(path, package).split(".")
    if path.name != "__init__.py":
        own_package.pop()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the importing module's own package, level - 1 up
                base = own_package[:len(own_package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "activemem":
                # ``from activemem import models`` imports the subpackage ``activemem.models``
                found += [(node.lineno, f"activemem.{alias.name}" if _is_part(alias.name, package) else module)
                          for alias in node.names]
            else:
                found.append((node.lineno, module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return [(line, module) for line, module in found if module.split(".")[0] == "activemem"]


def module_file(module: str) -> Path | None:
    """The source file of ``activemem.a.b``, or None for a name that is not a module (``from x import y``
    where y is a function is recorded by imported_modules as the module x itself)."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(*modules: str) -> list[Path]:
    """Every package file importing ``modules`` runs, sorted (absolute paths)."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            path = module_file(".".join(parts[:i]))
            if path is not None and path not in seen:
                seen.add(path)
                todo += [m for _, m in imported_modules(path)]
    return sorted(seen)
