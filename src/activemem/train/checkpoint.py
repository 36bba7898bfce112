"""Checkpoints: everything needed to continue a run bit-for-bit, written atomically, loaded safely.

A checkpoint holds the model and optimiser states, the model's registry name and resolved config,
the training state (step, data position, learning-rate scale, dev history), the RNG states and the
run's fingerprint (``train/fingerprint.py``). It is written through ``activemem.atomic`` (a private
temporary file, then a rename), so a run killed while saving leaves the previous checkpoint intact;
it is read with ``torch.load(weights_only=True)`` (no arbitrary pickles). A file that cannot be read
is a :class:`CheckpointError` naming it, never a raw torch traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from activemem.atomic import open_atomic


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read; the message names the file."""


def save(path: str | Path, payload: dict) -> None:
    with open_atomic(path, binary=True) as f:
        torch.save(payload, f)


def load(path: str | Path, device="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist: run the train stage")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many kinds (zip, pickle, EOF) for a damaged file
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # torch colours some messages
        reason = text.splitlines()[0] if text else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason[:160]})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path}: not an activemem checkpoint (no model state)")
    return payload


def load_model(path: str | Path, device="cpu"):
    """Rebuild the trained model from a checkpoint (for evaluation)."""
    from activemem import models
    ckpt = load(path, device)
    try:
        model = models.build(ckpt["model_name"], ckpt["vocab_size"], **ckpt["model_config"])
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, TypeError) as err:
        raise CheckpointError(f"{path}: checkpoint does not match its model ({str(err).splitlines()[0][:160]}); "
                              f"rerun the train stage") from None
    return model.to(device), ckpt
