"""The convolutional GRU (CGRU) and its decoder variant CGRU^d.

Paper section 2 (Neural GPU and its extensions); equations as in ``docs/paper.md`` §3.1
and §3.4, checked against ``conv_gru`` in tensorflow/models ``research/neural_gpu/neural_gpu.py`` (2017).

Legend for shapes: ``B`` batch, ``M`` feature maps, ``W`` width (sequence positions), ``H`` height.
The memory is ``[B, M, W, H]``, so a ``Conv2d`` kernel ``(kw, kh)`` runs ``kw`` along the width and
``kh`` along the height, as the original ``conv_linear`` did.

    u        = σ_c(U'  * s + B')                      update gate
    r        = σ_c(U'' * s + B'')                     reset gate
    CGRU(s)  = u ⊙ s + (1 − u) ⊙ tanh(U * (r ⊙ s) + B)

CGRU^d adds the output tape ``p`` as an extra input to both gates and the candidate, each through its
own kernel bank (W', W'', W):

    u             = σ_c(U' * d + W' * p + B')
    r             = σ_c(U'' * d + W'' * p + B'')
    CGRU^d(d, p)  = u ⊙ d + (1 − u) ⊙ tanh(U * (r ⊙ d) + W * p + B)

σ_c is the original code's "cut-off" sigmoid, ``clamp(1.2·σ(x) − 0.1, 0, 1)``: it saturates at exactly
0 and 1, so a gate can fully keep or fully overwrite a cell.

Two implementations of the same equations live here:

- ``CGRU.forward``: the equations as written, the tape concatenated to the state. It is the
  reference the tests compare against, and it is what the parameters mean (checkpoints store it).
- ``cgru_step`` with ``tape_kernel``: what the models run. The tape terms ``W' * p``, ``W'' * p`` and
  ``W * p`` are linear in ``p`` and do not depend on the state, so the decoder carries their sum from
  step to step instead of convolving the whole tape again (see ``extended_neural_gpu.py``); the state
  convolutions then see ``M`` input channels instead of ``2M``, half of the decoder's arithmetic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


def cutoff_sigmoid(x: torch.Tensor, cutoff: float = 1.2) -> torch.Tensor:
    """σ_c(x) = clamp(cutoff·σ(x) − (cutoff − 1)/2, 0, 1); ``cutoff == 1`` is the plain sigmoid.

    ``hardtanh`` is this clamp with a one-pass backward (``torch.clamp``'s takes four); the two
    differ only in the gradient exactly at the kinks (0 or 1 hit exactly), a set of measure zero.
    """
    z = (cutoff * torch.sigmoid(x)).sub_((cutoff - 1.0) / 2.0)
    return F.hardtanh_(z, 0.0, 1.0)


class StateKernels(NamedTuple):
    """The state half of one CGRU layer's kernels, sliced once per forward pass (not once per step)."""

    gates: torch.Tensor            # [U'; U'']  [2M, M, kw, kh]
    gates_bias: torch.Tensor       # [B'; B'']  [2M]
    candidate: torch.Tensor        # U          [M, M, kw, kh]
    candidate_bias: torch.Tensor   # B          [M]
    padding: tuple[int, int]
    cutoff: float


def cgru_step(s: torch.Tensor, k: StateKernels, tape_gates: torch.Tensor | None = None,
              tape_candidate: torch.Tensor | None = None) -> torch.Tensor:
    """One CGRU (or CGRU^d) layer given the tape's convolutions already summed.

    ``tape_gates`` [B, 2M, W, H] is ``W' * p`` and ``W'' * p``, ``tape_candidate`` [B, M, W, H] is
    ``W * p``; both ``None`` for a plain CGRU, or for CGRU^d while the tape is still all zero.
    """
    # In-place additions into the fresh convolution outputs: backward needs neither operand's value.
    gates = F.conv2d(s, k.gates, k.gates_bias, padding=k.padding)           # U' * s + B', U'' * s + B''
    if tape_gates is not None:
        gates.add_(tape_gates)                                                #   + W' * p,  + W'' * p
    u, r = cutoff_sigmoid(gates, k.cutoff).chunk(2, dim=1)                   # u, r = σ_c(·)
    candidate = F.conv2d(r * s, k.candidate, k.candidate_bias, padding=k.padding)  # U * (r ⊙ s) + B
    if tape_candidate is not None:
        candidate.add_(tape_candidate)                                        #   + W * p
    c = torch.tanh(candidate)
    if c.dtype != s.dtype:  # autocast: bf16 gates on a float32 state; the state stays float32
        return u * s + (1.0 - u) * c
    return torch.lerp(c, s, u)                                                # u ⊙ s + (1 − u) ⊙ c


class CGRU(nn.Module):
    """One CGRU layer; with ``tape=True`` it is CGRU^d and takes the output tape as an extra input.

    The update and reset kernels (U', U'') are stored as one ``Conv2d`` with ``2M`` output channels:
    that is two independent kernel banks computed in one call, which is faster than two calls. The
    candidate kernel U is a third, separate convolution because it sees ``r ⊙ s``, not ``s``.
    With the tape, the kernels act on ``cat([p, s])``: a convolution of a concatenation is the sum of
    separate convolutions, so this is exactly ``U * s + W * p`` with separate W (input channels
    ``0..M−1`` of each kernel are the tape's W', W'', W; channels ``M..2M−1`` the state's).
    """

    def __init__(self, maps: int, kernel: tuple[int, int] = (3, 3), tape: bool = False,
                 cutoff: float = 1.2, init_gain: float = 1.44, gate_bias: float = 1.0):
        super().__init__()
        if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise ValueError(f"CGRU kernel sizes must be odd for 'same' padding, got {kernel}")
        in_maps = 2 * maps if tape else maps
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.maps, self.cutoff, self.tape, self.padding = maps, cutoff, tape, padding
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
        """The equations as written (the reference): state ``s`` [B, M, W, H], tape ``p`` for CGRU^d."""
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

    def state_kernels(self) -> StateKernels:
        """U', U'', U and the biases: the kernels' state channels (all of them without a tape)."""
        m = self.maps if self.tape else 0
        return StateKernels(self.gates.weight[:, m:].contiguous(), self.gates.bias,
                            self.candidate.weight[:, m:].contiguous(), self.candidate.bias,
                            self.padding, self.cutoff)

    def tape_kernel(self, height: int) -> torch.Tensor:
        """What one tape column contributes to the convolutions around it: ``[M, 3M, kw, H]``.

        A tape column holds the same vector ``e`` in all ``H`` rows. Written at column ``c``, it adds
        ``e @ K[:, :, j, r]`` to output column ``c − kw//2 + j``, row ``r``, of the concatenated
        pre-activations ``[W' * p; W'' * p; W * p]`` (``2M`` gate channels, then ``M`` candidate
        channels). ``K`` sums each kernel over the rows that output row ``r`` sees (the zero padding
        hides the others) and flips it along the width, because a cross-correlation with kernel
        index ``a`` reads input column ``j + a − kw//2``.
        """
        if not self.tape:
            raise ValueError("tape_kernel() needs a CGRU built with tape=True")
        m = self.maps
        w = torch.cat([self.gates.weight[:, :m], self.candidate.weight[:, :m]], dim=0)  # [3M, M, kw, kh]
        kh, ph = w.size(3), self.padding[1]
        rows = torch.arange(height, device=w.device)
        seen = rows[:, None] + torch.arange(kh, device=w.device)[None, :] - ph         # [H, kh]
        visible = ((seen >= 0) & (seen < height)).to(w.dtype)
        return torch.einsum("omab,rb->moar", w.flip(2), visible)                     # [M, 3M, kw, H]
