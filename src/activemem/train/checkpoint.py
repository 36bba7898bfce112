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


def reason(err: BaseException, limit: int = 200) -> str:
    """What went wrong, on one line and never cut inside a word. Torch's messages run to paragraphs of
    advice (some colored), so the leading sentences are kept while they fit in ``limit`` characters;
    the first is always kept, and a heading that ends in a colon keeps the start of what follows
    (a long key list is shortened at a space, marked with …). A bare message (a KeyError's ``101``)
    gets the exception's name in front."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()  # torch colours some messages
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    # a heading (state_dict errors: "Error(s) in loading ...:") says nothing without its next lines
    sentences = re.split(r"(?<=[.:;!?])\s+(?=[A-Z])", " ".join(lines) if lines[0].endswith(":") else lines[0])
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + 1 + len(sentence) > limit:
            if kept.endswith(":"):
                room = max(limit - len(kept) - 3, 20)
                kept += " " + (sentence if len(sentence) <= room else sentence[:room].rsplit(" ", 1)[0] + " …")
            break
        kept += " " + sentence
    return kept if re.search(r"[A-Za-z]{3}", kept) else f"{type(err).__name__}: {kept}"


def save(path: str | Path, payload: dict) -> None:
    with open_atomic(path, binary=True) as f:
        torch.save(payload, f)


# What evaluation reads from a checkpoint; one without them is refused before any work, naming them.
REQUIRED = ("model_name", "vocab_size", "model_config", "model", "train_config", "state")


def load(path: str | Path, device="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist: run the train stage")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many kinds (zip, pickle, EOF) for a damaged file
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason(err)})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path}: not an activemem checkpoint (no model state)")
    return payload


def build_model(ckpt: dict, path: str | Path, device="cpu"):
    """The trained model of a loaded checkpoint (``load``), on ``device``: the last weights, or with
    ``train.select: best`` those of the best dev perplexity (kept beside them in the checkpoint)."""
    from activemem import models
    lacking = [key for key in REQUIRED if key not in ckpt]
    if lacking:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(lacking)}: rerun the train stage")
    weights = ckpt["model"]
    if ckpt["train_config"].get("select") == "best":  # the weights of the best dev perplexity (train.select)
        weights = ckpt.get("best_model")
        if weights is None:
            raise CheckpointError(f"{path}: trained with train.select: best but holds no best weights: "
                                  f"rerun the train stage")
    try:
        # a field the Config gained after this checkpoint was written takes the value it was trained with
        saved_before = getattr(models.config_class(ckpt["model_name"]), "SAVED_BEFORE", {})
        model = models.build(ckpt["model_name"], ckpt["vocab_size"], **{**saved_before, **ckpt["model_config"]})
        model.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: checkpoint does not match its model ({reason(err)}); "
                              f"rerun the train stage") from None
    return model.to(device)


def load_model(path: str | Path, device="cpu"):
    """Rebuild the trained model from a checkpoint (for evaluation)."""
    ckpt = load(path, device)
    return build_model(ckpt, path, device), ckpt
