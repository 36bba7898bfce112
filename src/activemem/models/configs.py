"""The paper's four models' hyper-parameters: no torch.

Kept apart from the models so that reading and checking ``params.yaml`` (which every engine does
when it builds the DAG, and every stage when it starts) does not import torch: on a 2-core machine
that import costs longer than the whole rest of a no-op pipeline run. Models that share
hyper-parameters share a class (the three Neural GPUs). A newer model keeps its Config in its own
package (see ``models/__init__.py``).

What every Config offers besides its fields (all optional but ``TINY``, which the tests use):

- ``problems()``: ``(key path, message)`` for every combination of values the model cannot take,
  checked on the resolved block (defaults filled in) when ``params.yaml`` is read (``schema.py``, the one
  check of a model's sizes: their types, their ranges in ``schema.MODEL_RANGES`` and these rules);
- ``TINY``: hyper-parameters small enough for a test step in milliseconds;
- ``at_size(maps, height)``: hyper-parameters of about the size of an active memory of ``maps`` maps
  and ``height`` rows (``benchmarks/models.py`` compares the models at one such size).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class ActiveMemoryConfig:
    """Hyper-parameters of the Neural GPU family (defaults: the original code's WMT run [K])."""

    maps: int = 256              # M, feature maps per memory cell ("nmaps" = "vec_size", README WMT) [K]
    height: int = 4              # H, memory rows [K]
    kernel_width: int = 3        # conv kernel along the width [K]
    kernel_height: int = 3       # conv kernel along the height [K]
    layers: int = 2              # CGRU layers per step ("nconvs") [K]
    dropout: float = 0.1         # state dropout rate per step is 3·dropout/sqrt(W) [K]
    gate_cutoff: float = 1.2     # σ_c(x) = clamp(1.2·σ(x) − 0.1, 0, 1) [K]
    gate_bias: float = 1.0       # initial bias of both gates [K]; larger keeps more state per step
    init_gain: float = 1.44      # orthogonal init gain of every kernel [K]
    embedding_init: float = 1.7  # embeddings ~ U(−1.7, 1.7) [K]
    checkpoint_steps: bool = False  # recompute each step during backward: O(1) steps of activations
    first_cgru: bool = True      # one CGRU on the embedded source before the W steps: their "first" conv_gru [K]
                                 # (not a no-op; models/active_memory.py says why and how it is built)

    # A checkpoint written before a field existed was trained without it: these are the values that
    # rebuild the architecture it has (``train/checkpoint.py``). ``first_cgru`` came later (issue 29).
    SAVED_BEFORE: ClassVar[dict] = {"first_cgru": False}

    TINY: ClassVar[dict] = {"maps": 16, "height": 2}

    @classmethod
    def at_size(cls, maps: int, height: int) -> dict:
        return {"maps": maps, "height": height}

    def problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        # "same" padding (k // 2 on each side) keeps the memory's shape only for an odd kernel
        for key in ("kernel_width", "kernel_height"):
            if getattr(self, key) % 2 == 0:
                yield (key,), f"must be odd (the memory keeps its shape only with an odd kernel), got {getattr(self, key)}"


@dataclass
class GRUAttentionConfig:
    """Sizes of the attention baseline; the paper's own are unknown, these are our choice [U]."""

    embedding_dim: int = 256     # E, source and target embeddings
    hidden: int = 512            # D, decoder GRU size and size of each encoder direction
    attention_dim: int = 512     # A, size of the additive-attention hidden layer
    dropout: float = 0.1         # on embeddings and on the deep output

    TINY: ClassVar[dict] = {"embedding_dim": 16, "hidden": 16, "attention_dim": 16}

    @classmethod
    def at_size(cls, maps: int, height: int) -> dict:
        # embeddings as deep as the memory, a decoder state twice as deep
        return {"embedding_dim": maps, "hidden": 2 * maps, "attention_dim": 2 * maps}

