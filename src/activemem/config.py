"""``params.yaml``: reading it, merging each scale over ``defaults``, checking all of it before any work.

Layout of ``params.yaml`` (see the file's comments; every key's type and range is in ``schema.py``):

    scale: demo                 # which scale block the pipeline runs
    models: [neural_gpu, …]     # registry names to train and evaluate
    seeds: [1]                  # training seeds: one training and evaluation per (model, seed)
    defaults: {prepare, train, evaluate, …}  # what the scales share
    demo:  {data, prepare, train, models, evaluate}   # only what differs from defaults
    smoke: {…}  news: {…}  paper: {…}
    report: {…}                 # the paper stage (scale-independent)

A scale's settings are its block merged over ``defaults`` key by key (the scale wins; a list or a
``null`` replaces the default whole). ``load_params(path, scale)`` checks the WHOLE file (every scale,
``report``, duplicate keys) and returns that scale's resolved block plus ``scale``, ``model_names``,
``report`` and ``path``. A bad file is a ``ParamsError`` naming each problem's key path as written in
the file (``defaults.train.lr`` where the value comes from ``defaults``), so a mistake in any scale
fails at once, in every stage and when either engine loads the DAG. The resolved ``train.seed`` is
the first of ``seeds``; the train stage's ``--seed`` replaces it for the other seeds.

Layers: this module and ``schema.py`` sit above ``models`` and ``data`` (they read the model registry
and the WMT'14 corpus list) and below ``train``, ``evaluate``, ``paper`` and ``stages``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from activemem import schema
from activemem.dag import DEV_BLEU_DECODING, missing_keys
from activemem.data import sources
from activemem.data.sources.fields import ParamsError  # defined a layer down: a source's download raises it too

TOP_LEVEL = ("scale", "models", "seeds", "min_free_mb", "defaults", "report", "control")
MAX_SEED = 2 ** 32 - 1  # numpy's and torch's seeds; a larger one overflows deep inside them  # every other top-level mapping is a scale
SECTIONS = schema.SECTIONS


# ---- reading -------------------------------------------------------------------------------------
class _DuplicateKey(Exception):
    def __init__(self, key, line: int, first: int):
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


class _AliasBomb(Exception):
    def __init__(self, anchor: str, line: int, values: int | None):
        super().__init__(anchor, line, values)
        self.anchor, self.line, self.values = anchor, line, values


# How many values (scalars, lists and mappings) params.yaml may hold once its YAML aliases are expanded;
# the file holds about 1000. Nine nested anchors of nine aliases each make 9**9 values from 20 lines:
# every reader that walks the expanded data (our checks, Snakemake's config, JSON Schema) would hang on
# it for minutes, filling gigabytes. Not a setting of params.yaml: it guards the reading of that file.
MAX_VALUES = 100_000


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key written twice in one mapping (plain YAML keeps the last), an
    alias inside its own anchor, and aliases that expand the file past ``MAX_VALUES`` values (counted
    on the composed nodes, before anything is expanded)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._values = 0        # values of the document so far, each alias counted as all it stands for
        self._sizes: dict[int, int] = {}  # a node's expanded size, by id (nodes live as long as the loader)
        self._open: set[str] = set()      # anchors whose node is being composed

    def _size(self, node) -> int:
        if id(node) not in self._sizes:
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            else:
                children = []
            self._sizes[id(node)] = 1 + sum(self._size(child) for child in children)
        return self._sizes[id(node)]

    def compose_node(self, parent, index):
        event = self.peek_event()
        if not isinstance(event, yaml.AliasEvent):
            self._values += 1
            if event.anchor is not None:
                self._open.add(event.anchor)
            node = super().compose_node(parent, index)
            self._open.discard(event.anchor)
            return node
        line = event.start_mark.line + 1
        if event.anchor in self._open:
            raise _AliasBomb(event.anchor, line, None)
        node = super().compose_node(parent, index)
        self._values += self._size(node)
        if self._values > MAX_VALUES:
            raise _AliasBomb(event.anchor, line, self._values)
        return node

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may repeat keys on purpose; complex keys: the loader refuses them
            key = self.construct_object(key_node)
            if key in first_line:
                raise _DuplicateKey(key, key_node.start_mark.line + 1, first_line[key])
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


# PyYAML reads YAML 1.1, where a float must have a dot and its exponent a sign: `1e-08`, `1E+3`,
# `1.0e8` and `-.5` are strings there. YAML 1.2 (ruamel.yaml, hence DVC: `dvc exp run -S …=1e-8` writes `1e-08`)
# reads them as numbers, so this adds the 1.2 forms PyYAML lacks. Only forms with an exponent or a
# signed leading dot are added: plain integers stay integers, `.inf`/`.nan`, sexagesimals and
# underscores keep their 1.1 meaning, and `1e`, `1.2.3` stay strings. YAML 1.2 octals (`0o17`) are
# not added: they stay strings, which the schema refuses where it wants a number (and a 1.1 `017` is
# still octal 15), so no integer changes meaning.
_YAML12_FLOAT = re.compile(r"^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+|\.[0-9]+)$")
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+.0123456789"))


def read(path: str | Path) -> dict[str, Any]:
    """The file as written (no merging), or a one-line ``ParamsError``."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_StrictLoader)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except _DuplicateKey as dup:
        raise ParamsError(f"{path}:{dup.line}: key {schema.shown(dup.key)} is written twice in one mapping (first on "
                          f"line {dup.first}); YAML would silently keep the last") from None
    except _AliasBomb as bomb:
        what = (f"takes the file past {MAX_VALUES} values once aliases are expanded ({bomb.values} by this line)"
                if bomb.values else "stands inside its own anchor (a value that contains itself)")
        raise ParamsError(f"{path}:{bomb.line}: the alias *{bomb.anchor} {what}; write the values out "
                          f"instead of nesting aliases") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ParamsError(f"{where}: not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of scale, models, defaults, report and the scale blocks")
    return raw


def merge(default: Any, override: Any) -> Any:
    """``override`` merged over ``default``: mappings key by key, anything else replaced whole."""
    if isinstance(default, dict) and isinstance(override, dict):
        merged = {k: merge(v, override[k]) if k in override else copy.deepcopy(v) for k, v in default.items()}
        return {**merged, **{k: copy.deepcopy(v) for k, v in override.items() if k not in default}}
    return copy.deepcopy(override)


def _source(block: Any) -> Any:
    data = block.get("data") if isinstance(block, dict) else None
    return data.get("source") if isinstance(data, dict) else None


def resolve(raw: dict, scale: str) -> Any:
    """A scale's block merged over ``defaults``. Its sections take their defaults through YAML merge keys
    (``<<: *train``), so that DVC, which reads the file as written, sees every setting (``activemem/dag.py``);
    this merge then only fills in the sub-mappings a scale overrides in part (``sampling``). ``defaults.data``
    is keyed by source (demo, wmt14): the sources have different keys, so a scale's ``data`` merges over
    the defaults of its own source."""
    block = raw[scale]
    defaults = raw.get("defaults") if isinstance(raw.get("defaults"), dict) else {}
    base = {k: v for k, v in defaults.items() if k != "data"}
    by_source = defaults.get("data")
    if isinstance(by_source, dict) and isinstance(by_source.get(_source(block)), dict):
        base["data"] = by_source[_source(block)]
    return merge(base, block)


def _near_top_level(name) -> list[str]:
    return difflib.get_close_matches(str(name), TOP_LEVEL, n=1, cutoff=0.75)


def scale_names(raw: dict) -> list[str]:
    """Every top-level mapping but ``defaults`` and ``report`` (and near misses of them: typos)."""
    return [k for k, v in raw.items()
            if isinstance(k, str) and k not in TOP_LEVEL and isinstance(v, dict) and not _near_top_level(k)]


# ---- checking ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The whole file, checked: every scale resolved (defaults merged) and typed."""

    scale: str                          # the scale the pipeline runs unless told otherwise
    models: list[str]
    seeds: list[int]
    scales: dict[str, schema.Scale]
    report: schema.Report


def _has(node: Any, parts: tuple[str, ...]) -> bool:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _get(node: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        node = node[part]
    return node


def _anchor(raw: dict, section: tuple[str, ...]) -> str:
    """The anchor params.yaml gives the defaults of a scale's section (``train``; ``data_demo`` by source)."""
    return f"data_{_source(raw[section[0]])}" if section[1:] == ("data",) else section[-1]


def _where(raw: dict, parts: tuple[str, ...]) -> str:
    """The key path as written in the file: a resolved value that came from ``defaults``, or through a
    YAML merge key from another block (``<<: *train``, ``<<: *demo``), is named where it is written.
    A merged value is the very object of the block it came from (the YAML loader builds each node once),
    so the first block in the file holding that object is where it is written. Python shares some
    objects whatever their node (small integers, booleans, None, one-character strings): such a value
    is named in ``defaults`` when that holds an equal one, else where the scale has it."""
    scale, rest = parts[0], parts[1:]
    if scale in TOP_LEVEL or not rest:
        return ".".join(parts)
    default = ("defaults", "data", str(_source(raw[scale])), *rest[1:]) if rest[0] == "data" else ("defaults", *rest)
    if not _has(raw[scale], rest):  # filled in by merge(): a sub-mapping's key the scale leaves out
        return ".".join(default if _has(raw, default) else parts)
    value = _get(raw[scale], rest)
    if value is None or isinstance(value, bool) or (isinstance(value, int) and -5 <= value <= 256) \
            or (isinstance(value, str) and len(value) < 2):
        return ".".join(default if _has(raw, default) and _get(raw, default) == value else parts)
    for candidate in (default, *((name, *rest) for name in scale_names(raw))):
        if _has(raw, candidate) and _get(raw, candidate) is value:
            return ".".join(candidate)
    return ".".join(parts)


def _check_top_level(raw: dict, problems: schema.Problems) -> None:
    from activemem.models import NAMES
    scales = scale_names(raw)
    for name in raw:
        near = _near_top_level(name)
        if name not in TOP_LEVEL and name not in scales:
            # a non-mapping is no scale; `reprot:` or `default:` is a typo, not a new scale
            problems.append(((str(name),), "is not a known key (not scale, models, seeds, min_free_mb, defaults, "
                                           "report, control, or a scale block)" + (f"; did you mean '{near[0]}'?" if near else "")))
    if raw.get("scale") not in scales:
        problems.append((("scale",), f"must name a scale block ({', '.join(scales)}), got {schema.shown(raw.get('scale'))}"))
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        problems.append((("models",), f"must be a non-empty list of model names, got {schema.shown(models)}"))
    else:
        for name in models:
            if name not in NAMES:
                problems.append((("models",), f"names unknown model {schema.shown(name)}{schema.suggest(str(name), NAMES)}"))
        if len(set(map(str, models))) < len(models):
            problems.append((("models",), f"names a model twice: {schema.shown(models)}"))
    seeds = raw.get("seeds")
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds)):
        problems.append((("seeds",), f"must be a non-empty list of integers from 0 to {MAX_SEED} (training "
                                     f"seeds), got {schema.shown(seeds)}"))
    elif len(set(seeds)) < len(seeds):
        problems.append((("seeds",), f"names a seed twice: {schema.shown(seeds)}"))
    free = raw.get("min_free_mb")
    if "min_free_mb" not in raw:
        problems.append((("min_free_mb",), "is missing (the free disk space every stage keeps, MB; 0 = no check)"))
    elif not isinstance(free, int) or isinstance(free, bool) or not 0 <= free <= schema.LARGEST_INT:
        problems.append((("min_free_mb",), f"must be a whole number of MB >= 0 (the free disk space every "
                                           f"stage keeps; 0 = no check), got {schema.shown(free)}"))
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append((("defaults",), f"must be a mapping of sections ({', '.join(SECTIONS)}), got {schema.shown(defaults)}"))
    elif "data" in defaults:  # by source; checked here too, as a source no scale uses yet is checked nowhere else
        if not isinstance(defaults["data"], dict):
            problems.append((("defaults", "data"), f"must be a mapping of source ({', '.join(schema.DATA_SOURCES)}) "
                                                   f"to its defaults, got {schema.shown(defaults['data'])}"))
        else:
            for source, block in defaults["data"].items():
                where = ("defaults", "data", str(source))
                if source not in schema.DATA_SOURCES:
                    problems.append((where, "is not a data source" + schema.suggest(str(source), schema.DATA_SOURCES)))
                else:
                    schema.check(schema.DATA_SOURCES[source], block, where, problems, partial=True)
    if "report" not in raw:
        problems.append((("report",), "is missing"))


def _untracked(raw: dict, models: list) -> schema.Problems:
    """One problem per scale section lacking keys a stage tracks by key path (``dag.missing_keys``, and
    the source defaults of ``<scale>.data``, which the download tracks whole): DVC would stop on them, or
    miss an edit of ``defaults``."""
    problems: schema.Problems = []
    for name in scale_names(raw):
        lacking: dict[tuple[str, ...], tuple[set, set]] = {}  # section: (keys, stages)
        for key, stage in missing_keys(raw, name, models):
            if "." not in key:  # a top-level block
                problems.append(((key,), f"is missing, and the {stage} stage reads it"))
                continue
            *section, leaf = key.split(".")
            keys, stages = lacking.setdefault(tuple(section), (set(), set()))
            keys.add(leaf)
            stages.add(stage)
        data, default = raw[name].get("data"), resolve(raw, name).get("data")
        if isinstance(data, dict) and isinstance(default, dict) and set(default) - set(data):
            keys, stages = lacking.setdefault((name, "data"), (set(), set()))
            keys |= set(default) - set(data)
            stages |= {"archives", "download"}
        for section, (keys, stages) in lacking.items():
            problems.append((section, f"lacks {', '.join(sorted(keys))}, which the {', '.join(sorted(stages))} "
                             f"stage{'s' if len(stages) > 1 else ''} read: both engines track a stage's settings by "
                             f"their key paths as written in the file (activemem/dag.py), so begin it with "
                             f"`<<: *{_anchor(raw, section)}` to take the defaults, or set them there"))
    return problems


def check(raw: dict, path: str | Path) -> Settings:
    """Every scale, ``report`` and the top-level keys of ``raw``; one ``ParamsError`` listing each problem."""
    problems: schema.Problems = []
    _check_top_level(raw, problems)
    models = raw.get("models") if isinstance(raw.get("models"), list) else []
    scales = {name: schema.check_scale(resolve(raw, name), (name,), models, problems) for name in scale_names(raw)}
    report = schema.check(schema.Report, raw.get("report"), ("report",), problems) if "report" in raw else None
    if "control" in raw:  # the positive control (benchmarks/neural_gpu_control.py), not a scale
        control = schema.check(schema.Control, raw["control"], ("control",), problems)
        if control is not schema.INVALID:
            from activemem.models import config_class
            schema.check(config_class("neural_gpu"), control.model, ("control", "model"), problems,
                         partial=True, meta=schema.model_range)
    if not problems:  # a key path DVC tracks must be written in the file, not filled in by merge()
        problems += _untracked(raw, models)
    if problems:
        lines = []
        for parts, text in problems:
            if text == "is missing" and parts[0] not in TOP_LEVEL and raw.get("defaults"):
                text += " (set it in the scale's block or in defaults)"
            line = f"{path}: '{_where(raw, parts)}' {text}"
            if line not in lines:  # a bad default shows up once per scale
                lines.append(line)
        raise ParamsError("\n".join(lines))
    return Settings(scale=raw["scale"], models=list(models), seeds=list(raw["seeds"]), scales=scales, report=report)


# ---- what the stages use -------------------------------------------------------------------------
def load_params(path: str | Path = "params.yaml", scale: str | None = None) -> dict[str, Any]:
    """One scale's resolved settings as plain data (after checking the whole file)."""
    raw = read(path)
    scale = scale or raw.get("scale")
    if scale not in scale_names(raw):
        raise ParamsError(f"{path}: scale {schema.shown(scale)} has no block; known scales: {scale_names(raw)}")
    settings = check(raw, path)
    params = {**schema.plain(settings.scales[scale]), "scale": scale, "model_names": settings.models,
              "seeds": settings.seeds, "report": schema.plain(settings.report), "path": str(path),
              "min_free_mb": raw["min_free_mb"]}
    params["train"] = {**params["train"], "seed": settings.seeds[0]}  # --seed of the train stage replaces it
    return params


def dev_bleu_decoding(params: dict, name: str) -> dict | None:
    """The decoding settings model ``name``'s training measures dev BLEU with; None when it measures none
    (``train.dev_bleu.every`` 0). Part of the run's fingerprint, so the learning curves are never those of
    another decoding (the train stage's tracked settings hold them: activemem/dag.py)."""
    if not train_settings(params, name)["dev_bleu"]["every"]:
        return None
    return {k: params["evaluate"][k] for k in DEV_BLEU_DECODING}


# ---- a WMT scale against the paper preset (the report's scale note) ------------------------------
PRESET = "paper"  # the scale at the authors' sizes: what a reader holds a WMT run's Table 1 against
# Settings that decide where and how a job runs (cluster memory and time, logs, checkpoints, the
# download cache, threads and GPUs of one global batch, recomputing activations), not what it
# computes: named apart. A model's own keys are written ``models.<key>``, its train overrides ``train.<key>``.
JOB_KEYS = frozenset({"data.downloads", "data.lock", "data.mirror", "data.retries", "data.backoff_seconds",
                      "data.archives", "data.vouched", "prepare.threads", "prepare.mem_mb", "prepare.runtime_min",
                      "train.gpus", "train.threads", "train.mem_mb", "train.runtime_min", "train.log_every",
                      "train.checkpoint_every", "train.compile", "train.device", "models.checkpoint_steps"})


def _is_job_key(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] == "models":  # models.<name>.<key> or models.<name>.train.<key>
        parts = parts[2:] if parts[2:3] == ["train"] else ["models", *parts[2:]]
    return ".".join(parts[:2]) in JOB_KEYS


def _differences(mine: Any, preset: Any, prefix: str) -> list[list]:
    """``[dotted key, this scale's value, the preset's]`` for every leaf that differs (mappings
    key by key, anything else whole; a key one side lacks counts as null there)."""
    if isinstance(mine, dict) and isinstance(preset, dict):
        keys = list(mine) + [k for k in preset if k not in mine]
        return [d for k in keys for d in _differences(mine.get(k), preset.get(k), f"{prefix}.{k}")]
    return [] if mine == preset else [[prefix, mine, preset]]


def _model_settings(params: dict, name: str) -> dict:
    """A model's block with its Config defaults filled in: a size left out of a scale is the default."""
    from activemem.models import config_class
    return {**dataclasses.asdict(config_class(name)()), **params["models"][name]}


def preset_comparison(params: dict) -> dict | None:
    """For a WMT'14 scale: its corpora and every setting that differs from the ``paper`` scale
    (``differences``: ``[key, value, preset value]``; ``job_differences``: keys of ``JOB_KEYS``);
    ``preset`` is None where params.yaml has no ``paper`` scale. None for a source that is not the
    paper's data (its registry entry's ``paper_data``: the demo corpus, whose report says once that it
    is not the paper's data)."""
    data = params["data"]
    if not sources.entry(data["source"]).paper_data:
        return None
    corpora = {"train": list(data["train"]), "dev": data["dev"], "test": data["test"]}
    path = params.get("path")
    if path is None or PRESET not in scale_names(read(path)):
        return {"preset": None, "corpora": corpora, "differences": [], "job_differences": []}
    preset = load_params(path, PRESET)
    found = []
    for section in SECTIONS:
        if section == "models":
            for name in params["model_names"]:
                found += _differences(_model_settings(params, name), _model_settings(preset, name),
                                      f"models.{name}")
        else:
            found += _differences(params[section], preset[section], section)
    return {"preset": PRESET, "corpora": corpora,
            "differences": [d for d in found if not _is_job_key(d[0])],
            "job_differences": [d[0] for d in found if _is_job_key(d[0])]}


def override_differences(on_disk: Any, effective: Any, prefix: str = "") -> list[str]:
    """Dotted keys where ``effective`` settings differ from the ``on_disk`` params file (used to
    refuse engine overrides the stages would never see)."""
    if isinstance(on_disk, dict) and isinstance(effective, dict):
        return [key for k in sorted(set(on_disk) | set(effective), key=str)
                for key in override_differences(on_disk.get(k), effective.get(k), f"{prefix}{k}.")]
    return [] if _same(on_disk, effective) else [prefix.rstrip(".") or "(all)"]


def _same(a: Any, b: Any) -> bool:
    """Equal values, a NaN included: ``lr: .nan`` read twice is the same setting (NaN != NaN in Python),
    which the schema then names as a NaN, instead of an engine override nobody gave."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def model_hparams(params: dict, name: str) -> dict:
    """The model's constructor arguments: its ``models.<name>`` block without the ``train`` overrides."""
    return {k: v for k, v in params["models"][name].items() if k != "train"}


def train_settings(params: dict, name: str) -> dict:
    """Shared ``train`` settings with the model's own ``models.<name>.train`` overrides on top."""
    return {**params["train"], **params["models"][name].get("train", {})}


def train_config(params: dict, name: str) -> schema.Train:
    """Model ``name``'s ``train`` settings (``train_settings``) as the typed ``schema.Train``, made by
    the schema's own check: the one declaration of those settings, from ``params.yaml`` to the training
    loop. Settings read by ``load_params`` were checked already; a ``params`` changed since (a test's,
    a stage's ``--seed``) is held to the same rules, each problem naming its key path. The run's seed
    (``train.seed``: the first of ``seeds``, or ``--seed``) is not a ``train`` key of the file: the
    caller reads it from ``params["train"]["seed"]``."""
    settings = {k: v for k, v in train_settings(params, name).items() if k != "seed"}
    overridden = "train" in params["models"][name]
    where = (params["scale"], "models", name, "train") if overridden else (params["scale"], "train")
    problems: schema.Problems = []
    train = schema.check(schema.Train, settings, where, problems)
    if problems:
        raise ParamsError("\n".join(f"{params.get('path', 'params.yaml')}: '{'.'.join(parts)}' {text}"
                                    for parts, text in problems))
    return train
