"""Adding a model is three touches, and a run of a subset of the models works end to end.

In a copy of the repository: (1) a new file in ``models/``, (2) its line in the registry (its
class by module path and its ``Config``, here an existing one), (3) one entry in ``params.yaml`` (its sizes, and its name in ``models``). Then the smoke DAG runs with the new
model beside GRU+Attention only: train, evaluate, Table 1, figures, claims and report follow the
models they are given, the report says which of the paper's models the run leaves out, and the new
model, which the paper has no row for, shows ``?`` in the published table with a warning.
"""

from __future__ import annotations

import json
import re

from test_pipeline import engine_env, repo_copy, snakemake

NEW_MODEL = '''"""A fifth model, for tests/test_new_model.py: GRU+Attention under another name."""

from activemem.models.gru_attention import GRUAttention


class EchoAttention(GRUAttention):
    pass
'''


def test_a_fifth_model_takes_three_touches_and_a_subset_run_works(tmp_path, monkeypatch):
    root = repo_copy(tmp_path, "smoke")
    # 1. a new file in models/
    (root / "src/activemem/models/echo_attention.py").write_text(NEW_MODEL)
    # 2. the registry: its line
    registry = root / "src/activemem/models/__init__.py"
    text = registry.read_text()
    line = '    "gru_attention": Entry("activemem.models.gru_attention:GRUAttention", GRUAttentionConfig),\n'
    assert text.count(line) == 1
    text = text.replace(line, line + '    "echo_attention": Entry("activemem.models.echo_attention:EchoAttention", '
                                     'GRUAttentionConfig),\n')
    registry.write_text(text)
    # 3. one params entry: its sizes in `defaults` (so every scale has them), and its name in the models
    params = root / "params.yaml"
    text = re.sub(r"(?m)^models: \[[^\]]*\]", "models: [gru_attention, echo_attention]", params.read_text())
    assert text.count("\ndefaults:\n") == 1
    text = text.replace("\ndefaults:\n", "\ndefaults:\n  models:\n    echo_attention: {embedding_dim: 8, hidden: 6, attention_dim: 8}\n")
    params.write_text(text)

    env = {**engine_env(), "PYTHONPATH": str(root / "src")}  # the copy's package, with the new model
    monkeypatch.setattr("test_pipeline.engine_env", lambda: env)
    out = snakemake(root, cores="2")
    assert "echo_attention" in out

    metrics = json.loads((root / "results/smoke/echo_attention/seed1/evaluation.json").read_text())
    assert metrics["model"] == "echo_attention" and metrics["parameters"] > 0 and metrics["bleu"] is not None
    build = root / "paper/build/smoke"
    table1 = (build / "table1.md").read_text()
    assert "| echo_attention |" in table1 and "| GRU+Attention |" in table1 and "Neural GPU" not in table1
    published = (build / "table1.published.md").read_text()
    assert re.search(r"\| echo_attention \| \? \| \? \| \? \|", published), published
    report = (build / "report.md").read_text()
    assert "echo_attention has no row in published.yaml" in report
    assert "the paper's Neural GPU, Markovian Neural GPU, Extended Neural GPU are not in it" in report
    claims = {c["id"]: c for c in json.loads((build / "claims.json").read_text())}
    assert claims["extended_matches_attention"]["verdict"] == "not checked"
    assert (build / "bleu_by_length.png").stat().st_size > 0
