"""Adding a model is three touches, and a run of a subset of the models works end to end.

In a copy of the repository: (1) the model's package in ``models/`` (its own ``Config``, torch-free,
in ``__init__.py``; its class in ``model.py``), (2) its entry in the registry, (3) one entry in
``params.yaml`` (its sizes, and its name in ``models``). ``git status`` then shows exactly those;
nothing else names the model. A bad value of the new Config's own rule is refused when Snakemake
loads the DAG, naming its key. Then the smoke DAG runs with the new model beside GRU+Attention only:
train, evaluate, Table 1, figures, claims and report follow the models they are given, the report
says which of the paper's models the run leaves out, and the new model, which the registry says
the paper has no row for, is marked as beyond the paper and shows ``?`` in the published table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from test_pipeline import engine_env, repo_copy, snakemake

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

CONFIG = '''"""A model for tests/test_new_model.py: its hyper-parameters, without torch."""

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class EchoConfig:
    embedding_dim: int = 8
    hidden: int = 6
    attention_dim: int = 8
    dropout: float = 0.0

    TINY: ClassVar[dict] = {"embedding_dim": 8, "hidden": 6, "attention_dim": 8}

    @classmethod
    def at_size(cls, maps, height):
        return {"embedding_dim": maps, "hidden": 2 * maps, "attention_dim": 2 * maps}

    def problems(self):
        if self.hidden % 2:
            yield ("hidden",), f"must be even, got {self.hidden}"
'''

MODEL = '''"""A model for tests/test_new_model.py: GRU+Attention under another name, with its own Config."""

from activemem.models.echo_attention import EchoConfig
from activemem.models.gru_attention import GRUAttention


class EchoAttention(GRUAttention):
    Config = EchoConfig
'''

ENTRY = '''    "echo_attention": Entry("activemem.models.echo_attention.model:EchoAttention",
                            "activemem.models.echo_attention:EchoConfig",
                            "Echo+Attention", False, Style("P", (0, (1, 2)), "0.5")),
'''


def test_a_new_model_takes_three_touches_and_a_subset_run_works(tmp_path, monkeypatch):
    root = repo_copy(tmp_path, "smoke")
    # 1. its package in models/
    package = root / "src/activemem/models/echo_attention"
    package.mkdir()
    (package / "__init__.py").write_text(CONFIG)
    (package / "model.py").write_text(MODEL)
    # 2. its registry entry
    registry = root / "src/activemem/models/__init__.py"
    text = registry.read_text()
    assert text.count("\n}\nNAMES: tuple") == 1
    registry.write_text(text.replace("\n}\nNAMES: tuple", "\n" + ENTRY + "}\nNAMES: tuple"))
    # 3. params.yaml: its sizes in every scale's `models` (`converged` merges the demo's), its name in `models`
    params = root / "params.yaml"
    text = re.sub(r"(?m)^models: \[[^\]]*\]", "models: [gru_attention, echo_attention]", params.read_text())
    assert text.count("\n  models:\n") == 5
    sizes = "    echo_attention: {embedding_dim: 8, hidden: 6, attention_dim: 8}\n"
    params.write_text(text.replace("\n  models:\n", "\n  models:\n" + sizes))
    touched = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, check=True,
                             capture_output=True, text=True).stdout.split("\n")
    assert sorted(line[3:] for line in touched if line) == [
        "params.yaml", "src/activemem/models/__init__.py", "src/activemem/models/echo_attention/__init__.py",
        "src/activemem/models/echo_attention/model.py"]

    env = {**engine_env(), "PYTHONPATH": str(root / "src")}  # the copy's package, with the new model
    # dvc.yaml needs no regeneration: train and evaluate depend on the registry's whole folder
    generated = subprocess.run([sys.executable, "-m", "activemem.dag"], cwd=root, env=env, check=True,
                               capture_output=True, text=True).stdout
    assert generated == (root / "dvc.yaml").read_text()
    monkeypatch.setattr("test_pipeline.engine_env", lambda: env)
    # the new Config's own rule, on the resolved block, when the DAG loads
    params.write_text(params.read_text().replace("hidden: 6,", "hidden: 7,"))
    refused = snakemake(root, "--dry-run", ok=False)
    assert "'smoke.models.echo_attention.hidden' must be even, got 7" in refused, refused[-2000:]
    params.write_text(params.read_text().replace("hidden: 7,", "hidden: 6,"))

    out = snakemake(root, cores="2")
    assert "echo_attention" in out

    metrics = json.loads((root / "results/smoke/echo_attention/seed1/evaluation.json").read_text())
    assert metrics["model"] == "echo_attention" and metrics["parameters"] > 0 and metrics["bleu"] is not None
    build = root / "paper/build/smoke"
    table1 = (build / "table1.md").read_text()
    assert "| Echo+Attention ⁺ |" in table1 and "| GRU+Attention |" in table1 and "Neural GPU" not in table1
    assert "Beyond the paper: Echo+Attention is not among the paper's models" in table1
    published = (build / "table1.published.md").read_text()
    assert re.search(r"\| Echo\+Attention ⁺ \| \? \| \? \| \? \|", published), published
    report = (build / "report.md").read_text()
    assert "has no row in published.yaml" not in report   # beyond the paper: expected, not a warning
    assert "the paper's Neural GPU, Markovian Neural GPU, Extended Neural GPU are not in it" in report
    claims = {c["id"]: c for c in json.loads((build / "claims.json").read_text())}
    assert claims["extended_matches_attention"]["verdict"] == "not checked"
    assert (build / "bleu_by_length.png").stat().st_size > 0
