"""Every stage reruns when any code it runs changes: each DVC stage's dependencies cover every package
file the stage's entry module imports, directly or through other modules (Snakemake's rules are checked
against DVC's stages by tests/test_pipeline.py). Parsed with ``ast``; nothing is imported."""

from __future__ import annotations

import pytest

from conftest import REPO
from test_layers import PACKAGE, imported_modules

pytest.importorskip("dvc")

STAGES = ("settings", "archives", "download", "prepare", "train", "evaluate", "paper")


def module_file(module: str):
    """The source file of ``activemem.a.b``, or None for a name that is not a module (``from x import y``
    where y is a function is recorded by imported_modules as the module x itself)."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(module: str) -> set:
    """Every package file that importing ``module`` runs: its own, its packages' ``__init__``, and so on."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            path = module_file(".".join(parts[:i]))
            if path is not None and path not in seen:
                seen.add(path)
                todo += [m for _, m in imported_modules(path)]
    return {p.relative_to(REPO) for p in seen}


def covered(path, deps: set) -> bool:
    return any(str(path) == dep or str(path).startswith(dep.rstrip("/") + "/") for dep in deps)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_depends_on_all_the_code_it_runs(stage):
    from test_pipeline import dvc_stages
    stages = dvc_stages(REPO, settings=True)
    name = next(n for n in stages if n == stage or n.startswith(f"{stage}@"))
    missing = sorted(str(p) for p in closure(f"activemem.stages.{stage}") if not covered(p, stages[name]["deps"]))
    assert not missing, f"dvc.yaml stage {name} (and the Snakemake rule) lacks these dependencies: {missing}"
