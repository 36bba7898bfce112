"""The model registry: one name per model of the paper.

    from activemem import models
    model = models.build("extended_neural_gpu", vocab_size=8000, maps=128)

Registry names are a user-facing contract: they appear in ``params.yaml``, in result paths and in
the tables. Files, one idea each:

- ``configs.py``              every model's hyper-parameters (dataclasses) and their check; no torch
- ``cgru.py``                 CGRU and CGRU^d cells
- ``active_memory.py``        the Neural GPU encoder (embedding placement, W CGRU steps), widths
- ``neural_gpu.py``           Neural GPU and Markovian Neural GPU (parallel read-out)
- ``extended_neural_gpu.py``  Extended Neural GPU (active-memory decoder with output tape)
- ``gru_attention.py``        GRU + additive attention baseline
- ``decoding.py``             greedy and beam search shared by all four
- ``width_search.py``         the authors' decode-time width search (Neural GPU family), batched

Importing this package does not import torch: a registry entry names its model class by module
path (imported on first use) and its hyper-parameters by ``Config`` class, so ``params.yaml`` can be
checked, and the DAG built, without loading the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from activemem.models.configs import ActiveMemoryConfig, GRUAttentionConfig, make_config

if TYPE_CHECKING:
    from activemem.models.base import TranslationModel


class Entry(NamedTuple):
    """A registry model: ``"package.module:Class"`` (a ``TranslationModel``) and its ``Config``."""

    model: str
    config: type


REGISTRY: dict[str, Entry] = {
    "neural_gpu": Entry("activemem.models.neural_gpu:NeuralGPU", ActiveMemoryConfig),
    "markovian_neural_gpu": Entry("activemem.models.neural_gpu:MarkovianNeuralGPU", ActiveMemoryConfig),
    "extended_neural_gpu": Entry("activemem.models.extended_neural_gpu:ExtendedNeuralGPU", ActiveMemoryConfig),
    "gru_attention": Entry("activemem.models.gru_attention:GRUAttention", GRUAttentionConfig),
}
NAMES: tuple[str, ...] = tuple(REGISTRY)

# The names the paper's Table 1 uses for them.
PAPER_NAMES: dict[str, str] = {
    "neural_gpu": "Neural GPU",
    "markovian_neural_gpu": "Markovian Neural GPU",
    "extended_neural_gpu": "Extended Neural GPU",
    "gru_attention": "GRU+Attention",
}


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(NAMES)}") from None


def config_class(name: str) -> type:
    """Model ``name``'s hyper-parameter dataclass (without importing the model, or torch)."""
    return entry(name).config


def model_class(name: str) -> type[TranslationModel]:
    """Model ``name``'s class, imported on first use."""
    registered = entry(name)
    module, _, attribute = registered.model.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if cls.Config is not registered.config:  # the registry and the class must agree on the sizes
        raise TypeError(f"registry entry {name!r} names {registered.config.__name__}, "
                        f"but {registered.model}.Config is {cls.Config.__name__}")
    return cls


def build(name: str, vocab_size: int, **hparams) -> TranslationModel:
    """Build registry model ``name``; unknown or wrongly typed ``hparams`` raise ``ValueError``."""
    return model_class(name)(vocab_size, make_config(config_class(name), hparams, name))


__all__ = ["NAMES", "PAPER_NAMES", "REGISTRY", "Entry", "build", "config_class", "model_class"]
