"""What every registry model shares: the ``forward``/``start``/``step``/``generate`` contract.

- ``forward(src, tgt_in)`` → logits ``[B, T, V]``, teacher-forced. ``src`` is ``[B, S]`` and ``tgt_in``
  is ``[B, T]``, both padded with ``PAD`` (0); ``tgt_in[:, k]`` is the token *before* output ``k``
  (``BOS`` at ``k = 0``), so the training target is ``tgt_in`` shifted left with ``EOS`` appended.
- ``start``/``step``: the same model, one output at a time (``decoding.py`` drives them);
  ``reorder_state`` selects (and repeats) batch rows of a decoding state, so that beams follow their
  parents. Its default takes the state to be a flat dict of batch-first tensors; a model whose state
  is shaped otherwise (a per-layer key/value cache, say) overrides it.
- ``generate(src, max_len, beam_size, length_penalty)`` → token ids ``[B, T]``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from activemem.models import decoding


class TranslationModel(nn.Module):
    """Base class of the registry models; subclasses set ``Config`` and implement the methods below."""

    Config: ClassVar[type]

    def __init__(self, vocab_size: int, config):
        super().__init__()
        if vocab_size < 5:
            raise ValueError(f"vocab_size must cover the 4 reserved ids and one more, got {vocab_size}")
        self.vocab_size = vocab_size
        self.config = config

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def start(self, src: torch.Tensor, max_len: int, width: int | None = None) -> decoding.State:
        raise NotImplementedError  # pragma: no cover

    def step(self, state: decoding.State, prev: torch.Tensor, k: int):
        raise NotImplementedError  # pragma: no cover

    def reorder_state(self, state, index: torch.Tensor):
        """Rows ``index`` of the decoding ``state`` (a row may be taken several times, or dropped)."""
        return decoding.reorder(state, index)

    def hypotheses(self, src: torch.Tensor, max_len: int, beam_size: int = 1,
                   length_penalty: float = 0.0, width=None) -> decoding.Hypotheses:
        """Decode ``src``; returns tokens with their model scores (see ``generate``)."""
        return decoding.search(self, src, max_len, beam_size, length_penalty, width)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int, beam_size: int = 1,
                 length_penalty: float = 0.0, width=None) -> torch.Tensor:
        """Token ids ``[B, T]`` (EOS included, PAD after it): greedy for beam 1, beam search above."""
        was_training = self.training
        self.eval()
        try:
            return self.hypotheses(src, max_len, beam_size, length_penalty, width).tokens
        finally:
            self.train(was_training)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
