"""Neural GPU and Markovian Neural GPU: parallel decoding from the final memory state.

Paper section 2 (``docs/paper.md`` §3.2 and §3.3). Both models share the active-memory
encoder (``active_memory.py``) and read output ``k`` from column ``k``, row 0 of ``s_fin``.

Neural GPU — all outputs in parallel, conditionally independent given the final state:

    p(o | i) = Π_k p(o_k | s_fin),     p(o_k | s_fin) = softmax(L · s_fin[k, 0])

(L has no bias, as in the original code. The 2017 code's ``--beam_size=0`` path reads row 1; the
source sits in row 0, so we read row 0, as the paper's description and the 2015 code do.)

Markovian Neural GPU — each output also sees the previous output:

    p(o | i) = Π_k p(o_k | s_fin, o_{k−1})
    h_k      = tanh(A · [s_fin[k, 0] ; E_prev · o_{k−1}] + a)
    p(o_k | s_fin, o_{k−1}) = softmax(L · h_k)

No public code has this variant, so the design is ours, built from the paper's one-line description
("parallel encoding and 1-step conditioned decoding"): the previous output enters only at the read-out,
through a small non-linear layer, so that (a) the memory computation is exactly the Neural GPU's,
(b) training stays fully parallel (teacher forcing feeds the gold ``o_{k−1}`` at every position at
once) and (c) output ``k`` depends on output ``k−1`` and on no earlier output — the Markov property
the tests check. A ``tanh`` layer rather than a sum of logits makes the dependence non-additive, so
the previous token can change *which* reading of the state is used (e.g. pick the gender the previous
article committed to), the least the paper's argument needs. Decoding is left to right.
"""

from __future__ import annotations

import torch
from torch import nn

from activemem.models.active_memory import ActiveMemoryEncoder, ActiveMemoryModel


class NeuralGPU(ActiveMemoryModel):
    """Parallel encoding and parallel decoding (Kaiser & Sutskever 2016, applied to translation)."""

    def __init__(self, vocab_size: int, config):
        super().__init__(vocab_size, config)
        self.encoder = ActiveMemoryEncoder(vocab_size, config)
        self.output = nn.Linear(config.maps, vocab_size, bias=False)   # L
        nn.init.orthogonal_(self.output.weight, gain=config.init_gain)

    def read_rows(self, src: torch.Tensor, out_len: int, width=None) -> torch.Tensor:
        """Row 0 of ``s_fin`` at columns 0..out_len−1: ``[B, out_len, M]``; ``width`` may be per row."""
        widths = width if torch.is_tensor(width) else None
        w = self.resolve_width(src, out_len, int(widths.max()) if widths is not None else width)
        s_fin = self.encoder(src, w, widths)                                  # [B, M, W, H]
        return s_fin[:, :, :out_len, 0].transpose(1, 2)                       # [B, T, M]

    def readout(self, rows: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        # p(o_k | s_fin) = softmax(L · s_fin[k, 0]); the previous outputs play no part.
        return self.output(rows)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, width: int | None = None) -> torch.Tensor:
        rows = self.read_rows(src, tgt_in.size(1), width)
        return self.readout(rows, tgt_in)                                     # [B, T, V]

    def start(self, src, max_len, width=None):
        return {"rows": self.read_rows(src, max_len, width)}                 # [B, max_len, M]

    def step(self, state, prev, k):
        logits = self.readout(state["rows"][:, k:k + 1], prev.unsqueeze(1)).squeeze(1)
        return logits, state                                                  # [B, V]


class MarkovianNeuralGPU(NeuralGPU):
    """Neural GPU whose output ``k`` is also conditioned on output ``k − 1``."""

    def __init__(self, vocab_size: int, config):
        super().__init__(vocab_size, config)
        m = config.maps
        self.prev_embedding = nn.Embedding(vocab_size, m, padding_idx=0)     # E_prev
        self.combine = nn.Linear(2 * m, m)                                    # A, a
        nn.init.uniform_(self.prev_embedding.weight, -config.embedding_init, config.embedding_init)
        with torch.no_grad():
            self.prev_embedding.weight[0].zero_()
        nn.init.orthogonal_(self.combine.weight, gain=1.0)
        nn.init.zeros_(self.combine.bias)

    def readout(self, rows: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        # h_k = tanh(A · [s_fin[k, 0] ; E_prev · o_{k−1}] + a);  p(o_k | ·) = softmax(L · h_k)
        h = torch.tanh(self.combine(torch.cat([rows, self.prev_embedding(prev)], dim=-1)))
        return self.output(h)                                                 # [B, T, V]
