"""The Extended Neural GPU as it was before the fast path (commit 4065dbd), for benchmarks only.

A frozen copy of ``cgru.py``, ``active_memory.py`` and ``extended_neural_gpu.py`` from that commit,
merged into one module, so that ``benchmarks/models.py`` can time the old and the new code in the
same run, interleaved (the machine is shared, so only same-run timings compare). Not imported by
the package or by tests; do not edit except to keep it importable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

import baseline_decoding as decoding  # frozen too, so the old decode is timed as it was
from activemem.models.base import TranslationModel
from activemem.tokens import PAD

def cutoff_sigmoid(x: torch.Tensor, cutoff: float = 1.2) -> torch.Tensor:
    """σ_c(x) = clamp(cutoff·σ(x) − (cutoff − 1)/2, 0, 1); ``cutoff == 1`` is the plain sigmoid."""
    return torch.clamp(cutoff * torch.sigmoid(x) - (cutoff - 1.0) / 2.0, 0.0, 1.0)


class CGRU(nn.Module):
    """One CGRU layer; with ``tape=True`` it is CGRU^d and takes the output tape as an extra input.

    The update and reset kernels (U', U'') are stored as one ``Conv2d`` with ``2M`` output channels:
    that is two independent kernel banks computed in one call, which is faster than two calls. The
    candidate kernel U is a third, separate convolution because it sees ``r ⊙ s``, not ``s``.
    With the tape, the kernels act on ``cat([p, s])``: a convolution of a concatenation is the sum of
    separate convolutions, so this is exactly ``U * s + W * p`` with separate W.
    """

    def __init__(self, maps: int, kernel: tuple[int, int] = (3, 3), tape: bool = False,
                 cutoff: float = 1.2, init_gain: float = 1.44, gate_bias: float = 1.0):
        super().__init__()
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise ValueError(f"CGRU kernel sizes must be odd for 'same' padding, got {kernel}")
        in_maps = 2 * maps if tape else maps
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.maps, self.cutoff, self.tape = maps, cutoff, tape
        self.gates = nn.Conv2d(in_maps, 2 * maps, kernel, padding=padding)  # U' and U'' (+ W', W'')
        self.candidate = nn.Conv2d(in_maps, maps, kernel, padding=padding)  # U (+ W)
        self.reset_parameters(init_gain, gate_bias)

    def reset_parameters(self, init_gain: float, gate_bias: float) -> None:
        # Orthogonal kernels with gain 1.44, gate biases 1.0 (u = σ_c(1) ≈ 0.78: the state is mostly
        # carried through each step), candidate bias 0.0: the original code's initialisation.
        for conv in (self.gates, self.candidate):
            nn.init.orthogonal_(conv.weight, gain=init_gain)
        nn.init.constant_(self.gates.bias, gate_bias)
        nn.init.zeros_(self.candidate.bias)

    def forward(self, s: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
        """Apply one layer to the state ``s`` [B, M, W, H], with tape ``p`` [B, M, W, H] for CGRU^d."""
        if self.tape != (p is not None):
            raise ValueError("CGRU built with tape=%s called with p=%s" % (self.tape, p is not None))
        x = s if p is None else torch.cat([p, s], dim=1)                      # [B, M or 2M, W, H]
        # u = σ_c(U' * s + W' * p + B'),  r = σ_c(U'' * s + W'' * p + B'')
        u, r = cutoff_sigmoid(self.gates(x), self.cutoff).chunk(2, dim=1)    # [B, M, W, H] each
        rs = r * s if p is None else torch.cat([p, r * s], dim=1)
        # c = tanh(U * (r ⊙ s) + W * p + B)
        c = torch.tanh(self.candidate(rs))
        # CGRU(s) = u ⊙ s + (1 − u) ⊙ c
        return u * s + (1.0 - u) * c


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


class ExtendedNeuralGPU(ActiveMemoryModel):
    """Parallel encoding, sequential active-memory decoding."""

    def __init__(self, vocab_size: int, config):
        super().__init__(vocab_size, config)
        self.encoder = ActiveMemoryEncoder(vocab_size, config)
        self.decoder = CGRUStack(config, tape=True)                          # CGRU^d layers
        self.target_embedding = nn.Embedding(vocab_size, config.maps, padding_idx=PAD)  # E_out
        self.output = nn.Linear(config.maps, vocab_size, bias=False)         # L
        self.sampling_probability = 0.0
        nn.init.uniform_(self.target_embedding.weight, -config.embedding_init, config.embedding_init)
        with torch.no_grad():
            self.target_embedding.weight[PAD].zero_()
        nn.init.orthogonal_(self.output.weight, gain=config.init_gain)

    def tape_column(self, tokens: torch.Tensor) -> torch.Tensor:
        """E_out · o for a batch of tokens, repeated over all H rows: ``[B, M, H]``."""
        return self.target_embedding(tokens).unsqueeze(-1).expand(-1, -1, self.config.height)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, width: int | None = None) -> torch.Tensor:
        batch, out_len = tgt_in.shape
        width = self.resolve_width(src, out_len, width)
        rate = step_dropout_rate(self.config.dropout, width)
        d = self.encoder(src, width)                                          # d_0 = s_fin
        tape = torch.zeros_like(d)                                            # p_0 = 0
        columns = torch.arange(width, device=d.device).view(1, 1, width, 1)
        sample = self.training and self.sampling_probability > 0
        outputs, logits_prev = [], None                                       # logits of output k−1
        for k in range(out_len):
            if k > 0:
                # p_k = p_{k−1} with column k−1 := E_out · o_{k−1}; o_{k−1} is the gold tgt_in[:, k]
                # (or, with scheduled sampling, the model's own sample for some sentences).
                prev = tgt_in[:, k]
                if sample:
                    own = torch.multinomial(torch.softmax(logits_prev.detach().float(), -1), 1).squeeze(1)
                    coin = torch.rand(batch, device=d.device) < self.sampling_probability
                    prev = torch.where(coin & (prev != PAD), own, prev)
                written = self.tape_column(prev).unsqueeze(2)                 # [B, M, 1, H]
                tape = tape + written * (columns == k - 1)                     # out-of-place write
            d = self.decoder(d, tape, rate)                                   # d_{k+1} = CGRU^d(d_k, p_k)
            row = d[:, :, k, 0]                                               # [B, M]
            outputs.append(row)
            if sample:
                logits_prev = self.output(row)
        return self.output(torch.stack(outputs, dim=1))                       # [B, T, V]

    def start(self, src, max_len, width=None):
        d = self.encoder(src, self.resolve_width(src, max_len, width))
        return {"d": d, "tape": torch.zeros_like(d)}

    def step(self, state, prev, k):
        d, tape = state["d"], state["tape"]
        if k > 0:
            tape = tape.clone()
            tape[:, :, k - 1, :] = self.tape_column(prev)                     # write o_{k−1}
        width = d.size(2)
        d = self.decoder(d, tape, step_dropout_rate(self.config.dropout, width))
        return self.output(d[:, :, k, 0]), {"d": d, "tape": tape}


def build(vocab_size: int, **hparams) -> ExtendedNeuralGPU:
    """The old Extended Neural GPU, built like ``models.build("extended_neural_gpu", ...)``."""
    return ExtendedNeuralGPU(vocab_size, ActiveMemoryConfig(**hparams))
