"""GRU + attention: the paper's attention baseline (Bahdanau, Cho & Bengio 2014).

Paper section 3 compares against "GRU+Attention" (``docs/paper.md`` §3.5; the paper's
exact baseline configuration is unknown to us [U]). A bidirectional GRU encodes the source into
annotations h_j; a GRU decoder attends to them with additive attention:

    e_ij  = vᵀ tanh(W_a s_{i−1} + U_a h_j)                 score of source j for output i
    α_ij  = softmax_j(e_ij)   (PAD positions masked out)   attention weights, Σ_j α_ij = 1
    c_i   = Σ_j α_ij h_j                                   context
    s_i   = GRU(s_{i−1}, [E y_{i−1} ; c_i])                decoder state
    t_i   = tanh(W_o [s_i ; c_i ; E y_{i−1}] + b_o)        "deep output" layer
    p(y_i | y_<i, x) = softmax(L t_i)

    s_0   = tanh(W_s · mean_j h_j)

Legend: ``B`` batch, ``S`` source length, ``T`` outputs, ``D`` decoder size, ``A`` attention size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from activemem.models.base import TranslationModel
from activemem.models.configs import GRUAttentionConfig
from activemem.tokens import PAD


def additive_attention(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                       mask: torch.Tensor, v: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """c = Σ_j softmax_j(vᵀ tanh(query + keys_j)) values_j over the unmasked j.

    ``query`` [B, A] is W_a s_{i−1}; ``keys`` [B, S, A] is U_a h (precomputed once per sentence);
    ``values`` [B, S, 2D]; ``mask`` [B, S] is True at real source tokens.
    """
    scores = v(torch.tanh(keys + query.unsqueeze(1))).squeeze(-1)            # e_ij  [B, S]
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores.float(), dim=-1).to(values.dtype)          # α_ij  [B, S]
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)              # c_i   [B, 2D]
    return context, weights


class GRUAttention(TranslationModel):
    """Bidirectional GRU encoder, GRU decoder with additive attention."""

    Config = GRUAttentionConfig

    def __init__(self, vocab_size: int, config: GRUAttentionConfig):
        super().__init__(vocab_size, config)
        e, d, a = config.embedding_dim, config.hidden, config.attention_dim
        self.src_embedding = nn.Embedding(vocab_size, e, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(vocab_size, e, padding_idx=PAD)
        self.encoder = nn.GRU(e, d, batch_first=True, bidirectional=True)
        self.init_state = nn.Linear(2 * d, d)        # W_s
        self.query = nn.Linear(d, a, bias=False)     # W_a
        self.key = nn.Linear(2 * d, a)               # U_a
        self.score = nn.Linear(a, 1, bias=False)     # v
        self.cell = nn.GRUCell(e + 2 * d, d)
        self.deep_output = nn.Linear(d + 2 * d + e, e)  # W_o
        self.output = nn.Linear(e, vocab_size)       # L
        self.dropout = nn.Dropout(config.dropout)

    def encode(self, src: torch.Tensor) -> dict[str, torch.Tensor]:
        mask = src != PAD                                                     # [B, S]
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.dropout(self.src_embedding(src)), lengths,
                                      batch_first=True, enforce_sorted=False)
        annotations, _ = pad_packed_sequence(self.encoder(packed)[0], batch_first=True,
                                             total_length=src.size(1))        # h_j [B, S, 2D]
        mean = (annotations * mask.unsqueeze(-1)).sum(1) / lengths.to(src.device).unsqueeze(-1)
        return {"h": torch.tanh(self.init_state(mean)),                       # s_0   [B, D]
                "values": annotations,                                        # h_j   [B, S, 2D]
                "keys": self.key(annotations),                                # U_a h [B, S, A]
                "mask": mask}

    def decode_step(self, state, prev: torch.Tensor):
        """One output: returns logits [B, V], attention weights [B, S] and the new state."""
        y = self.dropout(self.tgt_embedding(prev))                            # E y_{i−1}
        context, weights = additive_attention(self.query(state["h"]), state["keys"],
                                              state["values"], state["mask"], self.score)
        h = self.cell(torch.cat([y, context], dim=-1), state["h"])            # s_i
        t = torch.tanh(self.deep_output(torch.cat([h, context, y], dim=-1)))  # t_i
        logits = self.output(self.dropout(t))
        return logits, weights, {**state, "h": h}

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, return_attention: bool = False):
        state = self.encode(src)
        logits, attention = [], []
        for k in range(tgt_in.size(1)):
            step_logits, weights, state = self.decode_step(state, tgt_in[:, k])
            logits.append(step_logits)
            attention.append(weights)
        logits = torch.stack(logits, dim=1)                                   # [B, T, V]
        return (logits, torch.stack(attention, dim=1)) if return_attention else logits

    def start(self, src, max_len, width=None):
        return self.encode(src)

    def step(self, state, prev, k):
        logits, _, state = self.decode_step(state, prev)
        return logits, state
