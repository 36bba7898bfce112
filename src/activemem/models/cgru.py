"""The convolutional GRU (CGRU) and its decoder variant CGRU^d.

Paper section 2 (Neural GPU and its extensions); equations as in ``shared/reference/paper.md`` §3.1
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
"""

from __future__ import annotations

import torch
from torch import nn


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
