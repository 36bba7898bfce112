"""The Transformer baseline's hyper-parameters (no torch: ``params.yaml`` is checked against them
whenever a DAG is loaded). The model itself is ``model.py``; why the two are apart:
``models/__init__.py``.

Beyond the paper [U]: the paper compares active memory with a recurrent model with attention only.
A Transformer (attention without recurrence, Vaswani et al. 2017, which names the Extended Neural
GPU among its convolutional predecessors) is the attention model a reader today holds active memory
against, so we run one beside the others, sized to the Extended Neural GPU's parameter count at
every scale (``params.yaml``).

- ``model.py``  the model: a pre-norm encoder-decoder with sinusoidal positions
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class TransformerConfig:
    """Defaults: a model of the Extended Neural GPU's size at the paper scale (36.2M vs 37.6M
    parameters at vocabulary 32k, −4%): the same width as its memory (256) and three V×256 tables like
    it (source and target embeddings, output), so the counts agree at any vocabulary [U]."""

    d_model: int = 256           # D, width of every position's vector
    heads: int = 4               # h, attention heads of D/h dimensions each
    layers: int = 6              # L, encoder layers (and as many decoder layers)
    ffn: int = 1024              # hidden size of each position-wise feed-forward layer (4·D)
    dropout: float = 0.1         # on embeddings, attention weights and every residual branch

    TINY: ClassVar[dict] = {"d_model": 16, "heads": 2, "layers": 2, "ffn": 32}

    @classmethod
    def at_size(cls, maps: int, height: int) -> dict:
        # the memory's depth as the width; four heads where they divide it
        heads = next(h for h in (4, 2, 1) if maps % h == 0)
        return {"d_model": maps, "heads": heads, "ffn": 4 * maps}

    def problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        if self.d_model % self.heads:
            yield ("d_model",), f"must be a multiple of heads ({self.heads}): each head takes D/h, got {self.d_model}"
        if self.d_model % 2:
            yield ("d_model",), f"must be even (sinusoidal positions come in sine/cosine pairs), got {self.d_model}"
