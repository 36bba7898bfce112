"""Data sources are registered like models: a new source touches only its own package, its registry
entry and ``params.yaml`` (issue 31).

- No module outside a source's own package, the registry and the modules its hooks name holds the
  source's name as a string: no stage or report branches on ``data.source`` (parsed with ``ast``).
- Every entry's ``Data`` is the schema of its own ``data`` block, and every hook resolves, sits in the
  layer of the stage step that calls it, and is code its stage reruns on (``dvc.yaml`` deps).
- A toy source, written in a temporary folder and added to the registry, is checked by the schema
  (its own keys, its own problems), downloaded and prepared on a tiny corpus, and named by the report,
  with nothing else edited.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

import pytest
import yaml

from activemem import dag, schema, schema_export
from activemem.config import ParamsError, load_params, preset_comparison, read
from activemem.data import sources
from activemem.imports import closure
from activemem.paper import run_data
from activemem.stages import download, prepare

from conftest import REPO
from test_layers import PACKAGE, layer

# the stage step that calls each hook, and so the layer its function must sit in
HOOK_LAYER = {"download": "data", "archives": "data", "prepare": "data", "evaluate": "evaluate", "report": "paper"}
HOOK_STAGES = {"download": "download", "archives": "archives", "prepare": "prepare", "evaluate": "evaluate",
               "report": "paper"}


def module_path(module: str) -> Path:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def own_files(name: str) -> set[Path]:
    """Where source ``name`` may be named: its package, the registry, and the modules of its hooks."""
    entry = sources.entry(name)
    package = module_path(entry.data.partition(":")[0]).parent
    hooks = {module_path(path.partition(":")[0]) for path in (getattr(entry, h) for h in sources.HOOKS) if path}
    return {*package.rglob("*.py"), module_path("activemem.data.sources"), *hooks}


def source_names_in(path: Path, names) -> list[tuple[int, str]]:
    """(line, name) of every string constant in ``path`` that is exactly a source name (a docstring that
    mentions one is not a branch)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names]


def test_no_module_outside_a_source_names_it():
    names = set(sources.REGISTRY)
    bad = [f"{path.relative_to(REPO)}:{line}: names source {name!r}"
           for path in sorted(PACKAGE.rglob("*.py")) for line, name in source_names_in(path, names)
           if path not in own_files(name)]
    assert not bad, ("a stage, report or setting branches on a data source; ask its registry entry "
                     "(activemem/data/sources) instead:\n" + "\n".join(bad))


def test_the_check_finds_a_branch_on_a_source(tmp_path):
    """The checker itself: the branch the download stage had before the registry is found."""
    branch = tmp_path / "stage.py"
    branch.write_text('"""Mentions demo and wmt14 in prose."""\nif source == "algorithmic":\n    pass\n')
    assert source_names_in(branch, set(sources.REGISTRY)) == [(2, "algorithmic")]


@pytest.mark.parametrize("name", list(sources.REGISTRY))
def test_each_entry_types_its_own_data_block_and_its_hooks_resolve(name):
    cls = sources.data_class(name)
    assert is_dataclass(cls) and schema.DATA_SOURCES[name] is cls
    hint = get_type_hints(cls)["source"]
    assert get_origin(hint) is Literal and get_args(hint) == (name,)
    assert all("doc" in f.metadata for f in fields(cls))  # every key says what it is (schema_export)
    for part in sources.HOOKS:
        path = getattr(sources.entry(name), part)
        if path is None:
            assert sources.hook(name, part) is None
            continue
        assert callable(sources.hook(name, part)), path
        module = path.partition(":")[0]
        assert layer(module) == HOOK_LAYER[part], f"{name}.{part}: {module} is not in the {HOOK_LAYER[part]} layer"


def test_each_hook_is_code_its_stage_reruns_on():
    """The stages reach a source's hooks through the registry, which no import statement shows: each
    hook's module, and what it imports, must be among its stage's code (activemem/dag.py, dvc.yaml)."""
    missing = []
    for name, entry in sources.REGISTRY.items():
        for part in sources.HOOKS:
            path = getattr(entry, part)
            if path is None:
                continue
            stage = dag.BY_NAME[HOOK_STAGES[part]]
            missing += [f"{stage.name}: {p} ({name}.{part})" for p in closure(path.partition(":")[0])
                        if str(p.relative_to(REPO)) not in dag.code_files(stage.name)]
    assert not missing, "the stage table lacks these dependencies:\n" + "\n".join(missing)


def test_unknown_sources_are_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown data source 'wmt15'; known sources: demo, wmt14, algorithmic"):
        sources.entry("wmt15")
    assert "wmt15" not in schema.DATA_SOURCES and ["demo"] not in schema.DATA_SOURCES  # a YAML list: no crash


def test_a_data_block_that_is_no_mapping_is_refused_naming_the_sources(tmp_path):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["smoke"]["data"] = 5
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    with pytest.raises(ParamsError, match=r"'smoke\.data' must be a mapping with a source \(demo, wmt14, "
                                          r"algorithmic\) and its keys, got 5"):
        load_params(tmp_path / "params.yaml", "smoke")


# ---- a new source: its package, its entry, params.yaml ---------------------------------------------
TOY_DATA = '''"""A toy source for tests/test_sources.py: numbered sentences, English and French."""

from dataclasses import dataclass
from typing import Literal

from activemem.data.sources.fields import key


@dataclass(frozen=True)
class ToyData:
    """``<scale>.data`` with ``source: toy``."""

    source: Literal["toy"] = key("a toy corpus")
    pairs: int = key("training pairs", low=1)
    offset: int = key("the first number", low=0)

    def problems(self):
        if self.pairs % 2:
            yield ("pairs",), f"must be even, got {self.pairs}"
'''

TOY_DOWNLOAD = '''"""The toy source's download: train, dev and test written into the stage's folder."""

WORDS = [("one", "un"), ("two", "deux"), ("three", "trois"), ("four", "quatre"), ("five", "cinq")]


def generate(params, out):
    data = params["data"]
    sizes = {"train": data["pairs"], "dev": 10, "test": 10}
    splits = {}
    for split, count in sizes.items():
        en, fr = [], []
        for i in range(data["offset"], data["offset"] + count):
            picked = [WORDS[(i // 5 ** k) % 5] for k in range(1 + i % 3)]
            en.append("the " + " ".join(e for e, _ in picked) + " .")
            fr.append("le " + " ".join(f for _, f in picked) + " .")
        (out / f"{split}.en").write_text("\\n".join(en) + "\\n")
        (out / f"{split}.fr").write_text("\\n".join(fr) + "\\n")
        splits[split] = [[f"{split}.en", f"{split}.fr"]]
    return {"splits": splits}
'''


def toy_params(tmp_path: Path, **toy) -> Path:
    """The repository's params.yaml with the toy source's defaults and a ``toy`` scale (the smoke
    scale's settings on the toy corpus); nothing else changed."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["defaults"]["data"]["toy"] = {"offset": 3}
    # the scale's data holds its source's defaults, as `<<: *data_toy` would write them: both engines track
    # `toy.data` as written (activemem/dag.py)
    raw["toy"] = {**copy.deepcopy(raw["smoke"]), "data": {"source": "toy", "pairs": 120, "offset": 3, **toy}}
    raw["toy"]["prepare"] = {**raw["toy"]["prepare"], "vocab_size": 300}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture
def toy_source(tmp_path, monkeypatch):
    package = tmp_path / "code" / "toysource"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(TOY_DATA)
    (package / "download.py").write_text(TOY_DOWNLOAD)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    monkeypatch.setitem(sources.REGISTRY, "toy", sources.Entry("toysource:ToyData", "toysource.download:generate",
                                                                "the toy corpus (numbers spelled out)"))
    return tmp_path


def test_a_new_source_takes_its_package_its_entry_and_params(toy_source):
    root = toy_source
    params_file = toy_params(root)
    params = load_params(params_file, "toy")
    assert params["data"] == {"source": "toy", "pairs": 120, "offset": 3}
    # its own schema: its keys, its ranges and its own rules, each named by its key path
    with pytest.raises(ParamsError, match=r"'toy\.data\.pairs' must be even, got 121"):
        load_params(toy_params(root, pairs=121), "toy")
    with pytest.raises(ParamsError, match=r"'toy\.data\.seed' is not a known key; known: source, pairs, offset"):
        load_params(toy_params(root, seed=1), "toy")
    params_file = toy_params(root)
    # the settings both engines track, the report's words, the JSON schema: all from the entry
    assert dag.settings_values(read(params_file), "download", "toy") == {"toy.data": params["data"]}
    assert preset_comparison(params) is None
    assert run_data.data_name("toy", None) == "the toy corpus (numbers spelled out)"
    assert "ToyData" in json.dumps(schema_export.params_schema())
    assert download.current_archives(params) == {}  # it downloads nothing

    raw, prepared = root / "raw", root / "prepared"
    download.main(["--params", str(params_file), "--scale", "toy", "--out", str(raw)])
    listing = json.loads((raw / "sources.json").read_text())
    assert listing == {"source": "toy", "splits": {s: [[f"{s}.en", f"{s}.fr"]] for s in ("train", "dev", "test")}}
    assert (raw / "train.en").read_text().splitlines()[0] == "the four ."  # offset 3 from defaults.data.toy
    prepare.main(["--params", str(params_file), "--scale", "toy", "--raw", str(raw), "--out", str(prepared)])
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert manifest["pairs"] == {"train": 120, "dev": 10, "test": 10}  # the translation path: cleaned, kept
    assert manifest["longest_train_source"]["words"] == 5 and (prepared / "spm.model").stat().st_size > 0
    assert (prepared / "test.fr").read_text() == (raw / "test.fr").read_text()


def test_a_listing_of_no_known_source_is_refused(tmp_path):
    (tmp_path / "sources.json").write_text(json.dumps({"source": "wmt15", "splits": {}}))
    with pytest.raises(ValueError, match=r"sources.json names no known data source \(demo, wmt14, algorithmic\), "
                                         r"got 'wmt15': rerun the download stage"):
        prepare.listing_source(prepare.load_listing(tmp_path), tmp_path)
