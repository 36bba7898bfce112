"""The schema of ``params.yaml``: every key of a scale, its type, its allowed values and what it is.

One dataclass per section of a scale (``data``, ``prepare``, ``train``, ``evaluate``) and one for
the top-level ``report``; ``data`` has one per data source, kept with the source (its ``Data`` in
``data/sources/<name>/``, named by the source registry), so that a new source is its own package.
A field is one key::

    lr: float = key("Adam learning rate", above=0)

Its annotation is the type (``Literal[...]`` for a choice, ``X | None`` where ``null`` is allowed, a
nested dataclass for a nested mapping); ``key`` gives the one-line meaning and the range of a number
(of every number of a list). Fields have no defaults: the values live in ``params.yaml`` only, so
adding a key is one line here and its value in the file's ``defaults`` (or in every scale).

The models' hyper-parameters are not repeated here: each model's own ``Config`` dataclass (named by
its registry entry, ``models/__init__.py``) gives their names, types, defaults and cross-checks
(``problems()``), and ``MODEL_RANGES`` their ranges.

``check(cls, value, path, problems)`` turns a mapping read from YAML into ``cls``, appending
``(key path, what is wrong)`` to ``problems`` for every unknown key, missing key, wrong type, bad choice
and number out of range. It never stops at the first problem: a user fixes a file in one go.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import operator
import types
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Union, get_args, get_origin, get_type_hints

from activemem.data import sources
# one key of params.yaml, and a value as a message quotes it: defined a layer down, where each data source
# types its own `data` block with them (data/sources/fields.py)
from activemem.data.sources.fields import SHOWN_CHARS, key, shown  # noqa: F401

Path = tuple[str, ...]           # a key path, e.g. ("demo", "train", "lr")
Problems = list[tuple[Path, str]]
INVALID = object()               # a value that failed its check (its problem is already recorded)
LARGEST_INT = 2 ** 63 - 1        # what torch, numpy and the pipeline's files can hold
# ---- the sections of a scale ----------------------------------------------------------------------
# ``<scale>.data``: its keys depend on its ``source``; each source's dataclass lives with the source
# (``data/sources/<name>/__init__.py``), imported on first use. A view of the registry, not a copy.
DATA_SOURCES = sources.DataClasses()


@dataclass(frozen=True)
class Prepare:
    """``<scale>.prepare``: cleaning and the sub-word vocabulary."""

    vocab_size: int = key("joint sentencepiece vocabulary size", low=8)
    model_type: Literal["unigram", "bpe", "char", "word"] = key("sentencepiece model type")
    seed: int = key("sentencepiece sampling seed", low=0)
    max_vocab_sentences: int = key("sentences sampled to train the sub-word model", low=1)
    max_ratio: float = key("train pairs with one side longer than this × the other are dropped", low=1)
    max_words: int = key("train pairs longer than this (words, either side) are dropped", low=1)
    max_width: int = key("train pairs wider than this (max(|src|, |tgt|+1) sub-words) are dropped", low=2)
    threads: int = key("threads of sentencepiece (training, encoding); at most the cores given", low=1)
    mem_mb: int = key("memory of the prepare job, MB (cluster scheduling; see benchmarks/prepare_scale.py)", low=1)
    runtime_min: int = key("wall time of the prepare job, minutes (cluster scheduling)", low=1)


@dataclass(frozen=True)
class Sampling:
    """``<scale>.train.sampling``: scheduled sampling of the Extended Neural GPU."""

    max_rate: float = key("the rate's cap", low=0, high=1)
    start_rate: float = key("the rate at step 0", low=0, high=1)
    double_every: float = key("steps over which the rate doubles", above=0)


@dataclass(frozen=True)
class Curriculum:
    """``<scale>.train.curriculum``: the authors' length curriculum (``train/curriculum.py``)."""

    start_width: int = key("widest bucket admitted at the start", low=1)
    every: int = key("steps between widening checks", low=1)
    max_perplexity: float = key("widen by one while the training perplexity is below this", low=1)


@dataclass(frozen=True)
class DevBleu:
    """``<scale>.train.dev_bleu``: greedy dev BLEU during training, for the learning curves."""

    every: int = key("dev evaluations between dev BLEU decodes (0 = off)", low=0)
    sentences: int = key("the first N dev sentences are decoded", low=1)


@dataclass(frozen=True)
class Train:
    """``<scale>.train`` (and, per model, ``<scale>.models.<m>.train``): optimisation and the job."""

    gpus: int = key("GPUs per training job (> 1 runs the stage under torchrun)", low=0)
    threads: int = key("CPU threads per training/decoding job (part of the result on CPU)", low=1)
    mem_mb: int = key("memory per training job, MB (cluster scheduling)", low=1)
    runtime_min: int = key("wall time per training job, minutes (cluster scheduling)", low=1)
    device: Literal["auto", "cpu", "cuda"] = key("where to train and decode (auto: cuda if available)")
    bf16: bool = key("bf16 autocast on CUDA (ignored on CPU)")
    compile: bool = key("torch.compile the model (CUDA only)")
    deterministic: bool = key("deterministic kernels: the same numbers on every run")
    cpu_kernels: Literal["avx2", "native"] = key(
        "CPU kernels: avx2 pins every kernel family to AVX2 (the same numbers on any x86-64 CPU with AVX2, "
        "activemem/kernels.py); native lets torch pick the machine's fastest (numbers of that kind of CPU)")
    buckets: list[int] = key("width buckets, increasing; the last >= prepare.max_width", low=1)
    batch_tokens: int = key("tokens per step: pairs of width w per batch = batch_tokens // w", low=1)
    max_steps: int = key("training steps", low=1)
    max_minutes: float = key("opt-in wall-clock stop, minutes (0 = off)", low=0)
    lr: float = key("Adam learning rate", above=0)
    adam_eps: float = key("Adam epsilon", low=0)
    clip_norm: float = key("global gradient-norm clipping", low=0)
    label_smoothing: float = key("label smoothing of the training loss", low=0, below=1)
    lr_decay: float = key("lr factor when dev perplexity exceeds the max of the last plateau_window", above=0, high=1)
    plateau_window: int = key("dev evaluations the lr decay looks back", low=1)
    patience: int = key("stop after this many dev evaluations without improvement (0 = off)", low=0)
    min_improvement: float = key("a dev perplexity improves on the best by at least this fraction of it", low=0,
                                 below=1)
    select: Literal["best", "last"] = key("the weights evaluation scores: the best dev perplexity's or the last")
    eval_every: int = key("steps between dev evaluations", low=1)
    eval_batch_size: int = key("sentences per batch for dev perplexity", low=1)
    checkpoint_every: int = key("steps between checkpoints", low=1)
    log_every: int = key("steps between training log lines", low=1)
    sampling: Sampling = key("scheduled sampling (Extended Neural GPU)")
    dev_bleu: DevBleu = key("greedy dev BLEU at some dev evaluations (learning curves)")
    curriculum: Curriculum | None = key("the authors' length curriculum (null = off)")

    def problems(self) -> Iterator[tuple[Path, str]]:
        if not self.buckets:
            yield ("buckets",), "must list at least one width"
        elif self.buckets != sorted(set(self.buckets)):
            yield ("buckets",), f"must be strictly increasing, got {shown(self.buckets)}"
        if self.sampling.start_rate > self.sampling.max_rate:
            yield ("sampling", "start_rate"), f"must be <= max_rate ({self.sampling.max_rate}), " \
                                              f"got {shown(self.sampling.start_rate)}"


@dataclass(frozen=True)
class Evaluate:
    """``<scale>.evaluate``: decoding the test splits and scoring them."""

    batch_size: int = key("sentences per decoding batch", low=1)
    beam_size: int = key("beam width", low=1)
    greedy: bool = key("also decode greedily, as a diagnostic")
    length_penalty: float = key("GNMT length penalty alpha", low=0)
    max_len_ratio: float = key("decode at most ratio·|src| + offset sub-words", above=0)
    max_len_offset: int = key("see max_len_ratio", low=0)
    width: Literal["search", "fixed"] = key("Neural GPU family: search the memory width, or one fixed width")
    length_buckets: list[int] = key("edges of the source-length buckets (words), increasing", low=0)
    bootstrap_resamples: int = key("paired-bootstrap resamples of BLEU", low=1)
    seed: int = key("bootstrap seed", low=0)
    max_sentences: int | None = key("score only the first N sentences of each evaluation split (null = all)",
                                    low=1)

    def problems(self) -> Iterator[tuple[Path, str]]:
        if len(self.length_buckets) < 2 or self.length_buckets != sorted(set(self.length_buckets)):
            yield ("length_buckets",), f"must be at least two increasing edges, got {shown(self.length_buckets)}"


@dataclass(frozen=True)
class Report:
    """``report`` (top level, any scale): the thresholds of the claims check."""

    far_below_margin: float = key("claim 'far below': at least this many BLEU points lower", low=0)
    min_bucket_sentences: int = key("length claims use buckets holding at least this many sentences", low=1)
    match_tolerance: float = key("claim 'matches or beats': at most this many points lower", low=0)
    significance_level: float = key("bootstrap intervals are central 1 − this", above=0, below=1)
    floor_bleu: float = key("a BLEU claim is inconclusive when both its BLEU values are below this", low=0)


# ---- the positive control (top-level ``control``; benchmarks/neural_gpu_control.py) -----------------
def _tasks() -> tuple[str, ...]:
    from activemem.data.algorithmic import TASKS  # torch-free
    return TASKS


@dataclass(frozen=True)
class ControlCurriculum:
    """``control.train.curriculum``: the 2015 length curriculum on sequence error (``train/length_curriculum.py``)."""

    start: int = key("size (operand bits of add/mul, else symbols) the curriculum starts at", low=1)
    shortest: int = key("smallest size ever drawn", low=1)
    every: int = key("steps between growth checks", low=1)
    bound: float = key("grow by one when the training sequence error since the last check is below this",
                       above=0, high=1)
    p_max_of_two: float = key("chance a batch's size is the larger of two draws up to the current size",
                              low=0, high=1)
    p_mixed: float = key("chance a batch's size is raised to a draw up to the longest size ('mixed')",
                         low=0, high=1)


@dataclass(frozen=True)
class ControlData:
    """``control.data``: training sizes and the held-out test sets."""

    seed: int = key("seed of the held-out test inputs", low=0)
    train_size: int = key("largest training size (operand bits of add/mul, else symbols)", low=1)
    test_sizes: list[int] = key("sizes tested, increasing (the trained size and longer)", low=1)
    test_pairs: int = key("distinct held-out test pairs per size", low=1)
    long_test_gate: float = key("test a larger size only while the previous one scored at least this "
                                "sequence accuracy", low=0, high=1)
    dev_size: int = key("size of the dev check (held out of training and distinct from every test input)", low=1)
    dev_pairs: int = key("distinct dev pairs per check (0 = no dev checks)", low=0)
    dev_every: int = key("steps between dev checks, from the end of settle_steps on (0 = none)", low=0)
    keep_best: bool = key("test the weights of the best dev check (more right, then fewer symbols wrong), "
                          "not the last ones")

    def problems(self) -> Iterator[tuple[Path, str]]:
        if not self.test_sizes or self.test_sizes != sorted(set(self.test_sizes)):
            yield ("test_sizes",), f"must be at least one increasing size, got {shown(self.test_sizes)}"


@dataclass(frozen=True)
class ControlTrain:
    """``control.train``: the 2015–16 trainer's optimisation, and the CPU budget."""

    batch: int = key("pairs per step, all of one size", low=1)
    lr: float = key("Adam learning rate", above=0)
    adam_eps: float = key("Adam epsilon", above=0)
    clip_norm: float = key("global gradient-norm clipping", above=0)
    max_steps: int = key("training steps at most", low=1)
    max_minutes: float = key("wall-clock cap per run, minutes (0 = none); a run it stops says so", low=0)
    stop_size: int = key("stop once the curriculum has reached this size ...", low=1)
    settle_steps: int = key("... and trained this many steps there at lr, then each of settle_lrs in turn "
                            "(all 0/empty = run to max_steps)", low=0)
    settle_lrs: list[float] = key("the lower learning rates after settle_steps, in order", above=0)
    settle_phase_steps: int = key("steps at each of settle_lrs", low=1)
    decay_factor: float = key("the 2015 rule: lr times this at a curriculum check whose training perplexity "
                              "exceeds the last decay_window checks' (1 = off)", above=0, high=1)
    decay_window: int = key("checks the 2015 rule compares with", low=1)
    curriculum: ControlCurriculum = key("the length curriculum")


@dataclass(frozen=True)
class Control:
    """``control`` (top level): the Neural GPU's own result as a positive control, one task per model."""

    task: str = key("the one task (copy, reverse, sort, add, mul)", choices=lambda: list(_tasks()))
    threads: int = key("CPU threads of the training process", low=1)
    log_every: int = key("steps between log lines", low=1)
    checkpoint_every: int = key("steps between checkpoints (a rerun resumes from the last)", low=1)
    eval_batch_tokens: int = key("source symbols per test batch", low=1)
    model: dict[str, float | bool] = key("the Neural GPU's hyper-parameters (ActiveMemoryConfig keys; checked as such)",
                                         low=0)
    data: ControlData = key("training sizes and held-out tests")
    train: ControlTrain = key("optimisation and curriculum")


SECTIONS = ("data", "prepare", "train", "models", "evaluate")  # of every scale block

# The models' Config fields carry no ranges; these are their ranges, the only check of a model's sizes (models.build
# takes them as given). Dropout is a probability, an integer is a count of at least 1, every other number
# is >= 0.
MODEL_RANGES = {"dropout": {"low": 0, "below": 1}}


def model_range(name: str, kind: type) -> dict:
    return MODEL_RANGES.get(name, {"low": 1} if kind is int else {"low": 0})


@dataclass(frozen=True)
class Scale:
    """One scale block, defaults merged: ``models`` holds each model's block as written (its
    hyper-parameters and optional ``train`` overrides), checked against the model's ``Config``."""

    data: Any                    # its source's dataclass (DATA_SOURCES)
    prepare: Prepare
    train: Train
    models: dict[str, dict[str, Any]]
    evaluate: Evaluate


# ---- checking ------------------------------------------------------------------------------------
def suggest(name: str, known) -> str:
    """" (did you mean 'x'?)" for a near miss, else the list of what is known."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"


def unknown_key(name: str, known) -> str:
    return "is not a known key" + suggest(name, known)


def _out_of_range(value: float, meta: dict) -> str | None:
    """What is wrong with ``value`` against ``low``/``above`` and ``high``/``below``, or None."""
    low = (">=", meta["low"]) if meta.get("low") is not None else (">", meta.get("above"))
    high = ("<=", meta["high"]) if meta.get("high") is not None else ("<", meta.get("below"))
    bounds = [(op, b) for op, b in (low, high) if b is not None]
    passes = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
    if all(passes[op](value, b) for op, b in bounds):
        return None
    if len(bounds) == 1:
        return f"must be {bounds[0][0]} {bounds[0][1]:g}, got {shown(value)}"
    (lo_op, lo), (hi_op, hi) = bounds
    flip = {">=": "<=", ">": "<"}
    return f"must be between {lo:g} and {hi:g}, got {shown(value)} ({lo:g} {flip[lo_op]} value {hi_op} {hi:g})"


def _scalar(tp, value, path: Path, meta: dict, problems: Problems):
    """A non-container value of type ``tp`` (bool, int, float, str or a Literal)."""
    if get_origin(tp) is Literal:
        if value not in get_args(tp):
            problems.append((path, f"must be one of {', '.join(map(str, get_args(tp)))}, got {shown(value)}"))
            return INVALID
        return value
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    kinds = (int, float) if tp is float else (tp,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and tp is not bool):
        problems.append((path, f"must be {names[tp]}, got {shown(value)}"))
        return INVALID
    if tp is float and not math.isfinite(value):
        # .inf as a learning rate or a length penalty runs, and produces garbage far from here
        problems.append((path, f"must be a finite number, got {shown(value)}"))
        return INVALID
    if tp is int and abs(value) > LARGEST_INT:
        problems.append((path, f"must be at most {LARGEST_INT} in size (a 64-bit integer), got {shown(value)}"))
        return INVALID
    if tp in (int, float) and (wrong := _out_of_range(value, meta)):
        problems.append((path, wrong))
        return INVALID
    allowed = meta["choices"]() if tp is str and meta.get("choices") else None
    if allowed is not None and value not in allowed:
        problems.append((path, f"must be one of {', '.join(allowed)}, got {shown(value)}"))
        return INVALID
    return value


def check_value(tp, value, path: Path, meta: dict, problems: Problems):
    """``value`` checked against the annotation ``tp``; INVALID (and a problem recorded) if it fails."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(arms) < len(get_args(tp)):
            return None
        # a value of one arm's own type is checked as that type (``float | bool``: true is a bool, not 1.0)
        arm = next((a for a in arms if type(value) is a), arms[0])
        return check_value(arm, value, path, meta, problems)
    if dataclasses.is_dataclass(tp):
        return check(tp, value, path, problems)
    if origin is list:
        if not isinstance(value, list):
            problems.append((path, f"must be a list, got {shown(value)}"))
            return INVALID
        items = [check_value(get_args(tp)[0], v, path, meta, problems) for v in value]
        return INVALID if INVALID in items else items
    if origin is dict:
        if not isinstance(value, dict):
            problems.append((path, f"must be a mapping, got {shown(value)}"))
            return INVALID
        items = {k: check_value(get_args(tp)[1], v, (*path, str(k)), meta, problems) for k, v in value.items()}
        return INVALID if INVALID in items.values() else items
    return _scalar(tp, value, path, meta, problems)


@functools.cache
def _type_hints(cls) -> dict[str, Any]:
    return get_type_hints(cls)  # resolves the annotations' text: slow, and the same every time


def check(cls, value, path: Path, problems: Problems, partial: bool = False, meta=None):
    """``value`` (a mapping) as an instance of dataclass ``cls``, or INVALID with its problems recorded.

    A field without a default is required unless ``partial`` (overrides name only some keys; then a
    dict of the checked keys is returned). ``meta(name, type)`` gives the range of a field that has no
    ``key(...)`` metadata (the models' own Config classes)."""
    if not isinstance(value, dict):
        problems.append((path, f"must be a mapping of {', '.join(f.name for f in dataclasses.fields(cls))}, "
                               f"got {shown(value)}"))
        return INVALID
    hints = _type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out, before = {}, len(problems)
    for name in value:
        if name not in fields:
            problems.append(((*path, str(name)), unknown_key(str(name), fields)))
    for name, f in fields.items():
        if name not in value:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required and not partial:
                problems.append(((*path, name), "is missing"))
            continue
        rules = dict(f.metadata) if "doc" in f.metadata else (meta(name, hints[name]) if meta else {})
        out[name] = check_value(hints[name], value[name], (*path, name), rules, problems)
    if len(problems) > before:
        return INVALID
    if partial:
        return out
    instance = cls(**out)
    for sub, message in getattr(instance, "problems", lambda: ())():
        problems.append(((*path, *sub), message))
    return INVALID if len(problems) > before else instance


def check_scale(block: Any, path: Path, model_names: list[str], problems: Problems) -> Scale | Any:
    """One scale block (defaults merged), including each listed model's block and cross-section rules."""
    from activemem.models import NAMES, config_class
    if not isinstance(block, dict):
        problems.append((path, f"must be a mapping of {', '.join(SECTIONS)}, got {shown(block)}"))
        return INVALID
    before = len(problems)
    for name in block:
        if name not in SECTIONS:
            problems.append(((*path, str(name)), unknown_key(str(name), SECTIONS)))
    for name in SECTIONS:
        if name not in block:
            problems.append(((*path, name), "is missing"))
    if len(problems) > before:
        return INVALID
    source = block["data"].get("source") if isinstance(block["data"], dict) else None
    if not isinstance(block["data"], dict):
        problems.append(((*path, "data"), f"must be a mapping with a source ({', '.join(DATA_SOURCES)}) and its "
                                          f"keys, got {shown(block['data'])}"))
        data = INVALID
    elif source not in DATA_SOURCES:  # the source decides which keys the data section has
        problems.append(((*path, "data", "source"), f"must be one of {', '.join(DATA_SOURCES)}, got {shown(source)}"))
        data = INVALID
    else:
        data = check(DATA_SOURCES[source], block["data"], (*path, "data"), problems)
    prepare = check(Prepare, block["prepare"], (*path, "prepare"), problems)
    train = check(Train, block["train"], (*path, "train"), problems)
    evaluate = check(Evaluate, block["evaluate"], (*path, "evaluate"), problems)
    models = block["models"]
    if not isinstance(models, dict):
        problems.append(((*path, "models"), f"must be a mapping of model name to its settings, got {shown(models)}"))
        return INVALID
    for name in model_names:
        if name not in models:
            problems.append(((*path, "models", name), "is missing"))
    for name, hparams in models.items():
        where = (*path, "models", str(name))
        if name not in NAMES:
            problems.append((where, "is not a registry model" + suggest(str(name), NAMES)))
            continue
        if not isinstance(hparams, dict):
            problems.append((where, f"must be a mapping of hyper-parameters, got {shown(hparams)}"))
            continue
        config = {k: v for k, v in hparams.items() if k != "train"}
        cls = config_class(name)
        checked = check(cls, config, where, problems, partial=True, meta=model_range)
        if checked is not INVALID:
            # the model's own cross-checks, on its resolved settings: the Config's defaults fill in
            # what the block leaves out (a rule between two keys may involve one the block omits)
            for sub, message in getattr(cls(**checked), "problems", lambda: ())():
                problems.append(((*where, *sub), message))
        if "train" in hparams:
            overrides = check(Train, hparams["train"], (*where, "train"), problems, partial=True)
            if overrides is not INVALID and train is not INVALID:
                # the merged settings this model trains with must hold together too (buckets, rates)
                merged = check(Train, {**block["train"], **hparams["train"]}, (*where, "train"), problems)
                if merged is not INVALID:
                    _check_widths(merged, prepare, (*where, "train"), problems)
    if train is not INVALID:
        _check_widths(train, prepare, (*path, "train"), problems)
    if len(problems) > before:
        return INVALID
    return Scale(data=data, prepare=prepare, train=train, models=models, evaluate=evaluate)


def _check_widths(train: Train, prepare: Prepare | Any, path: Path, problems: Problems) -> None:
    if prepare is not INVALID and train.buckets and train.buckets[-1] < prepare.max_width:
        problems.append(((*path, "buckets"), f"ends at {train.buckets[-1]} but prepare.max_width is "
                                             f"{prepare.max_width}: the widest training pairs fit no bucket"))


def plain(value):
    """A checked value back as YAML data (mappings in schema order), e.g. for ``check-params``."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
