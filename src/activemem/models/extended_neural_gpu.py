"""Extended Neural GPU: the active-memory decoder with an output tape.

Paper section 2 (Figure 5; ``shared/reference/paper.md`` §3.4), checked against the 2017
tensorflow/models ``research/neural_gpu`` code (``original-code.md`` §2.4 item 5).

Legend: ``B`` batch, ``M`` maps, ``W`` width, ``H`` height, ``T`` outputs, ``V`` vocabulary.

    d_0     = s_fin                              decoder memory starts from the final encoder state
    p_0     = 0                                  output tape, same shape as d
    for k = 0 … T−1:
        d_{k+1} = CGRU^d(d_k, p_k)               l layers of CGRU^d, all given the tape p_k
        o_k     ~ softmax(L · d_{k+1}[k, 0])     output k is read at column k, row 0 (L has no bias)
        p_{k+1} = p_k with column k (all H rows) := E_out · o_k

Every output depends recurrently on all previous outputs (through the tape) and on a memory that
changes at every step — in contrast to attention, which reads a weighted average of a fixed memory.

Training (``forward``) is teacher-forced: the tape holds the gold outputs, except that with scheduled
sampling (``sampling_probability`` > 0, set by the trainer) a position holds the model's own
*sampled* previous output instead. Corrections to the original code, on purpose:
- the original flipped one coin per step for the whole batch; we flip one per sentence and step;
- the tape's PAD row is a zero vector (the original's target embedding did not zero row 0).
"""

from __future__ import annotations

import torch
from torch import nn

from activemem.models.active_memory import (ActiveMemoryEncoder, ActiveMemoryModel, CGRUStack,
                                            step_dropout_rate)
from activemem.tokens import PAD


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
