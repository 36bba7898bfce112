"""Transformer: a pre-norm encoder–decoder with sinusoidal positions, a baseline beyond the paper.

Vaswani et al. 2017 ("Attention is all you need"), with the layer norm moved in front of each
sub-layer (pre-norm), which trains without a warm-up at the learning rates the other models use.
Its hyper-parameters and why it is here: ``__init__.py``.

Legend: ``B`` batch, ``S`` source length, ``T`` outputs, ``D`` width, ``h`` heads, ``d = D/h``,
``L`` layers, ``V`` vocabulary.

    x_0        = √D · E_src[i_j] + PE(j)                      PE(p, 2m) = sin(p / 10000^(2m/D))
                                                             PE(p, 2m+1) = cos(p / 10000^(2m/D))
    encoder layer, L times:
        x = x + Attn(LN(x), LN(x))                           over the real source tokens
        x = x + FFN(LN(x))
    y_0        = √D · E_tgt[o_{k−1}] + PE(k)                 o_{−1} = BOS
    decoder layer, L times:
        y = y + Attn(LN(y), LN(y))                           over outputs 0 … k (causal)
        y = y + Attn(LN(y), LN(x_L))                         over the real source tokens
        y = y + FFN(LN(y))
    p(o_k | o_<k, i) = softmax(W_out · LN(y_L[k]))

    Attn(q, m) = W_o · concat_heads softmax(q W_q (m W_k)ᵀ / √d) (m W_v)
    FFN(x)     = W_2 · max(0, W_1 x + b_1) + b_2

Sinusoidal positions (not learned ones) are defined at every length, so the longer test split
(``test_long``, longer than any training sentence) is decoded with positions the model can compute.

Decoding is incremental (``start``/``step``): the encoder runs once, each decoder layer's keys and
values of the source are computed once, and each layer keeps the keys and values of the outputs so
far (a per-layer cache), so step ``k`` costs one position, not ``k``. That state is nested, so the
model reorders it itself for beam search (``reorder_state``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from activemem.models.base import TranslationModel
from activemem.models.transformer import TransformerConfig
from activemem.tokens import PAD

KeysValues = tuple[torch.Tensor, torch.Tensor]  # each [B, h, length, d]


def sinusoid(first: int, length: int, width: int, device) -> torch.Tensor:
    """PE(p) for positions ``first … first + length − 1``: ``[length, width]``."""
    position = torch.arange(first, first + length, device=device, dtype=torch.float32).unsqueeze(1)
    rate = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    pe = torch.empty(length, width, device=device)
    pe[:, 0::2] = torch.sin(position * rate)                                 # PE(p, 2m)
    pe[:, 1::2] = torch.cos(position * rate)                                 # PE(p, 2m+1)
    return pe


class Attention(nn.Module):
    """Multi-head scaled dot-product attention of queries ``q`` over keys and values of a memory."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.heads, self.dropout = config.heads, config.dropout
        self.query = nn.Linear(config.d_model, config.d_model)                # W_q
        self.key_value = nn.Linear(config.d_model, 2 * config.d_model)        # W_k, W_v
        self.out = nn.Linear(config.d_model, config.d_model)                  # W_o

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, width = x.shape
        return x.view(b, n, self.heads, width // self.heads).transpose(1, 2)  # [B, h, n, d]

    def keys_values(self, memory: torch.Tensor) -> KeysValues:
        k, v = self.key_value(memory).chunk(2, dim=-1)                        # [B, n, D] each
        return self.split_heads(k), self.split_heads(v)

    def forward(self, q: torch.Tensor, kv: KeysValues, mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        """``q`` [B, T, D] attends over ``kv``; ``mask`` [B, 1, 1, n] is True where a key may be used."""
        q = self.split_heads(self.query(q))                                   # [B, h, T, d]
        y = F.scaled_dot_product_attention(q, *kv, attn_mask=mask, is_causal=causal,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).flatten(2))                         # [B, T, D]


class FeedForward(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, config.ffn)                       # W_1, b_1
        self.down = nn.Linear(config.ffn, config.d_model)                     # W_2, b_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.relu(self.up(x)))                                  # W_2 max(0, W_1 x + b_1) + b_2


class EncoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm_attention, self.norm_ffn = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.attention, self.ffn = Attention(config), FeedForward(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm_attention(x)
        x = x + self.drop(self.attention(h, self.attention.keys_values(h), mask))
        return x + self.drop(self.ffn(self.norm_ffn(x)))                       # [B, S, D]


class DecoderLayer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm_self, self.norm_source, self.norm_ffn = (nn.LayerNorm(config.d_model) for _ in range(3))
        self.self_attention, self.source_attention = Attention(config), Attention(config)
        self.ffn = FeedForward(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, y: torch.Tensor, source: KeysValues, mask: torch.Tensor,
                past: KeysValues | None = None) -> tuple[torch.Tensor, KeysValues]:
        """``y`` [B, T, D]: every output at once (``past`` None, causal), or the next output after the
        ``past`` keys and values of the earlier ones. Returns ``y`` and the keys and values so far."""
        h = self.norm_self(y)
        k, v = self.self_attention.keys_values(h)                             # [B, h, T, d]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = y + self.drop(self.self_attention(h, (k, v), causal=past is None))
        y = y + self.drop(self.source_attention(self.norm_source(y), source, mask))
        return y + self.drop(self.ffn(self.norm_ffn(y))), (k, v)


class Transformer(TranslationModel):
    """Pre-norm Transformer encoder–decoder."""

    Config = TransformerConfig

    def __init__(self, vocab_size: int, config: TransformerConfig):
        super().__init__(vocab_size, config)
        d = config.d_model
        self.src_embedding = nn.Embedding(vocab_size, d, padding_idx=PAD)    # E_src
        self.tgt_embedding = nn.Embedding(vocab_size, d, padding_idx=PAD)    # E_tgt
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(config.layers))
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.output = nn.Linear(d, vocab_size, bias=False)                   # W_out
        self.drop = nn.Dropout(config.dropout)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):  # √D · E then has unit-variance entries
            nn.init.normal_(module.weight, std=module.embedding_dim ** -0.5)
            with torch.no_grad():
                module.weight[PAD].zero_()

    def embed(self, table: nn.Embedding, tokens: torch.Tensor, first: int) -> torch.Tensor:
        """√D · E[tokens] + PE, for tokens at positions ``first …``: ``[B, n, D]``."""
        d = self.config.d_model
        return self.drop(table(tokens) * math.sqrt(d) + sinusoid(first, tokens.size(1), d, tokens.device))

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x_L`` after the final norm ``[B, S, D]`` and the source mask ``[B, 1, 1, S]``."""
        real = src != PAD
        # An empty source keeps its first (PAD) position: a softmax over no key at all is NaN.
        real[:, 0] |= ~real.any(dim=1)
        mask = real[:, None, None, :]
        x = self.embed(self.src_embedding, src, 0)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.encoder_norm(x), mask

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        memory, mask = self.encode(src)
        y = self.embed(self.tgt_embedding, tgt_in, 0)                         # [B, T, D]
        for layer in self.decoder:
            # PAD outputs come after the real ones, so the causal mask already keeps them out
            y, _ = layer(y, layer.source_attention.keys_values(memory), mask)
        return self.output(self.decoder_norm(y))                              # [B, T, V]

    def start(self, src, max_len, width=None):
        """The source's keys and values per decoder layer, and an empty cache of outputs per layer."""
        memory, mask = self.encode(src)
        source = [layer.source_attention.keys_values(memory) for layer in self.decoder]
        empty = source[0][0][:, :, :0]                                        # [B, h, 0, d]
        return {"mask": mask, "source": source, "past": [(empty, empty)] * len(self.decoder)}

    def step(self, state, prev, k):
        y = self.embed(self.tgt_embedding, prev.unsqueeze(1), k)              # [B, 1, D]
        past = []
        for layer, source, cached in zip(self.decoder, state["source"], state["past"]):
            y, cached = layer(y, source, state["mask"], cached)
            past.append(cached)                                               # now k + 1 positions
        return self.output(self.decoder_norm(y)).squeeze(1), {**state, "past": past}

    def reorder_state(self, state, index):
        """Rows ``index`` of the mask and of every layer's cached keys and values."""
        def rows(kv: KeysValues) -> KeysValues:
            return kv[0].index_select(0, index), kv[1].index_select(0, index)
        return {"mask": state["mask"].index_select(0, index), "source": [rows(kv) for kv in state["source"]],
                "past": [rows(kv) for kv in state["past"]]}
