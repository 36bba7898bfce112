"""Extended Neural GPU: the active-memory decoder with an output tape.

Paper section 2 (Figure 5; ``docs/paper.md`` §3.4), checked against the 2017
tensorflow/models ``research/neural_gpu`` code (``docs/original-code.md`` §2.4 items 5–7).

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

How it is computed (the same numbers as the loop above, to float rounding; ``tests/test_fast_path.py``
checks logits and gradients against the equations as written): each CGRU^d pre-activation is
``U * d + W * p``, and ``W * p_k`` changes from step to step only where the new tape column
``k − 1`` reaches, i.e. in ``kw`` (3) columns. So the decoder carries ``P_k = [W'*p_k; W''*p_k; W*p_k]``
of every layer (``tape`` below) and adds to it, at each step, one tape column's contribution
(``CGRU.tape_kernel``, a small matrix product); the convolutions see only the state ``d``.
"""

from __future__ import annotations

import torch
from torch import nn

from activemem.models.active_memory import (ActiveMemoryEncoder, ActiveMemoryModel, CGRUStack,
                                            column_mask, step_dropout_rate)
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
        self._step_kernels = None                                             # set by start()
        nn.init.uniform_(self.target_embedding.weight, -config.embedding_init, config.embedding_init)
        with torch.no_grad():
            self.target_embedding.weight[PAD].zero_()
        nn.init.orthogonal_(self.output.weight, gain=config.init_gain)

    def tape_column(self, tokens: torch.Tensor) -> torch.Tensor:
        """E_out · o for a batch of tokens, repeated over all H rows: ``[B, M, H]``."""
        return self.target_embedding(tokens).unsqueeze(-1).expand(-1, -1, self.config.height)

    def tape_contribution(self, tokens: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """What writing E_out · o into one tape column adds to ``P`` around it: ``[..., C, kw, H]``.

        ``tokens`` [...] (any leading shape), ``kernel`` from ``CGRUStack.tape_kernel``.
        """
        e = self.target_embedding(tokens)                                     # [..., M]
        m, c, kw, h = kernel.shape
        return (e @ kernel.reshape(m, c * kw * h)).view(*tokens.shape, c, kw, h)

    def write_tape(self, tape: torch.Tensor | None, contribution: torch.Tensor, column: int,
                   width: int) -> torch.Tensor:
        """``P_{k+1} = P_k`` + the contribution of tape column ``column`` (k); ``P`` is ``[B, C, W, H]``.

        Out of place while autograd records (every step's ``P`` is used by its own backward), in
        place when decoding without gradients (the state owns its ``P``: see ``step``).
        """
        reach = contribution.size(2) // 2                      # a column reaches kw//2 to each side
        lo, hi = max(column - reach, 0), min(column + reach + 1, width)
        part = contribution[:, :, lo - (column - reach):hi - (column - reach)]
        if tape is None:
            tape = contribution.new_zeros(contribution.size(0), contribution.size(1), width,
                                          contribution.size(3))
        elif torch.is_grad_enabled():
            tape = tape.clone()
        tape[:, :, lo:hi] += part
        return tape

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, width: int | None = None) -> torch.Tensor:
        batch, out_len = tgt_in.shape
        width = self.resolve_width(src, out_len, width)
        rate = step_dropout_rate(self.config.dropout, width)
        d = self.encoder(src, width)                                          # d_0 = s_fin
        kernels = self.decoder.kernels()
        tape_kernel = self.decoder.tape_kernel(self.config.height)
        sample = self.training and self.sampling_probability > 0
        if not sample:  # the whole tape is known: every column's contribution in one product
            gold = self.tape_contribution(tgt_in[:, 1:], tape_kernel).unbind(1)  # T−1 × [B, C, kw, H]
        tape = None                                                           # P_0 = W * p_0 = 0
        outputs, logits_prev = [], None                                       # logits of output k−1
        for k in range(out_len):
            if k > 0:
                # p_k = p_{k−1} with column k−1 := E_out · o_{k−1}; o_{k−1} is the gold tgt_in[:, k]
                # (or, with scheduled sampling, the model's own sample for some sentences).
                if sample:
                    prev = tgt_in[:, k]
                    own = torch.multinomial(torch.softmax(logits_prev.detach().float(), -1), 1).squeeze(1)
                    coin = torch.rand(batch, device=d.device) < self.sampling_probability
                    prev = torch.where(coin & (prev != PAD), own, prev)
                    written = self.tape_contribution(prev, tape_kernel)
                else:
                    written = gold[k - 1]
                tape = self.write_tape(tape, written, k - 1, width)           # P_k = W * p_k
            d = self.decoder(d, kernels, tape, rate)                          # d_{k+1} = CGRU^d(d_k, p_k)
            row = d[:, :, k, 0]                                               # [B, M]
            outputs.append(row)
            if sample:
                logits_prev = self.output(row)
        return self.output(torch.stack(outputs, dim=1))                       # [B, T, V]

    def start(self, src, max_len, width=None):
        """Decoder state after encoding; ``width`` may be per row (a tensor), see ``ActiveMemoryModel``."""
        widths = width if torch.is_tensor(width) else None
        w = self.resolve_width(src, max_len, int(widths.max()) if widths is not None else width)
        d = self.encoder(src, w, widths)
        state = {"d": d, "tape": d.new_zeros(d.size(0), 3 * self.config.maps * self.config.layers, w,
                                              self.config.height)}
        if widths is not None:
            state["keep"] = column_mask(widths, w, d.dtype)
        # The kernels are sliced once per decode, not once per step (the weights do not change).
        self._step_kernels = (self.decoder.kernels(), self.decoder.tape_kernel(self.config.height))
        return state

    def step(self, state, prev, k):
        """Output ``k`` given output ``k − 1`` = ``prev``; without gradients ``state`` may change in place."""
        d, tape, keep = state["d"], state["tape"], state.get("keep")
        width = d.size(2)
        kernels, tape_kernel = self._step_kernels
        if k > 0:
            written = self.tape_contribution(prev, tape_kernel)
            tape = self.write_tape(tape, written, k - 1, width)              # write o_{k−1}
        d = self.decoder(d, kernels, tape if k > 0 else None,
                         step_dropout_rate(self.config.dropout, width), keep)
        new = {"d": d, "tape": tape}
        if keep is not None:
            new["keep"] = keep
        return self.output(d[:, :, k, 0]), new
