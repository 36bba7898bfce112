"""What makes two training runs the *same* run, so that a checkpoint only ever resumes its own run.

A run is identified by everything that shapes its weights:

- ``code``: a content hash of the package source that runs (a changed model line is a new run);
- ``torch``: the torch version (kernels and RNG streams differ between versions);
- ``model``: the registry name and the resolved model config;
- ``settings``: every training setting, the step limit and the thread count included (a shorter
  run is a different run: its learning-rate decay and sampling schedule saw other steps);
- ``data``: the prepared files' sizes and SHA-256 from ``manifest.json`` (verified against the
  files themselves before training starts).

The parts are kept apart in the checkpoint so that "starting over" can say which of them changed.
"""

from __future__ import annotations

import torch

from activemem.provenance import settings_digest, source_digest


def run_identity(model_name: str, model_config: dict, settings: dict, data_files: dict) -> dict[str, str]:
    return {
        "code": source_digest(),
        "torch": str(torch.__version__),
        "model": settings_digest([model_name, model_config]),
        "settings": settings_digest(settings),
        "data": settings_digest(data_files),
    }


def differences(old: dict | None, new: dict[str, str]) -> list[str]:
    """The parts of the identity that changed (all of them for a checkpoint without one)."""
    if not isinstance(old, dict):
        return ["fingerprint missing"]
    return [part for part in new if old.get(part) != new[part]]
