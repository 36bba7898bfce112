"""The stage table (activemem/dag.py) is the one declaration of the DAG: dvc.yaml is generated from it
and current, its key paths are what DVC itself reads from params.yaml, every scale writes each of them,
and each stage's code is the import closure of its entry module."""

from __future__ import annotations

import shutil

import pytest

from activemem import dag
from activemem.config import ParamsError, load_params, read, scale_names
from activemem.imports import closure

from conftest import REPO

PARAMS = REPO / "params.yaml"


def test_the_committed_dvc_yaml_is_generated_from_the_table():
    assert (REPO / "dvc.yaml").read_text() == dag.dvc_yaml(), \
        "dvc.yaml is not current: run `python -m activemem.dag > dvc.yaml`"


def test_dvc_reads_the_same_values_the_snakemake_rules_compare():
    # DVC's own reader (ruamel, YAML 1.2, merge keys resolved) against ours, for every stage of every scale
    from dvc.dependency.param import read_param_file
    from dvc.fs import LocalFileSystem
    raw = read(PARAMS)
    for scale in scale_names(raw):
        for stage in (s for s in dag.STAGES if s.settings):
            for model in (raw["models"] if stage.per_run else [None]):
                keys = dag.key_paths(stage.name, scale, model)
                ours = dag.settings_values(raw, stage.name, scale, model)
                theirs = read_param_file(LocalFileSystem(), str(PARAMS), keys, flatten=True)
                assert list(theirs) == keys and theirs == ours, (scale, stage.name, model)


def test_a_stage_tracks_what_it_reads_and_nothing_a_cluster_schedules():
    train = dag.key_paths("train", "demo", "neural_gpu")
    assert {"demo.train.lr", "demo.models.neural_gpu", "demo.prepare.max_width", "demo.evaluate.max_len_offset",
            "defaults.train.sampling"} <= set(train)
    assert not {"demo.train.mem_mb", "demo.train.runtime_min", "demo.evaluate.bootstrap_resamples"} & set(train)
    assert {"demo", "defaults", "paper", "report"} <= set(dag.key_paths("paper", "demo"))  # the report states them
    assert "demo.evaluate.bootstrap_resamples" not in dag.key_paths("evaluate", "demo", "neural_gpu")
    assert not any(k.endswith(("mem_mb", "runtime_min")) for k in dag.key_paths("prepare", "demo"))


def test_a_scale_section_without_its_merge_key_is_refused_naming_the_key(tmp_path):
    text = PARAMS.read_text()
    edited = text.replace("  evaluate: {<<: *evaluate, batch_size: 16,", "  evaluate: {batch_size: 16,")
    assert edited != text
    (tmp_path / "params.yaml").write_text(edited)
    with pytest.raises(ParamsError) as err:
        load_params(tmp_path / "params.yaml", "smoke")
    assert str(err.value) == (
        f"{tmp_path / 'params.yaml'}: 'smoke.evaluate' lacks greedy, length_penalty, max_sentences, width, "
        f"which the evaluate, train stages read: both engines track a stage's settings by their key paths "
        f"as written in the file (activemem/dag.py), so begin it with `<<: *evaluate` to take the defaults, or "
        f"set them there")


def test_a_scale_takes_its_defaults_through_merge_keys():
    # the same resolved settings as a merge in code would give: converged is the demo with its own train
    demo, converged = load_params(PARAMS, "demo"), load_params(PARAMS, "converged")
    assert converged["models"] == demo["models"] and converged["evaluate"] == demo["evaluate"]
    assert converged["train"]["max_steps"] == 12000 and converged["train"]["lr"] == demo["train"]["lr"]
    assert read(PARAMS)["smoke"]["train"]["clip_norm"] == read(PARAMS)["defaults"]["train"]["clip_norm"]


def relative(paths) -> set[str]:
    return {str(p.relative_to(REPO)) for p in paths}


def test_a_stages_code_is_its_import_closure():
    train = set(dag.code_files("train"))
    # imported by name through the model registry, and inside functions
    assert {"src/activemem/models/neural_gpu.py", "src/activemem/models/transformer/model.py",
            "src/activemem/train/loop.py", "src/activemem/stages/_common.py"} <= train
    download = set(dag.code_files("download"))
    assert {"src/activemem/data/download.py", "src/activemem/data/sources/wmt14/download.py",
            "src/activemem/data/sources/demo/download.py"} <= download  # through the source registry
    assert "src/activemem/models/neural_gpu.py" not in download  # only the registry's names and sizes
    assert not any(p.startswith(("src/activemem/train/", "src/activemem/evaluate/")) for p in download)
    assert "src/activemem/evaluate/algorithmic.py" in dag.code_files("evaluate")
    assert "src/activemem/paper/algorithmic.py" in dag.code_files("paper")
    # a registry's folder whole: a new model or source package is covered without regenerating dvc.yaml
    assert "src/activemem/models" in dag.BY_NAME["train"].code()
    assert "src/activemem/data/sources" in dag.BY_NAME["download"].code()
    assert relative(closure("activemem.stages.download")) <= download
    for stage in dag.STAGES:
        assert f"src/{stage.entry.replace('.', '/')}.py" in dag.code_files(stage.name)


def test_a_code_edit_changes_the_digest_of_the_stages_that_run_it(tmp_path, monkeypatch):
    before = {s.name: dag.code_digest(s.name) for s in dag.STAGES}
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(dag, "ROOT", tmp_path)  # the digests read the copy
    assert {s.name: dag.code_digest(s.name) for s in dag.STAGES} == before
    with (tmp_path / "src/activemem/train/loop.py").open("a") as loop:
        loop.write("# an edit\n")
    changed = {s.name for s in dag.STAGES if dag.code_digest(s.name) != before[s.name]}
    assert changed == {s.name for s in dag.STAGES if "src/activemem/train/loop.py" in dag.code_files(s.name)}
    assert "train" in changed and "download" not in changed
