"""The active-memory encoder shared by the three Neural GPU models, and their width handling.

Paper section 2 (the Neural GPU); ``shared/reference/paper.md`` §3.2, checked against the 2017
tensorflow/models ``research/neural_gpu`` code (``original-code.md`` §2.4 items 1–4).

Legend: ``B`` batch, ``M`` maps, ``W`` width (positions), ``H`` height, ``S`` source length,
``T`` target length, ``V`` vocabulary.

    s_0        = LayerNorm(Conv1x1(embed(i)))     source token k embedded at column k, row 0; rows 1..H−1
                                                  hold PAD, which embeds to zero
    s_{t+1}    = CGRU_l(… CGRU_1(dropout(s_t)) …)  for t = 0 … W−1: one "step" = l CGRU layers, whose
                                                  weights are shared by all W steps
    s_fin      = s_W

The width ``W`` must cover both the source and the target (outputs are read at columns 0..T−1), and
the number of steps equals the width, so information can travel across the whole memory.

Deliberate differences from the original code, each a documented choice:
- the original's extra "first" CGRU, fed a constant zero tensor in every mode we support, is left out;
- the state dropout rate is ``3·dropout/sqrt(W)`` as in the code (``1 − 0.3/sqrt(W)`` keep probability
  for ``dropout = 0.1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from activemem.models import decoding
from activemem.models.base import TranslationModel
from activemem.models.cgru import CGRU
from activemem.tokens import PAD


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


def step_dropout_rate(dropout: float, width: int) -> float:
    """The original code drops ``3·dropout/sqrt(W)`` of the state at every step."""
    return min(0.5, 3.0 * dropout / math.sqrt(width))


class CGRUStack(nn.Module):
    """One step of the memory: dropout on the state, then ``layers`` CGRU (or CGRU^d) layers."""

    def __init__(self, config: ActiveMemoryConfig, tape: bool):
        super().__init__()
        kernel = (config.kernel_width, config.kernel_height)
        self.layers = nn.ModuleList(
            CGRU(config.maps, kernel, tape=tape, cutoff=config.gate_cutoff, init_gain=config.init_gain,
                 gate_bias=config.gate_bias)
            for _ in range(config.layers))
        self.use_checkpoint = config.checkpoint_steps

    def _step(self, s: torch.Tensor, p: torch.Tensor | None, rate: float) -> torch.Tensor:
        s = F.dropout(s, rate, self.training)
        for cgru in self.layers:
            s = cgru(s, p)
        return s

    def forward(self, s: torch.Tensor, p: torch.Tensor | None = None, rate: float = 0.0) -> torch.Tensor:
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(self._step, s, p, rate, use_reentrant=False)
        return self._step(s, p, rate)


class ActiveMemoryEncoder(nn.Module):
    """Embed the source into row 0 of a ``[B, M, W, H]`` memory and run ``W`` CGRU steps over it."""

    def __init__(self, vocab_size: int, config: ActiveMemoryConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.maps, padding_idx=PAD)
        self.input_proj = nn.Linear(config.maps, config.maps)  # the 1×1 convolution "input"
        self.input_norm = nn.LayerNorm(config.maps)
        self.steps = CGRUStack(config, tape=False)
        nn.init.uniform_(self.embedding.weight, -config.embedding_init, config.embedding_init)
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()
        nn.init.orthogonal_(self.input_proj.weight, gain=config.init_gain)
        nn.init.zeros_(self.input_proj.bias)

    def embed(self, src: torch.Tensor, width: int) -> torch.Tensor:
        """s_0: token k of ``src`` at column k, row 0; every other cell holds PAD (a zero vector)."""
        batch, length = src.shape
        cells = src.new_full((batch, width, self.config.height), PAD)          # [B, W, H]
        cells[:, :length, 0] = src
        x = self.embedding(cells)                                              # [B, W, H, M]
        x = self.input_norm(self.input_proj(x))                                # LayerNorm(Conv1x1(·))
        return x.permute(0, 3, 1, 2).contiguous()                              # [B, M, W, H]

    def forward(self, src: torch.Tensor, width: int) -> torch.Tensor:
        s = self.embed(src, width)
        rate = step_dropout_rate(self.config.dropout, width)
        for _ in range(width):                      # s_{t+1} = CGRU_l(…CGRU_1(s_t)…), t = 0…W−1
            s = self.steps(s, rate=rate)
        return s                                                               # s_fin [B, M, W, H]


class ActiveMemoryModel(TranslationModel):
    """Width handling shared by the Neural GPU family.

    The memory width is the one size these models cannot infer at decode time: it must cover the
    output, whose length is unknown. ``width`` (in ``forward``, ``start`` and ``generate``) may be
    - ``None``: ``max(S, T)`` in training, ``max(S, max_len)`` when decoding (the fast fixed-width mode);
    - an ``int``: that width (outputs are then at most ``width`` long);
    - ``"search"``: decode at every width from ``S`` to ``min(max_len, 2·S + 8)`` and keep, per
      sentence, the hypothesis with the best length-normalised score. This is what the original code
      did (it tried widths up to ``2·|src| + 8``); it costs one full decode per width.
    """

    Config = ActiveMemoryConfig

    def resolve_width(self, src: torch.Tensor, out_len: int, width: int | None) -> int:
        needed = max(src.size(1), out_len)
        if width is None:
            return needed
        if width < needed:
            raise ValueError(f"memory width {width} is smaller than the source ({src.size(1)}) "
                             f"or the output ({out_len}) it must hold")
        return width

    def hypotheses(self, src, max_len, beam_size=1, length_penalty=0.0, width=None):
        if width == "search":
            widths = range(src.size(1), max(src.size(1), min(max_len, 2 * src.size(1) + 8)) + 1)
            return decoding.best_of(
                [decoding.search(self, src, w, beam_size, length_penalty, w) for w in widths],
                length_penalty)
        if width is not None:
            max_len = min(max_len, width)
        return decoding.search(self, src, max_len, beam_size, length_penalty, width)
