"""The package's layers only look down: no module imports from a layer above its own.

    bottom (tokens, atomic, locking, provenance, cores, progress, gpus) → data → models → settings (config,
    schema: they check params.yaml against the model registry and the corpus list) → train → evaluate
    → paper → top (stages, cli, entry, and every package's ``__main__``: command-line entry points)

Every module under ``src/activemem`` is parsed with ``ast`` (nothing is imported), and every
``activemem.*`` import in it, at the top or inside a function, is mapped to its layer. A module may
import from its own layer or any layer below; an import from above fails the test, naming the file
and the line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import REPO

from activemem.imports import PACKAGE, imported_modules, module_name

LAYERS = ["bottom", "data", "models", "settings", "train", "evaluate", "paper", "top"]

# Where each part of the package sits. A new top-level module or subpackage must be added here:
# the test refuses to guess its layer.
LAYER_OF = {
    "activemem": "bottom",  # the package's own __init__ (its version)
    "tokens": "bottom", "atomic": "bottom", "locking": "bottom", "provenance": "bottom", "cores": "bottom",
    "kernels": "bottom", "interrupt": "bottom", "disk": "bottom",
    "imports": "bottom",  # which package files a module runs (ast only): the stages' code dependencies
    "engines": "bottom",  # which engine runs a stage, and its command to rerun another (reads locking)
    "progress": "bottom",
    "gpus": "bottom",  # which physical GPUs a local job takes (lock files, like locking)
    "lineage": "data",  # what results were made from: file digests (data/store.py), read by train and up
    "config": "settings", "schema": "settings", "schema_export": "settings",
    "dag": "settings",  # the stage table: the settings each stage reads are schema key paths
    "data": "data", "models": "models", "train": "train", "evaluate": "evaluate", "paper": "paper",
    "stages": "top", "cli": "top", "entry": "top", "__main__": "top",
    "engines_sync": "top",  # dvc.yaml's last stage and the Snakefile's onsuccess: runs both engines
}

# Known imports from a layer above, each waiting for its fix. Keys are (importing module, imported
# module) as written in the source. Remove an entry when its import goes: the last test below fails
# while an entry here matches no import any more.
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def layer(module: str) -> str:
    """The layer of a dotted ``activemem`` module name (``activemem.train.loop`` → ``train``)."""
    parts = module.split(".")
    if parts[-1] == "__main__":  # `python -m activemem.<part>`: a command-line entry point, like cli
        return "top"
    part = parts[1] if len(parts) > 1 else "activemem"
    assert part in LAYER_OF, f"activemem.{part} has no layer: add it to LAYER_OF in {__file__}"
    return LAYER_OF[part]


def upward_imports() -> list[tuple[Path, int, str, str]]:
    """(file, line, importing module, imported module) of every import from a layer above."""
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path, PACKAGE)
        rank = LAYERS.index(layer(importer))
        for line, module in imported_modules(path, PACKAGE):
            if LAYERS.index(layer(module)) > rank:
                upward.append((path, line, importer, module))
    return upward


def test_no_module_imports_from_a_layer_above_its_own():
    bad = [f"{path.relative_to(REPO)}:{line}: {importer} ({layer(importer)}) imports {module} ({layer(module)})"
           for path, line, importer, module in upward_imports() if (importer, module) not in ALLOWED_UPWARD]
    assert not bad, "imports from a layer above (layers: " + " → ".join(LAYERS) + "):\n" + "\n".join(bad)


def test_every_allowed_upward_import_is_still_there():
    found = {(importer, module) for _, _, importer, module in upward_imports()}
    stale = sorted(ALLOWED_UPWARD - found)
    assert not stale, f"these imports are gone: remove them from ALLOWED_UPWARD in {__file__}: {stale}"


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    """The checker itself: a lazy import and a relative one, each from a layer above, are both found."""
    package = tmp_path / "activemem"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "__init__.py").write_text("")
    (package / "data" / "lazy.py").write_text("def f():\n    from activemem.train import loop\n")
    (package / "data" / "relative.py").write_text("from ..evaluate import bleu\n")
    (package / "data" / "fine.py").write_text("from activemem import tokens\nfrom . import lazy\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    found = {(path.name, line, module) for path, line, _, module in upward_imports()}
    assert found == {("lazy.py", 2, "activemem.train"), ("relative.py", 1, "activemem.evaluate")}
