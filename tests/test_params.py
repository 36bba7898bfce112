"""params.yaml: one checked schema, defaults written once, every mistake refused with its key path.

Each bad case is a small edit of the real file; it must fail in well under 5 seconds, naming the key
path as written in the file, in-process (``load_params``), in a stage (before any work) and when
Snakemake loads the DAG.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from activemem import cli, schema
from activemem.config import ParamsError, check, load_params, read, resolve, scale_names, train_config

from conftest import REPO

PARAMS = REPO / "params.yaml"
TEXT = PARAMS.read_text()

# (id, old text, new text, what the message must contain). The first ones are the cases of issue 12.
CASES = [
    ("negative train seed", "\nseeds: [1]\n", "\nseeds: [1, -1]\n",
     "'seeds' must be a non-empty list of integers from 0 to 4294967295 (training seeds), got [1, -1]"),
    ("repeated train seed", "\nseeds: [1]\n", "\nseeds: [2, 2]\n", "'seeds' names a seed twice: [2, 2]"),
    ("train seed in a scale", "    lr: 0.003\n", "    lr: 0.003\n    seed: 3\n",
     "'smoke.train.seed' is not a known key"),
    ("negative data seed", "demo: &data_demo {seed: 1,", "demo: &data_demo {seed: -3,",
     "'defaults.data.demo.seed' must be >= 0, got -3"),
    ("empty buckets", "    buckets: [8, 16, 24, 32]", "    buckets: []",
     "'smoke.train.buckets' must list at least one"),
    ("label smoothing 2.5", "    label_smoothing: 0.1 ", "    label_smoothing: 2.5 ",
     "'defaults.train.label_smoothing' must be between 0 and 1, got 2.5 (0 <= value < 1)"),
    ("neural gpu dropout 1.5", "    neural_gpu: {maps: 8, height: 2}",
     "    neural_gpu: {maps: 8, height: 2, dropout: 1.5}",
     "'smoke.models.neural_gpu.dropout' must be between 0 and 1, got 1.5"),
    ("a model's own rule", "    neural_gpu: {maps: 8, height: 2}",
     "    neural_gpu: {maps: 8, height: 2, kernel_width: 4}",
     "'smoke.models.neural_gpu.kernel_width' must be odd (the memory keeps its shape only with an odd kernel), got 4"),
    ("typo in a model's train", "    neural_gpu: {maps: 8, height: 2}",
     "    neural_gpu: {maps: 8, height: 2, train: {lr: 0.01, max_step: 3}}",
     "'smoke.models.neural_gpu.train.max_step' is not a known key (did you mean 'max_steps'?)"),
    ("unknown key under train", "    lr: 0.003\n", "    lr: 0.003\n    warmup_steps: 100\n",
     "'smoke.train.warmup_steps' is not a known key; known: gpus, threads,"),
    ("duplicate key", "    lr: 0.003\n", "    lr: 0.003\n    lr: 0.004\n",
     "key 'lr' is written twice in one mapping"),
    ("gpus typo", "    gpus: 4\n", "    gpu: 4\n", "'paper.train.gpu' is not a known key (did you mean 'gpus'?)"),
    ("bad choice", "    width: search ", "    width: fxed ",
     "'defaults.evaluate.width' must be one of search, fixed, got 'fxed'"),
    ("wrong type", "    max_steps: 6\n", "    max_steps: six\n",
     "'smoke.train.max_steps' must be an integer, got 'six'"),
    ("report typo", "  floor_bleu: 5.0", "  floor_blue: 5.0",
     "'report.floor_blue' is not a known key (did you mean 'floor_bleu'?)"),
    ("evaluate typo", "    max_len_offset: 5\n", "    max_len_ofset: 5\n",
     "'demo.evaluate.max_len_ofset' is not a known key"),
    ("buckets narrower than max_width", "max_vocab_sentences: 100000, max_width: 32,",
     "max_vocab_sentences: 100000, max_width: 40,", "'smoke.train.buckets' ends at 32 but prepare.max_width is 40"),
    ("top-level typo", "\nreport:\n", "\nreprot:\n", "'reprot' is not a known key"),
    ("unknown model", "models: [neural_gpu,", "models: [neural_gpux,",
     "'models' names unknown model 'neural_gpux' (did you mean"),
    ("unknown data source default", "    wmt14: &data_wmt14\n", "    wmt15: &data_wmt14\n",
     "'defaults.data.wmt15' is not a data source"),
    ("unknown corpus", "train: [news_commentary_v9]", "train: [news_comentary_v9]",
     "'news.data.train' must be one of commoncrawl,"),
    # issue 23: values that ran, then failed or produced garbage far from here
    ("infinite length penalty", "    length_penalty: 1.2 ", "    length_penalty: .inf ",
     "'demo.evaluate.length_penalty' must be a finite number, got inf"),
    ("infinite learning rate", "    lr: 0.003\n", "    lr: .inf\n", "'smoke.train.lr' must be a finite number, got inf"),
    ("not a number", "    max_len_ratio: 1.5 ", "    max_len_ratio: .nan ",
     "'defaults.evaluate.max_len_ratio' must be a finite number, got nan"),
    ("a seed too large", "\nseeds: [1]\n", "\nseeds: [1180591620717411303424]\n",
     "'seeds' must be a non-empty list of integers from 0 to 4294967295"),
    ("an integer too large", "    max_steps: 6\n", "    max_steps: 100000000000000000000\n",
     "'smoke.train.max_steps' must be at most 9223372036854775807 in size"),
]
BY_ID = {case[0]: case for case in CASES}
ISSUE_CASES = [case for case in CASES if case[0] in ("negative train seed", "empty buckets", "label smoothing 2.5",
                                                     "neural gpu dropout 1.5", "typo in a model's train",
                                                     "unknown key under train", "duplicate key", "gpus typo")]


def bad_params(tmp_path, old: str, new: str):
    assert TEXT.count(old) == 1, old
    path = tmp_path / "params.yaml"
    path.write_text(TEXT.replace(old, new))
    return path


@pytest.mark.parametrize("name,old,new,expected", CASES, ids=[c[0] for c in CASES])
def test_each_mistake_is_refused_naming_its_key_path(tmp_path, name, old, new, expected):
    path = bad_params(tmp_path, old, new)
    with pytest.raises(ParamsError) as err:
        load_params(path, "smoke")  # the whole file is checked, whichever scale is asked for
    assert expected in str(err.value), str(err.value)
    assert all(line.startswith(f"{path}") for line in str(err.value).splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("name,old,new,expected", ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES])
def test_a_stage_refuses_a_bad_file_before_any_work(tmp_path, name, old, new, expected):
    path = bad_params(tmp_path, old, new)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "activemem.stages.train", "--params", str(path), "--scale", "smoke",
                          "--model", "neural_gpu", "--data", str(tmp_path / "none"), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and run.stderr.startswith("error: ") and expected in run.stderr, run.stderr
    assert not out.exists() and not (tmp_path / ".activemem").exists()  # no output, not even the lock


@pytest.mark.parametrize("name,old,new,expected", [BY_ID["label smoothing 2.5"], BY_ID["typo in a model's train"],
                                                    BY_ID["a model's own rule"], BY_ID["duplicate key"]],
                         ids=["default", "model", "model's rule", "duplicate"])
@pytest.mark.slow
def test_snakemake_refuses_a_bad_file_when_it_loads_the_dag(tmp_path, name, old, new, expected):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "pipeline/rules", root / "pipeline/rules")
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    bad_params(root, old, new)
    run = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1"], cwd=root,
                         capture_output=True, text=True)
    assert run.returncode != 0 and expected in run.stdout + run.stderr, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Job stats" not in run.stdout + run.stderr  # refused while loading: no job planned


# ---- YAML 1.2 numbers (issue 18): what `dvc exp run -S` writes must read back as the same number ----
YAML12_FLOATS = [("1e-08", 1e-8), ("1E+3", 1000.0), ("1e3", 1000.0), ("1.0e8", 1e8), ("12e03", 12000.0),
                 ("1.e3", 1000.0), ("-.5", -0.5), ("+.5", 0.5)]
# What PyYAML read before keeps its meaning: ints stay ints (017 is YAML 1.1 octal), strings stay strings.
UNCHANGED = [(".5", 0.5), ("1.", 1.0), ("1.0e-8", 1e-8), ("-2.5e-3", -0.0025), (".5e-1", 0.05), ("1.5", 1.5), ("3", 3), ("-0", 0), ("0x1F", 31),
             ("017", 15), ("1_000", 1000), ("1e", "1e"), ("1.2.3", "1.2.3"), ("e3", "e3"), (".e3", ".e3"),
             ("1e+", "1e+"), (".", "."), ("0o17", "0o17"), (".inf", float("inf")), ("-.inf", float("-inf")),
             ("yes", True)]


@pytest.mark.parametrize("text,value", YAML12_FLOATS + UNCHANGED, ids=[text for text, _ in YAML12_FLOATS + UNCHANGED])
def test_read_takes_yaml_1_2_floats_and_keeps_every_other_meaning(tmp_path, text, value):
    path = tmp_path / "p.yaml"
    path.write_text(f"a: {text}\n")
    got = read(path)["a"]
    assert got == value and type(got) is type(value), (text, got)
    if (text, value) in YAML12_FLOATS:
        assert yaml.safe_load(f"a: {text}")["a"] == text   # PyYAML's own loader is left as it was


def test_read_keeps_nan(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("a: .nan\n")
    assert math.isnan(read(path)["a"])


def dvc_written(tmp_path) -> Path:
    """params.yaml as DVC leaves it after `dvc exp run -S demo.train.adam_eps=1e-8
    -S +smoke.train.adam_eps=1e-8`: ruamel.yaml's round-trip loader and dumper (dvc/utils/serialize)."""
    from ruamel.yaml import YAML
    rt = YAML()
    rt.default_flow_style = False
    data = rt.load(TEXT)
    data["demo"]["train"]["adam_eps"] = 1e-8
    data["smoke"]["train"]["adam_eps"] = 1e-8
    path = tmp_path / "params.yaml"
    with path.open("w") as f:
        rt.dump(data, f)
    return path


def test_an_exponent_written_by_ruamel_reads_back_as_the_number(tmp_path):
    path = dvc_written(tmp_path)
    text = path.read_text()
    assert "adam_eps: 1e-08" in text and text.count("1e-08") == 2    # YAML 1.2's spelling, not 1.0e-08
    for scale in ("demo", "smoke"):
        eps = load_params(path, scale)["train"]["adam_eps"]
        assert eps == 1e-8 and isinstance(eps, float)


@pytest.mark.slow
def test_dvc_set_param_round_trip(tmp_path):
    """The same through DVC's own code for `-S` (Hydra override grammar, then ruamel)."""
    hydra = pytest.importorskip("dvc.utils.hydra")
    path = tmp_path / "params.yaml"
    path.write_text(TEXT)
    before = {scale: load_params(path, scale) for scale in ("demo", "converged", "smoke", "news", "paper")}
    # every key of a scale section is there through its merge key: no `+` needed
    hydra.apply_overrides(path, ["demo.train.adam_eps=1e-8", "smoke.train.adam_eps=1e-8", "demo.train.lr=1e-3"])
    assert "1e-08" in path.read_text()
    demo = load_params(path, "demo")["train"]
    assert (demo["adam_eps"], demo["lr"]) == (1e-8, 1e-3)
    assert load_params(path, "smoke")["train"]["adam_eps"] == 1e-8
    # Hydra writes out every value the merge keys supplied (docs/engines.md): the same values, so nothing
    # else moved; converged's block, written out with the demo's values from before the edit, keeps them
    after = {scale: load_params(path, scale) for scale in before}
    for scale in before:
        changed = {k for k in before[scale]["train"] if before[scale]["train"][k] != after[scale]["train"][k]}
        assert changed == ({"lr"} if scale == "demo" else  # the demo's adam_eps is 1e-8 already
                           {"adam_eps"} if scale == "smoke" else set()), scale
        assert {**before[scale], "train": None, "path": None} == {**after[scale], "train": None, "path": None}


@pytest.mark.slow
def test_snakemake_takes_an_exponent_written_by_dvc(tmp_path):
    """Snakemake reads params.yaml as its configfile with PyYAML (YAML 1.1: `1e-08` is a string) and
    common.smk compares it with the file read the same way: no override is reported, and the stages'
    reader takes the number. Reading one side with activemem.config.read would flag it."""
    pytest.importorskip("snakemake")
    root = tmp_path / "repo"
    for folder in ("pipeline", "src/activemem", "paper/templates"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Snakefile", "paper/published.yaml", "paper/claims.yaml", "paper/claims.algorithmic.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copy(dvc_written(tmp_path), root / "params.yaml")
    run = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--config", "scale=smoke"],
                         cwd=root, capture_output=True, text=True)
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "Job stats" in out, out[-3000:]


def assert_kept(before, now, where: str) -> None:
    """Every value of ``before`` is in ``now``, equal and of the same type (4.0 stays a float); keys
    added since are allowed."""
    if isinstance(before, dict):
        assert isinstance(now, dict), where
        for key, value in before.items():
            assert key in now, f"{where}.{key} is gone"
            assert_kept(value, now[key], f"{where}.{key}")
    else:
        assert json.dumps(now) == json.dumps(before), f"{where}: {now!r}, was {before!r}"


def test_every_scale_resolves_to_the_settings_it_had_before_defaults():
    """tests/data/params_resolved_before.json: each scale as load_params returned it before the
    defaults block existed (generated from that params.yaml), with the demo values issue 10 changed on
    purpose afterwards (1-clause data, its buckets and widths, test sizes, length penalty and length
    buckets) and the paper's sentencepiece sample issue 18 sized by measuring its memory (10M → 4M
    sentences), and the demo's GRU+Attention resized to the Extended Neural GPU's count when that gained
    the authors' first CGRU (issue 29: hidden and attention 112 → 122), and the demo's training threads 2 → 1
    (issue 30: two one-thread jobs side by side on 2 cores). Moving a value to `defaults` must not change it. Only what the file lists is checked:
    a model or a scale added since (algorithmic) needs no entry."""
    before = json.loads((REPO / "tests/data/params_resolved_before.json").read_text())
    assert set(before) <= set(scale_names(read(PARAMS)))
    for scale, expected in before.items():
        now = load_params(PARAMS, scale)
        # A model added since runs beside the recorded ones (their settings are checked as any
        # key's); the recorded ones must all still run, in their order.
        added = [n for n in now["model_names"] if n not in expected["model_names"]]
        assert [n for n in now["model_names"] if n not in added] == expected["model_names"], scale
        assert_kept({k: v for k, v in expected.items() if k != "model_names"}, now, scale)


def test_a_scale_overrides_defaults_key_by_key():
    raw = yaml.safe_load("""
defaults: {train: {lr: 1, sampling: {a: 1, b: 2}, buckets: [1, 2]}, data: {demo: {seed: 1}, wmt14: {dev: x}}}
s: {data: {source: demo}, train: {sampling: {b: 3}, buckets: [5], curriculum: null}}
""")
    assert resolve(raw, "s") == {"train": {"lr": 1, "sampling": {"a": 1, "b": 3}, "buckets": [5], "curriculum": None},
                                 "data": {"seed": 1, "source": "demo"}}


def test_check_params_prints_the_resolved_scale_as_a_params_file(tmp_path, capsys):
    cli.main(["check-params", "--params", str(PARAMS), "--scale", "smoke"])
    printed = yaml.safe_load(capsys.readouterr().out)
    smoke = load_params(PARAMS, "smoke")
    assert printed["scale"] == "smoke" and printed["seeds"] == smoke["seeds"] == [1]
    assert {**printed["smoke"]["train"], "seed": 1} == smoke["train"]  # train.seed: the first of `seeds`
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(printed, sort_keys=False))
    assert load_params(tmp_path / "params.yaml") == {**smoke, "path": str(tmp_path / "params.yaml")}
    bad = bad_params(tmp_path, *BY_ID['bad choice'][1:3])
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check-params", "--params", str(bad)])
    assert exit_.value.code == f"error: {bad}: {BY_ID['bad choice'][3]}"


def test_checking_params_and_reading_stage_settings_never_import_torch():
    # Both engines check params.yaml when they build the DAG; importing torch there would cost more
    # than the rest of a no-op run (models/configs.py holds the hyper-parameters apart from torch).
    code = ("import sys\n"
            "from activemem.config import load_params, read\n"
            "from activemem import dag, models, paper\n"
            f"for scale in {sorted(scale_names(read(REPO / 'params.yaml')))!r}:\n"
            f"    load_params({str(REPO / 'params.yaml')!r}, scale)\n"
            "    for stage in dag.STAGES:\n"
            f"        dag.settings_values(read({str(REPO / 'params.yaml')!r}), stage.name, scale, 'neural_gpu')\n"
            "        dag.code_digest(stage.name)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_committed_json_schema_is_generated_from_schema_py_and_accepts_params_yaml():
    jsonschema = pytest.importorskip("jsonschema")
    from activemem.schema_export import params_schema
    committed = json.loads((REPO / "pipeline/schemas/params.schema.json").read_text())
    assert committed == params_schema(), "stale: python -m activemem.schema_export > pipeline/schemas/params.schema.json"
    jsonschema.Draft202012Validator.check_schema(committed)
    jsonschema.validate(read(PARAMS), committed)


@pytest.mark.parametrize("path,value,expected", [
    (("demo", "train", "lr"), -1, "less than or equal to the minimum of 0"),
    (("demo", "train", "lrr"), 1, "'lrr' was unexpected"),
    (("demo", "train", "sampling", "max_rate"), 2, "greater than the maximum of 1"),
    (("demo", "models", "neural_gpu", "train"), {"lr": 0}, "less than or equal to the minimum of 0"),
    (("demo", "evaluate", "width"), "wide", "is not one of ['search', 'fixed']"),
    (("report", "floor_bleu"), "five", "is not of type 'number'"),
])
def test_the_json_schema_refuses_what_our_checker_refuses(path, value, expected):
    jsonschema = pytest.importorskip("jsonschema")
    raw = read(PARAMS)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError) as err:
        jsonschema.validate(raw, json.loads((REPO / "pipeline/schemas/params.schema.json").read_text()))
    assert expected in err.value.message and list(err.value.absolute_path)[:len(path) - 1] == list(path[:-1])
    with pytest.raises(ParamsError):  # and our checker, the authority, refuses it too
        check(raw, PARAMS)


def test_a_nan_read_twice_is_no_override():
    """Issue 33 #5: `lr: .nan` in params.yaml was reported as a --config override under Snakemake
    (NaN != NaN); it is the same value on both sides, and the schema names it."""
    from activemem.config import override_differences
    nan = float("nan")
    assert override_differences({"smoke": {"train": {"lr": nan}}}, {"smoke": {"train": {"lr": nan}}}) == []
    assert override_differences({"smoke": {"train": {"lr": nan}}}, {"smoke": {"train": {"lr": 0.1}}}) == \
        ["smoke.train.lr"]


# ---- issue 33 #4: a YAML alias bomb, and messages about huge values -------------------------------
def alias_bomb(levels: int = 9) -> str:
    """A flow list of nested anchors, each alias repeated nine times: ``levels`` lines of YAML that
    expand to 9**levels values."""
    anchors = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    anchors += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "[" + ", ".join(anchors) + "]"


BOMB_READER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # on the unguarded reader: MemoryError, not 4 GB
from activemem.config import ParamsError, load_params
try:
    load_params(sys.argv[1], "smoke")
except ParamsError as err:
    print(err)
"""


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    path = bad_params(tmp_path, "    lr: 0.003\n", f"    lr: {alias_bomb()}\n")
    run = subprocess.run([sys.executable, "-c", BOMB_READER, str(path)], capture_output=True, text=True, timeout=60)
    line = 1 + TEXT[:TEXT.index("    lr: 0.003\n")].count("\n")
    assert run.stdout.startswith(f"{path}:{line}: the alias *a4 takes the file past 100000 values once aliases "
                                 f"are expanded"), run.stdout[:500] + run.stderr[-2000:]
    assert len(run.stdout.splitlines()) == 1 and run.returncode == 0


def test_aliases_that_stay_small_are_read_and_one_inside_itself_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"a: &x {{lr: 1}}\nb: *x\nc: {{<<: *x, z: 2}}\nd: {alias_bomb(4)}\n")
    raw = read(path)
    assert raw["b"] == {"lr": 1} and raw["c"] == {"lr": 1, "z": 2} and len(raw["d"][3]) == 9
    path.write_text("a: 1\nb: &x [1, *x]\n")
    with pytest.raises(ParamsError, match=r"p\.yaml:2: the alias \*x stands inside its own anchor"):
        read(path)


def test_a_message_shows_a_huge_value_in_a_few_characters(tmp_path):
    """A value under the alias bound may still be huge (here 59049 values, or a pasted list): the
    message names the key and the start of the value, in one short line."""
    path = bad_params(tmp_path, "    lr: 0.003\n", f"    lr: {alias_bomb(5)}\n    lr_decay: [{', '.join(['7'] * 20000)}]\n")
    with pytest.raises(ParamsError) as err:
        load_params(path, "smoke")
    lines = str(err.value).splitlines()
    assert any(line.startswith(f"{path}: 'smoke.train.lr' must be a number, got [['x', 'x',") for line in lines), lines
    assert any(line.endswith("'smoke.train.lr_decay' must be a number, got [7, 7, 7, 7, 7, 7, 7, 7, ...]")
               for line in lines), lines
    assert all(len(line) < 300 for line in lines), [len(line) for line in lines]


# ---- each setting declared and checked once (issue 31) ------------------------------------------
def test_the_train_settings_are_declared_once_in_the_schema():
    """``schema.Train`` is the one declaration of the ``train`` settings, from params.yaml to the training
    loop, which takes the checked object as it is (``loop.run_config``). A class elsewhere declaring more
    than a quarter of its fields is a second declaration that drifts from it (loop.py's ``TrainConfig``
    repeated 26 of them with looser types). A few shared names are other settings (``control.train.lr``)."""
    train = {f.name for f in dataclasses.fields(schema.Train)}
    repeats = []
    for path in sorted([*(REPO / "src").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]):
        if path == REPO / "src/activemem/schema.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                declared = {s.target.id for s in node.body
                            if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
                if len(declared & train) > len(train) // 4:
                    repeats.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} declares "
                                   f"{len(declared & train)} of schema.Train's {len(train)} fields")
    assert not repeats, repeats


def test_a_models_train_settings_are_the_checked_schema_train_with_its_overrides():
    settings = check(read(PARAMS), PARAMS)
    shared = settings.scales["algorithmic"].train
    params = load_params(PARAMS, "algorithmic")
    assert train_config(params, "neural_gpu") == shared  # the same typed object the check made
    own = train_config(params, "gru_attention")          # models.gru_attention.train: {max_steps: 3600}
    assert own == dataclasses.replace(shared, max_steps=3600) and own.max_steps != shared.max_steps
    assert isinstance(own.sampling, schema.Sampling) and isinstance(own.dev_bleu, schema.DevBleu)
    params["train"]["lr"] = -1.0  # settings changed after loading are held to the same rules
    with pytest.raises(ParamsError, match=rf"^{re.escape(str(PARAMS))}: 'algorithmic.train.lr' must be > 0, got -1.0$"):
        train_config(params, "neural_gpu")


SMOKE_GRU = "    gru_attention: {embedding_dim: 8, hidden: 8, attention_dim: 8}"
SMOKE_NGPU = "    neural_gpu: {maps: 8, height: 2}"
MODEL_SIZE_CASES = [
    ("zero maps", SMOKE_NGPU, "    neural_gpu: {maps: 0, height: 2}", "'smoke.models.neural_gpu.maps' must be >= 1, got 0"),
    ("negative dropout", SMOKE_GRU, SMOKE_GRU[:-1] + ", dropout: -0.1}",
     "'smoke.models.gru_attention.dropout' must be between 0 and 1, got -0.1 (0 <= value < 1)"),
    ("a size as text", SMOKE_NGPU, "    neural_gpu: {maps: '8', height: 2}",
     "'smoke.models.neural_gpu.maps' must be an integer, got '8'"),
    ("unknown size", SMOKE_NGPU, "    neural_gpu: {mapz: 8, height: 2}",
     "'smoke.models.neural_gpu.mapz' is not a known key (did you mean 'maps'?)"),
    ("its Config's own rule", "    transformer: {d_model: 8, heads: 2, layers: 3, ffn: 64}",
     "    transformer: {d_model: 9, heads: 1, layers: 3, ffn: 64}",
     "'smoke.models.transformer.d_model' must be even (sinusoidal positions come in sine/cosine pairs), got 9"),
]


@pytest.mark.parametrize("name,old,new,expected", MODEL_SIZE_CASES, ids=[c[0] for c in MODEL_SIZE_CASES])
def test_a_bad_model_size_is_reported_once_by_the_schema_with_its_key_path(tmp_path, name, old, new, expected):
    """The schema is the one check of a model's sizes (``models.build`` takes them as given): one line,
    naming the file and the key path, from loading params.yaml and from the train stage before any work."""
    from activemem.stages import train as train_stage
    path = bad_params(tmp_path, old, new)
    with pytest.raises(ParamsError) as err:
        load_params(path, "smoke")
    assert str(err.value) == f"{path}: {expected}"
    model = expected.split(".")[2]
    with pytest.raises(SystemExit) as stop:
        train_stage.main(["--params", str(path), "--scale", "smoke", "--model", model,
                          "--data", str(tmp_path / "none"), "--out", str(tmp_path / "out")])
    assert stop.value.code == f"error: {path}: {expected}"
    assert not (tmp_path / "out").exists()
