"""Checkpoints: everything needed to continue a run bit-for-bit, written atomically, loaded safely.

A checkpoint holds the model and optimiser states, the model's registry name and resolved config,
the training state (step, data position, learning-rate scale, dev history) and the RNG states. It is
written to ``<path>.tmp`` and renamed, so a run killed while saving leaves the previous checkpoint
intact; it is read with ``torch.load(weights_only=True)`` (no arbitrary pickles).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


def save(path: str | Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load(path: str | Path, device="cpu") -> dict:
    return torch.load(path, map_location=device, weights_only=True)


def load_model(path: str | Path, device="cpu"):
    """Rebuild the trained model from a checkpoint (for evaluation)."""
    from activemem import models
    ckpt = load(path, device)
    model = models.build(ckpt["model_name"], ckpt["vocab_size"], **ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    return model.to(device), ckpt
