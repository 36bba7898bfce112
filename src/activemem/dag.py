"""The pipeline's DAG, declared once: each stage's command, what it reads and writes, the settings it
reads (as ``params.yaml`` key paths) and the code it runs.

Both engines take it from here. ``dvc.yaml`` is generated (``python -m activemem.dag > dvc.yaml``;
``tests/test_dag.py`` fails while the committed file is not current) and lists each stage's settings
under DVC's own ``params:``, so ``dvc status`` and ``dvc repro --dry`` name the stages an edit reruns,
with the keys that changed. The Snakemake rules (``pipeline/rules/*.smk``) put the values of the same
key paths, and a digest of the same code, under each rule's ``params:``: Snakemake reruns a job when
they change. So an edit reruns the same stages under either engine.

Key paths name what is written in ``params.yaml``, never a merged result: DVC reads the file as it is.
That is why every scale section takes its defaults through a YAML merge key (``<<: *train``) instead of
a merge in code, and why ``config.check`` refuses a scale lacking a tracked key. Sub-mappings a scale
overrides in part (``sampling: {double_every: 60}``) are merged over ``defaults`` key by key
(``config.merge``), so their ``defaults`` entry is tracked as well.

Adding a stage, an output or a setting it reads is one edit here (and the rule that schedules it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activemem import schema
from activemem.imports import PACKAGE, closure

ROOT = PACKAGE.parent.parent  # the checkout (src/activemem/../..), where code_digest reads the files
PLOTS = ROOT / "pipeline" / "dvc_plots.yaml"  # DVC's plots section, appended to the generated file

# What a cluster needs to place a job, not what the job computes: no stage tracks it but the paper stage,
# whose report states the whole scale.
SCHEDULING = ("mem_mb", "runtime_min")
# `evaluate` settings only the paper stage reads (its paired bootstrap)
PAPER_ONLY_EVALUATE = ("bootstrap_resamples", "seed")
# `evaluate` settings the train stage decodes its dev BLEU with (evaluate/dev_bleu.py)
DEV_BLEU_DECODING = ("batch_size", "length_penalty", "max_len_ratio", "max_len_offset")


def _nested(cls: type, name: str) -> bool:
    """Whether field ``name`` of ``cls`` is a mapping of its own (a dataclass, or one or None)."""
    hint = typing.get_type_hints(cls)[name]
    return any(dataclasses.is_dataclass(t) for t in (typing.get_args(hint) or (hint,)))


def section_keys(section: str, cls: type, leave_out: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> tuple:
    """The key paths of ``<scale>.<section>``'s fields (those of ``only``, or all but ``leave_out``), and of
    ``defaults.<section>``'s sub-mappings, which ``config.merge`` merges under the scale's key by key."""
    names = [f.name for f in dataclasses.fields(cls) if (f.name in only if only else f.name not in leave_out)]
    return (*(f"{{scale}}.{section}.{n}" for n in names),
            *(f"defaults.{section}.{n}" for n in names if _nested(cls, n)))


@dataclass(frozen=True)
class Stage:
    """One node of the DAG. Paths, arguments and key paths hold the fields ``{scale}`` and, in a stage
    run once per (model, seed), ``{model}`` and ``{seed}``."""

    name: str                       # python -m activemem.stages.<name>
    about: str                      # the comment above it in dvc.yaml
    args: str                       # the command's arguments after --params params.yaml --scale {scale}
    deps: tuple[str, ...] = ()      # data it reads (other stages' outputs, committed files)
    outs: tuple[str, ...] = ()      # what it writes (cached by DVC)
    uncached: tuple[str, ...] = ()  # what it writes that DVC leaves in the workspace only
    metrics: tuple[str, ...] = ()   # uncached outputs DVC tabulates (dvc metrics show/diff)
    settings: tuple[str, ...] = ()  # params.yaml key paths it reads
    per_run: bool = False           # one job per (model, seed) of params.yaml `models` and `seeds`
    # registry parts it calls, which the registries name by "module:name" and import on first use, so no
    # import statement shows them: "models.model" (every model's class), "sources.<hook>" (every data
    # source's hook of that name, activemem/data/sources)
    hooks: tuple[str, ...] = ()
    always_changed: bool = False    # runs on every `dvc repro` (see its `about`)
    module: str = ""                # what it runs, when not activemem.stages.<name> (a DVC-only step)

    @property
    def entry(self) -> str:
        return self.module or f"activemem.stages.{self.name}"

    @property
    def command(self) -> str:
        if self.module:
            return f"python -m {self.module} {self.args}"
        return f"python -m {self.entry} --params params.yaml --scale {{scale}} {self.args}"

    def code(self) -> list[str]:
        """The package files it runs, relative to the checkout: the import closure of its entry module
        and of the registry parts it calls, and the corpus list every stage's params check reads. Where
        it calls a registry, the registry's whole folder instead of its files: a new model or data source
        (a package of its own there) is then code the stage depends on without regenerating dvc.yaml."""
        files = closure(self.entry, *(module for hook in self.hooks for module in hook_modules(hook)))
        folders = sorted({REGISTRY_FOLDERS[hook.partition(".")[0]] for hook in self.hooks})
        names = {str(p.relative_to(PACKAGE.parent.parent)) for p in files} | {"src/activemem/data/wmt14.yaml"}
        return sorted({n for n in names if not n.startswith(tuple(f + "/" for f in folders))} | set(folders))


# where each registry's entries live, a package of their own each
REGISTRY_FOLDERS = {"models": "src/activemem/models", "sources": "src/activemem/data/sources"}


def hook_modules(hook: str) -> list[str]:
    """The modules a registry part names (``models.model``, ``sources.download``), in every entry."""
    from activemem import models
    from activemem.data import sources
    registry, _, part = hook.partition(".")
    entries = {"models": models.REGISTRY, "sources": sources.REGISTRY}[registry].values()
    return sorted({getattr(e, part).partition(":")[0] for e in entries if getattr(e, part)})


RUN = "results/{scale}/{model}/seed{seed}"
PREPARED = "data/{scale}/prepared"
STAGES: tuple[Stage, ...] = (
    Stage("archives",
          "The SHA-256 of each archive the download would use. The archives live outside the workspace, at\n"
          "paths that depend on the scale, so DVC cannot depend on them: this cheap stage runs on every\n"
          "`dvc repro` (digests are remembered by file status) and rewrites its file only when an archive\n"
          "changed, which then reruns the download. Snakemake checks the same when it loads.",
          "--out data/{scale}/archives.json", uncached=("data/{scale}/archives.json",),
          settings=("{scale}.data",), hooks=("sources.archives",), always_changed=True),
    Stage("download", "The raw corpus: the embedded demo or generated tasks, or the WMT'14 archives.",
          "--out data/{scale}/raw", deps=("data/{scale}/archives.json",), outs=("data/{scale}/raw",),
          settings=("{scale}.data",), hooks=("sources.download", "sources.archives")),
    Stage("prepare", "Cleaned, tokenized into sub-words, encoded.",
          "--raw data/{scale}/raw --out " + PREPARED, deps=("data/{scale}/raw",), outs=(PREPARED,),
          settings=section_keys("prepare", schema.Prepare, leave_out=SCHEDULING), hooks=("sources.prepare",)),
    Stage("train", "One training per (model, seed).",
          "--model {model} --seed {seed} --data " + PREPARED + f" --out {RUN}/train "
          "--work checkpoints/{scale}/{model}/seed{seed}",
          deps=(PREPARED,), outs=(f"{RUN}/train",),
          settings=(*section_keys("train", schema.Train, leave_out=SCHEDULING), "{scale}.models.{model}",
                    "{scale}.prepare.max_width", *section_keys("evaluate", schema.Evaluate, only=DEV_BLEU_DECODING)),
          per_run=True, hooks=("models.model",)),
    Stage("evaluate", "One evaluation per (model, seed): test perplexity, BLEU, BLEU by length.",
          "--model {model} --data " + PREPARED + f" --checkpoint {RUN}/train/checkpoint.pt --out {RUN}",
          deps=(f"{RUN}/train", PREPARED),
          outs=tuple(f"{RUN}/{name}" for name in ("evaluation.json", "hypotheses.txt", "hypotheses.greedy.txt",
                                                   "hypotheses.test_long.txt")),
          metrics=(f"{RUN}/metrics.json",),
          # the algorithmic tasks' scores carry their Wilson intervals at the report's level
          settings=(*section_keys("evaluate", schema.Evaluate, leave_out=PAPER_ONLY_EVALUATE),
                    "report.significance_level"),
          per_run=True, hooks=("models.model", "sources.evaluate")),
    Stage("paper", "Table 1, Figure 6, the claims and the report.",
          "--results results/{scale} --data " + PREPARED + " --paper paper --out paper/build/{scale}",
          # the committed snapshots the report compares its numbers with: the whole folder, since a scale
          # may have none and a missing dependency stops DVC
          deps=("results/{scale}", PREPARED, "paper/published.yaml", "paper/claims.yaml",
                "paper/claims.algorithmic.yaml", "paper/templates", "paper/snapshot"),
          uncached=("paper/build/{scale}",),
          # The report states the scale's settings: a WMT scale's, every one that differs from the paper
          # preset (config.preset_comparison), job keys included. So the whole scale, its defaults and the
          # preset: an edit anywhere in them reruns this stage, the cheapest, and nothing else.
          settings=("models", "seeds", "report", "defaults", "{scale}", "paper"), hooks=("sources.report",)),
    # DVC only, last: what DVC made, told to Snakemake (the Snakefile's onsuccess tells DVC in turn)
    Stage("sync",
          "Tells Snakemake what this run made (activemem/engines_sync.py): `snakemake --touch --forceall`, so that\n"
          "`snakemake -n` after `dvc repro` plans nothing and a later change reruns under Snakemake what it reruns\n"
          "here. Last (it depends on the paper stage's output) and on every `dvc repro`, as DVC has no hook after a\n"
          "run; the Snakefile's onsuccess tells DVC in turn (dvc commit).",
          "--scale {scale}", deps=("paper/build/{scale}",), module="activemem.engines_sync", always_changed=True),
)
# Stages only dvc.yaml runs: Snakemake checks the archives when it loads (pipeline/rules/stale.smk) and
# needs no sync with itself
DVC_ONLY = ("archives", "sync")
BY_NAME = {stage.name: stage for stage in STAGES}


# ---- the values Snakemake compares ------------------------------------------------------------------
def key_paths(stage: str, scale: str, model: str | None = None) -> list[str]:
    return list(dict.fromkeys(key.format(scale=scale, model=model) for key in BY_NAME[stage].settings))


def value_at(raw: dict, path: str) -> Any:
    """The value at a dotted key path of params.yaml as loaded (KeyError when it is not there)."""
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def settings_values(raw: dict, stage: str, scale: str, model: str | None = None) -> dict[str, Any]:
    """``{key path: value}`` of what ``stage`` reads: what DVC records in ``dvc.lock`` for it."""
    return {path: value_at(raw, path) for path in key_paths(stage, scale, model)}


def missing_keys(raw: dict, scale: str, models: list[str]) -> list[tuple[str, str]]:
    """``(key path, stage)`` for each tracked setting that ``scale``'s block (or ``defaults``) does not
    hold as written: DVC would stop on it, and it could not tell when the setting changes."""
    missing = []
    for stage in STAGES:
        for model in (models if stage.per_run else [None]):
            missing += [(path, stage.name) for path in key_paths(stage.name, scale, model)
                        if not _present(raw, path)]
    return list(dict.fromkeys(missing))


def _present(raw: dict, path: str) -> bool:
    try:
        value_at(raw, path)
    except KeyError:
        return False
    return True


def shell(stage: str) -> str:
    """The stage's command for a Snakemake rule (its scale a rule param, its model and seed wildcards),
    its output kept in the rule's log as well."""
    command = BY_NAME[stage].command.format(scale="{params.scale}", model="{wildcards.model}", seed="{wildcards.seed}")
    return command + " 2>&1 | tee {log}"


def code_digest(stage: str) -> str:
    """SHA-256 over the stage's code (names and contents): Snakemake's stand-in for DVC's file deps."""
    digest = hashlib.sha256()
    for name in code_files(stage):
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def code_files(stage: str) -> list[str]:
    """The stage's code file by file (its folders expanded, byte-code caches left out as .dvcignore
    leaves them out for DVC)."""
    files = []
    for name in BY_NAME[stage].code():
        path = ROOT / name
        if path.is_dir():
            files += sorted(str(p.relative_to(ROOT)) for p in path.rglob("*")
                            if p.is_file() and "__pycache__" not in p.parts)
        else:
            files.append(name)
    return files


# ---- dvc.yaml ---------------------------------------------------------------------------------------
DVC_FIELDS = {"scale": "${scale}", "model": "${item.model}", "seed": "${item.seed}"}
HEADER = """\
# GENERATED from src/activemem/dag.py by `python -m activemem.dag > dvc.yaml`: edit the table there, then
# regenerate (tests/test_dag.py fails while this file is not current). The same DAG as the Snakefile.
#   dvc repro                                  # the default scale (params.yaml: scale)
#   dvc exp run -S scale=paper                 # another scale
#   dvc status                                 # after an edit: the stages it reruns, and the keys
# Each stage lists the params.yaml settings it reads (params:) and the package files it runs (its
# import closure, src/activemem/imports.py); ${scale}, ${models} and ${seeds} come from params.yaml.
"""


def _dvc(text: str) -> str:
    return text.format(**DVC_FIELDS)


def dvc_yaml() -> str:
    """The text of dvc.yaml: every stage of the table, then DVC's plots (pipeline/dvc_plots.yaml)."""
    lines = [HEADER + "stages:"]
    for stage in STAGES:
        lines.append("")
        lines += [f"  # {line}".rstrip() for line in stage.about.splitlines()]
        lines.append(f"  {stage.name}:")
        if stage.per_run:
            lines += ["    matrix:", "      model: ${models}", "      seed: ${seeds}"]
        lines.append(f"    cmd: {_dvc(stage.command)}")
        if stage.always_changed:
            lines.append("    always_changed: true")
        if stage.settings:
            lines.append("    params:")
            lines += [f"      - {_dvc(key)}" for key in stage.settings]
        lines.append("    deps:")
        lines += [f"      - {_dvc(dep)}" for dep in (*stage.deps, *stage.code())]
        if stage.outs or stage.uncached:
            lines.append("    outs:")
            lines += [f"      - {_dvc(out)}" for out in stage.outs]
            lines += [f"      - {_dvc(out)}:\n          cache: false" for out in stage.uncached]
        if stage.metrics:
            lines.append("    metrics:")
            lines += [f"      - {_dvc(out)}:\n          cache: false" for out in stage.metrics]
    return "\n".join(lines) + "\n\n" + PLOTS.read_text()


if __name__ == "__main__":
    sys.stdout.write(dvc_yaml())
