"""``params.yaml``: loading one scale's settings and checking them before any work starts.

Layout of ``params.yaml`` (see the file's comments for every key):

    scale: demo                 # which block below the pipeline runs
    models: [neural_gpu, …]     # registry names to train and evaluate
    demo:  {data, prepare, train, models, evaluate}
    news:  {…}                  # a small real WMT preset
    paper: {…}                  # WMT'14 at the paper's sizes
    report: {…}                 # the paper stage (scale-independent)

``load_params(path, scale)`` returns that scale's block plus ``scale``, ``models`` and ``report``.
A bad value raises ``ParamsError`` naming the dotted key, before any stage does work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("data", "prepare", "train", "models", "evaluate")


class ParamsError(ValueError):
    pass


def load_params(path: str | Path = "params.yaml", scale: str | None = None) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    scale = scale or raw.get("scale")
    if not scale or scale not in raw or not isinstance(raw[scale], dict):
        known = [k for k, v in raw.items() if isinstance(v, dict) and "train" in v]
        raise ParamsError(f"{path}: scale {scale!r} has no block; known scales: {known}")
    block = raw[scale]
    for section in SECTIONS:
        if not isinstance(block.get(section), dict):
            raise ParamsError(f"{path}: missing section '{scale}.{section}'")
    from activemem.models import NAMES
    models = raw.get("models")
    if not isinstance(models, list) or not models:
        raise ParamsError(f"{path}: 'models' must be a non-empty list of model names")
    for name in models:
        if name not in NAMES:
            raise ParamsError(f"{path}: 'models' names unknown model {name!r}; known: {list(NAMES)}")
        if name not in block["models"]:
            raise ParamsError(f"{path}: missing '{scale}.models.{name}'")
    return {**block, "scale": scale, "model_names": models, "report": raw.get("report", {}),
            "path": str(path)}


def override_differences(on_disk: Any, effective: Any, prefix: str = "") -> list[str]:
    """Dotted keys where ``effective`` settings differ from the ``on_disk`` params file (used to
    refuse engine overrides the stages would never see)."""
    if isinstance(on_disk, dict) and isinstance(effective, dict):
        return [key for k in sorted(set(on_disk) | set(effective), key=str)
                for key in override_differences(on_disk.get(k), effective.get(k), f"{prefix}{k}.")]
    return [] if on_disk == effective else [prefix.rstrip(".") or "(all)"]


def get(params: dict, dotted: str, kind: type | tuple = object, minimum: float | None = None) -> Any:
    """``params["a"]["b"]`` for ``"a.b"``, checked; errors name the key as written in params.yaml."""
    top_level = dotted.split(".")[0] == "report"  # the one section outside the scale blocks
    where = f"{params.get('path', 'params')}: '{dotted if top_level else params.get('scale') + '.' + dotted}'"
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamsError(f"{where} is missing")
        node = node[part]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and int not in kinds:
        kinds = kinds + (int,)
    if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise ParamsError(f"{where} must be {names}, got {node!r}")
    if minimum is not None and node < minimum:
        raise ParamsError(f"{where} must be >= {minimum}, got {node!r}")
    return node


def model_hparams(params: dict, name: str) -> dict:
    """The model's constructor arguments: its ``models.<name>`` block without the ``train`` overrides."""
    return {k: v for k, v in params["models"][name].items() if k != "train"}


def train_settings(params: dict, name: str) -> dict:
    """Shared ``train`` settings with the model's own ``models.<name>.train`` overrides on top."""
    return {**params["train"], **params["models"][name].get("train", {})}
