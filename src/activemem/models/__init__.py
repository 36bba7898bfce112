"""The model registry: one entry per model, carrying every fact the rest of the project needs about it.

    from activemem import models
    model = models.build("extended_neural_gpu", vocab_size=8000, maps=128)

Registry names are a user-facing contract: they appear in ``params.yaml``, in result paths and in
the tables. Files, one idea each:

- ``configs.py``              the paper's four models' hyper-parameters (dataclasses); no torch
- ``cgru.py``                 CGRU and CGRU^d cells
- ``active_memory.py``        the Neural GPU encoder (embedding placement, W CGRU steps), widths
- ``neural_gpu.py``           Neural GPU and Markovian Neural GPU (parallel read-out)
- ``extended_neural_gpu.py``  Extended Neural GPU (active-memory decoder with output tape)
- ``gru_attention.py``        GRU + additive attention baseline
- ``base.py``                 what every model shares (``TranslationModel``)
- ``decoding.py``             greedy and beam search shared by all of them
- ``width_search.py``         the authors' decode-time width search (Neural GPU family), batched
- ``transformer/``            the Transformer baseline beyond the paper (a package: see below)
- ``__main__.py``             ``python -m activemem.models --summary``: every model's parameter count

Where a model's facts live:

- this file, its entry: the model class and its ``Config`` (both by module path), its display
  name, whether the paper has a row for it, and its plot style;
- its ``Config`` (torch-free): hyper-parameters with defaults, their cross-checks (``problems()``,
  run when ``params.yaml`` is checked), a tiny size for the tests (``TINY``) and its size beside an
  active memory of a given size for the benchmarks (``at_size``);
- its class: how it computes, decodes (``start``/``step``) and reorders its decoding state for
  beam search (``reorder_state``).

Adding a model is three touches: (1) its code: a package ``models/<name>/`` whose ``__init__.py``
holds the ``Config`` (no torch) and whose ``model.py`` holds the ``nn.Module`` classes; (2) its
entry below; (3) its sizes in ``params.yaml`` (and its name in ``models``). Nothing else names
models: tables, figures, claims, the benchmarks and the tests iterate this registry.

Why a package and not one file: checking ``params.yaml`` needs every ``Config`` and runs whenever
either engine loads the DAG; importing torch there costs more than the rest of a no-op run on two
cores. Python cannot import half a file, so the torch-free half of a model (its ``Config``) is the
package's ``__init__`` and the model itself the module beside it. The paper's four models predate
this and share their machinery (``active_memory.py``, ``cgru.py``), so their Configs stay together in
``configs.py``; an entry names its Config by path either way.

Importing this package does not import torch: entries name classes by ``"module:Class"``, imported
on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple, Union

from activemem.models.configs import ActiveMemoryConfig, GRUAttentionConfig

if TYPE_CHECKING:
    from activemem.models.base import TranslationModel


class Style(NamedTuple):
    """How a model is drawn in Figure 6 and the learning curves: readable without colour, so each
    model has its own marker *and* line style (a matplotlib dash name or ``(offset, (on, off, …))``)."""

    marker: str
    linestyle: Union[str, tuple]
    grey: str                    # grey level, "0.0" (black) … "1.0" (white)


class Entry(NamedTuple):
    """One registry model."""

    model: str                   # "package.module:Class", a TranslationModel (imports torch)
    config: str                  # "package.module:Class", its hyper-parameters (never imports torch)
    label: str                   # its name in tables, figures, claims and the report
    in_paper: bool               # the paper's Table 1 has a row for it; False: "beyond the paper"
    style: Style


REGISTRY: dict[str, Entry] = {
    "neural_gpu": Entry("activemem.models.neural_gpu:NeuralGPU", "activemem.models.configs:ActiveMemoryConfig",
                        "Neural GPU", True, Style("o", ":", "0.65")),
    "markovian_neural_gpu": Entry("activemem.models.neural_gpu:MarkovianNeuralGPU",
                                  "activemem.models.configs:ActiveMemoryConfig",
                                  "Markovian Neural GPU", True, Style("s", "-.", "0.45")),
    "extended_neural_gpu": Entry("activemem.models.extended_neural_gpu:ExtendedNeuralGPU",
                                 "activemem.models.configs:ActiveMemoryConfig",
                                 "Extended Neural GPU", True, Style("^", "-", "0.0")),
    "gru_attention": Entry("activemem.models.gru_attention:GRUAttention",
                           "activemem.models.configs:GRUAttentionConfig",
                           "GRU+Attention", True, Style("D", "--", "0.25")),
    "transformer": Entry("activemem.models.transformer.model:Transformer",
                         "activemem.models.transformer:TransformerConfig",
                         "Transformer", False, Style("v", (0, (3, 1, 1, 1, 1, 1)), "0.55")),
}
NAMES: tuple[str, ...] = tuple(REGISTRY)


def entry(name: str) -> Entry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(NAMES)}") from None


def _load(path: str):
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def label(name: str) -> str:
    """Model ``name``'s display name; a name outside the registry is shown as it is."""
    return REGISTRY[name].label if name in REGISTRY else name


def in_paper(name: str) -> bool:
    """Whether the paper's Table 1 has a row for model ``name``."""
    return name in REGISTRY and REGISTRY[name].in_paper


def config_class(name: str) -> type:
    """Model ``name``'s hyper-parameter dataclass (without importing the model, or torch)."""
    return _load(entry(name).config)


def model_class(name: str) -> type[TranslationModel]:
    """Model ``name``'s class, imported on first use."""
    registered = entry(name)
    cls = _load(registered.model)
    config = config_class(name)
    if cls.Config is not config:  # the registry and the class must agree on the sizes
        raise TypeError(f"registry entry {name!r} names {config.__name__}, "
                        f"but {registered.model}.Config is {cls.Config.__name__}")
    return cls


def build(name: str, vocab_size: int, **hparams) -> TranslationModel:
    """Build registry model ``name`` at the sizes ``hparams`` (the ``Config``'s defaults for the rest).

    They are taken as given: the schema (``schema.check_scale``, when ``params.yaml`` is read) is the one
    check of a model's sizes, naming the key path of each bad one; a checkpoint's sizes were checked so
    when it was trained. A name the ``Config`` lacks is a ``TypeError``."""
    return model_class(name)(vocab_size, config_class(name)(**hparams))


# The display names of the models the paper's Table 1 has rows for (registry order).
PAPER_NAMES: dict[str, str] = {n: e.label for n, e in REGISTRY.items() if e.in_paper}

__all__ = ["NAMES", "PAPER_NAMES", "REGISTRY", "Entry", "Style", "ActiveMemoryConfig", "GRUAttentionConfig",
           "build", "config_class", "model_class", "label", "in_paper"]
