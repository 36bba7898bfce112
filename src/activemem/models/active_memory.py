"""The active-memory encoder shared by the three Neural GPU models, and their width handling.

Paper section 2 (the Neural GPU); ``docs/paper.md`` §3.2, checked against the 2017
tensorflow/models ``research/neural_gpu`` code (``docs/original-code.md`` §2.4 items 1–4).

Legend: ``B`` batch, ``M`` maps, ``W`` width (positions), ``H`` height, ``S`` source length,
``T`` target length, ``V`` vocabulary.

    e          = LayerNorm(Conv1x1(embed(i)))     source token k embedded at column k, row 0; rows 1..H−1
                                                  hold PAD, which embeds to zero
    s_0        = CGRU_first(e)                    the authors' "first" CGRU, once (``first_cgru``; else s_0 = e)
    s_{t+1}    = CGRU_l(… CGRU_1(dropout(s_t)) …)  for t = 0 … W−1: one "step" = l CGRU layers, whose
                                                  weights are shared by all W steps
    s_fin      = s_W

The width ``W`` must cover both the source and the target (outputs are read at columns 0..T−1), and
the number of steps equals the width, so information can travel across the whole memory.

The "first" CGRU is the original code's ``conv_gru([prev_step], first, …, "first", …)`` (2017
``neural_gpu.py``, between the input layer norm and the encoder loop; ``docs/original-code.md`` §2.4
item 3). Its extra input ``prev_step`` is a fed tensor that is zero in training and decoding, so each of
its convolutions sees ``concat(0, e)``, and ``K * concat(0, e) = K_e * e`` with ``K_e`` the kernel's
half on ``e``: it is exactly a plain CGRU over ``e`` whose kernels are that half,

    u = σ_c(U'_f * e + B'_f),  r = σ_c(U''_f * e + B''_f),  s_0 = u ⊙ e + (1 − u) ⊙ tanh(U_f * (r ⊙ e) + B_f)

which is what we build (``M`` input channels, not ``2M``): the same numbers with only the live weights,
so the parameter count holds no kernel that only ever sees zeros. It is not a no-op: without it the
logits differ from the authors' by up to 0.18 at a toy size (``docs/authors-code-comparison.md``).
``first_cgru = False`` leaves it out (the architecture of checkpoints written before it existed).

Deliberate differences from the original code, each a documented choice:
- the state dropout rate is ``3·dropout/sqrt(W)`` as in the code (``1 − 0.3/sqrt(W)`` keep probability
  for ``dropout = 0.1``).
"""

from __future__ import annotations

from collections.abc import Sequence

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from activemem.models import decoding
from activemem.models.base import TranslationModel
from activemem.models.cgru import CGRU, StateKernels, cgru_step
from activemem.models.configs import ActiveMemoryConfig
from activemem.models.width_search import search_widths
from activemem.tokens import PAD


def step_dropout_rate(dropout: float, width: int) -> float:
    """The original code drops ``3·dropout/sqrt(W)`` of the state at every step."""
    return min(0.5, 3.0 * dropout / math.sqrt(width))


def column_mask(widths: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor:
    """``[B, 1, W, 1]``: 1 at the columns below each row's own width, 0 beyond it."""
    columns = torch.arange(width, device=widths.device)
    return (columns[None, :] < widths[:, None]).to(dtype).view(-1, 1, width, 1)


class CGRUStack(nn.Module):
    """One step of the memory: dropout on the state, then ``layers`` CGRU (or CGRU^d) layers.

    The per-layer kernels are sliced once per forward pass (``kernels()``) and passed to every step.
    ``keep`` (``[B, 1, W, 1]``, from ``column_mask``) zeroes each row's columns beyond its own width
    after every layer: that is exactly the zero padding a memory of that width has, so rows of
    different widths can share one tensor (the width search does this).
    """

    def __init__(self, config: ActiveMemoryConfig, tape: bool):
        super().__init__()
        kernel = (config.kernel_width, config.kernel_height)
        self.layers = nn.ModuleList(
            CGRU(config.maps, kernel, tape=tape, cutoff=config.gate_cutoff, init_gain=config.init_gain,
                 gate_bias=config.gate_bias)
            for _ in range(config.layers))
        self.maps = config.maps
        self.use_checkpoint = config.checkpoint_steps

    def kernels(self) -> list[StateKernels]:
        return [cgru.state_kernels() for cgru in self.layers]

    def tape_kernel(self, height: int) -> torch.Tensor:
        """Every layer's ``CGRU.tape_kernel`` side by side: ``[M, layers·3M, kw, H]``."""
        return torch.cat([cgru.tape_kernel(height) for cgru in self.layers], dim=1)

    def _step(self, s: torch.Tensor, kernels: list[StateKernels], tape: torch.Tensor | None,
              rate: float, keep: torch.Tensor | None) -> torch.Tensor:
        s = F.dropout(s, rate, self.training)
        # ``tape`` holds [W' * p; W'' * p; W * p] of every layer, 3M channels each. One split (not
        # slices) so that backward joins the pieces' gradients in one pass.
        m = self.maps
        pieces = [None] * (2 * len(kernels)) if tape is None else tape.split([2 * m, m] * len(kernels), 1)
        for layer, k in enumerate(kernels):
            s = cgru_step(s, k, pieces[2 * layer], pieces[2 * layer + 1])
            if keep is not None:
                s = s * keep
        return s

    def forward(self, s: torch.Tensor, kernels: list[StateKernels], tape: torch.Tensor | None = None,
                rate: float = 0.0, keep: torch.Tensor | None = None) -> torch.Tensor:
        if self.use_checkpoint and self.training and torch.is_grad_enabled():
            return checkpoint(self._step, s, kernels, tape, rate, keep, use_reentrant=False)
        return self._step(s, kernels, tape, rate, keep)


def first_cgru(config: ActiveMemoryConfig) -> CGRU:
    """The authors' "first" CGRU as we build it: a plain CGRU (state kernels only).

    Initialised as the live half of theirs: their kernels ``[kw, kh, 2M, M]`` are orthogonal over
    the ``(kw·kh·2M) × M`` flattening, so each entry has half the variance of an orthogonal
    ``M``-input kernel's; we draw the ``2M``-input kernel and keep its state half (input channels
    ``M..2M−1``, where their ``concat(prev_step, mem)`` puts the memory).
    """
    kernel = (config.kernel_width, config.kernel_height)
    cell = CGRU(config.maps, kernel, tape=False, cutoff=config.gate_cutoff, init_gain=config.init_gain,
                gate_bias=config.gate_bias)
    with torch.no_grad():
        for conv in (cell.gates, cell.candidate):
            if conv.weight.is_meta:
                continue
            full = conv.weight.new_empty(conv.weight.size(0), 2 * config.maps, *kernel)
            nn.init.orthogonal_(full, gain=config.init_gain)
            conv.weight.copy_(full[:, config.maps:])
    return cell


class ActiveMemoryEncoder(nn.Module):
    """Embed the source into row 0 of a ``[B, M, W, H]`` memory and run ``W`` CGRU steps over it."""

    def __init__(self, vocab_size: int, config: ActiveMemoryConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.maps, padding_idx=PAD)
        self.input_proj = nn.Linear(config.maps, config.maps)  # the 1×1 convolution "input"
        self.input_norm = nn.LayerNorm(config.maps)
        self.steps = CGRUStack(config, tape=False)
        # The authors' "first" CGRU, state half only (see the module docstring); no dropout before it,
        # as in their code.
        self.first = first_cgru(config) if config.first_cgru else None
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
        return x.permute(0, 3, 1, 2).contiguous()                              # e [B, M, W, H]

    def apply_first(self, e: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """s_0 = CGRU_first(e), the authors' "first" CGRU (``e`` itself without it); ``keep`` as in
        ``CGRUStack``: the columns beyond a row's width are zero again afterwards."""
        if self.first is None:
            return e
        k = self.first.state_kernels()
        if self.config.checkpoint_steps and self.training and torch.is_grad_enabled():
            s = checkpoint(cgru_step, e, k, use_reentrant=False)               # as every step
        else:
            s = cgru_step(e, k)
        return s if keep is None else s * keep

    def forward(self, src: torch.Tensor, width: int, widths: torch.Tensor | None = None) -> torch.Tensor:
        """s_fin ``[B, M, W, H]``; with ``widths`` [B], row b is the memory of width ``widths[b]``.

        Such a row is held at zero beyond its width and stops changing after its own ``widths[b]``
        steps, so it equals the row encoded alone at that width (no dropout: decoding only).
        """
        s = self.embed(src, width)                                             # e
        keep = None
        if widths is not None:
            keep = column_mask(widths, width, s.dtype)
            s = s * keep
        s = self.apply_first(s, keep)                                          # s_0 = CGRU_first(e)
        rate = step_dropout_rate(self.config.dropout, width)
        kernels = self.steps.kernels()
        for t in range(width):                      # s_{t+1} = CGRU_l(…CGRU_1(s_t)…), t = 0…W−1
            stepped = self.steps(s, kernels, rate=rate, keep=keep)
            s = stepped if widths is None else torch.where((t < widths).view(-1, 1, 1, 1), stepped, s)
        return s                                                               # s_fin [B, M, W, H]


class ActiveMemoryModel(TranslationModel):
    """Width handling shared by the Neural GPU family.

    The memory width is the one size these models cannot infer at decode time: it must cover the
    output, whose length is unknown. ``width`` (in ``forward``, ``start`` and ``generate``) may be
    - ``None``: ``max(S, T)`` in training, ``max(S, max_len)`` when decoding (the fixed-width mode);
    - an ``int``: that width (outputs are then at most ``width`` long);
    - in ``start`` only, a tensor ``[B]`` of per-row widths (see ``width_search.py``);
    - ``"search"`` (decoding): the ``trained_widths`` (training buckets) from ``|src|`` to
      ``2·|src| + 8`` (every width there when ``None``), and per sentence the hypothesis with the
      best length-normalised score, as the original code decoded (``width_search.py``);
      ``max_len`` does not apply, each width bounds its own output.
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

    def hypotheses(self, src, max_len, beam_size=1, length_penalty=0.0, width=None,
                   trained_widths: Sequence[int] | None = None):
        if width == "search":
            return search_widths(self, src, beam_size, length_penalty, trained_widths)
        if width is not None:
            max_len = min(max_len, width)
        return decoding.search(self, src, max_len, beam_size, length_penalty, width)
