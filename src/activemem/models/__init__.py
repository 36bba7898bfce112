"""The model registry: one name per model of the paper.

    from activemem import models
    model = models.build("extended_neural_gpu", vocab_size=8000, maps=128)

Registry names are a user-facing contract: they appear in ``params.yaml``, in result paths and in
the tables. Files, one idea each:

- ``cgru.py``                 CGRU and CGRU^d cells
- ``active_memory.py``        the Neural GPU encoder (embedding placement, W CGRU steps), widths
- ``neural_gpu.py``           Neural GPU and Markovian Neural GPU (parallel read-out)
- ``extended_neural_gpu.py``  Extended Neural GPU (active-memory decoder with output tape)
- ``gru_attention.py``        GRU + additive attention baseline
- ``decoding.py``             greedy and beam search shared by all four
- ``width_search.py``         the authors' decode-time width search (Neural GPU family), batched
"""

from __future__ import annotations

from activemem.models.base import TranslationModel, make_config
from activemem.models.extended_neural_gpu import ExtendedNeuralGPU
from activemem.models.gru_attention import GRUAttention
from activemem.models.neural_gpu import MarkovianNeuralGPU, NeuralGPU

REGISTRY: dict[str, type[TranslationModel]] = {
    "neural_gpu": NeuralGPU,
    "markovian_neural_gpu": MarkovianNeuralGPU,
    "extended_neural_gpu": ExtendedNeuralGPU,
    "gru_attention": GRUAttention,
}
NAMES: tuple[str, ...] = tuple(REGISTRY)

# The names the paper's Table 1 uses for them.
PAPER_NAMES: dict[str, str] = {
    "neural_gpu": "Neural GPU",
    "markovian_neural_gpu": "Markovian Neural GPU",
    "extended_neural_gpu": "Extended Neural GPU",
    "gru_attention": "GRU+Attention",
}


def model_class(name: str) -> type[TranslationModel]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(NAMES)}") from None


def build(name: str, vocab_size: int, **hparams) -> TranslationModel:
    """Build registry model ``name``; unknown or wrongly typed ``hparams`` raise ``ValueError``."""
    cls = model_class(name)
    return cls(vocab_size, make_config(cls.Config, hparams, name))


__all__ = ["NAMES", "PAPER_NAMES", "REGISTRY", "TranslationModel", "build", "model_class"]
