"""Frozen copy of ``models/decoding.py`` at commit 4065dbd, for ``baseline_extended.py`` (benchmarks only).

Greedy and beam search over any registry model, batched, with correct EOS handling.

Every model exposes the same incremental interface (see ``base.TranslationModel``):

    state          = model.start(src, max_len, width)   # encode once
    logits, state  = model.step(state, prev_tokens, k)   # distribution of output k given output k-1
    state          = reorder(state, index)              # every state tensor is batch-first

so one search serves all four models. Unlike the original code's beam search, a hypothesis that has
emitted EOS is *finished*: it is never extended again (its only continuation is PAD at zero cost),
and the final choice among hypotheses applies the length penalty once, at the end.

Length penalty (GNMT form): ``lp(n) = ((5 + n) / 6) ** alpha``; hypotheses are ranked by
``log p(y | x) / lp(|y|)``. ``alpha = 0`` ranks by the raw model score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from activemem.tokens import BOS, EOS, PAD

State = dict[str, torch.Tensor]


class Incremental(Protocol):
    def start(self, src: torch.Tensor, max_len: int, width: int | None = None) -> State: ...
    def step(self, state: State, prev: torch.Tensor, k: int) -> tuple[torch.Tensor, State]: ...


@dataclass
class Hypotheses:
    """The best hypothesis per source sentence."""

    tokens: torch.Tensor  # [B, T] ids, EOS included, PAD after it
    scores: torch.Tensor  # [B] log p(tokens | src), EOS included
    lengths: torch.Tensor  # [B] number of non-PAD tokens

    def normalized(self, alpha: float) -> torch.Tensor:
        return self.scores / length_penalty(self.lengths, alpha)


def length_penalty(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def reorder(state: State, index: torch.Tensor) -> State:
    """Select (and repeat) batch rows of every state tensor: beams follow their parents."""
    return {name: t.index_select(0, index) for name, t in state.items()}


def _lengths(tokens: torch.Tensor) -> torch.Tensor:
    return (tokens != PAD).sum(dim=1)


def _next_token_logp(logits: torch.Tensor) -> torch.Tensor:
    """log p over the vocabulary, with PAD and BOS ruled out: neither can be a real output."""
    logp = F.log_softmax(logits.float(), dim=-1)
    logp[:, PAD] = float("-inf")
    logp[:, BOS] = float("-inf")
    return logp


@torch.no_grad()
def greedy(model: Incremental, src: torch.Tensor, max_len: int, width: int | None = None) -> Hypotheses:
    """Pick the most probable token at every step; stop each sentence at its EOS."""
    batch = src.size(0)
    state = model.start(src, max_len, width)
    prev = torch.full((batch,), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(batch, dtype=torch.bool, device=src.device)
    scores = torch.zeros(batch, device=src.device)
    out = []
    for k in range(max_len):
        logits, state = model.step(state, prev, k)
        logp = _next_token_logp(logits)
        best_logp, token = logp.max(dim=-1)
        token = token.masked_fill(done, PAD)
        scores += best_logp.masked_fill(done, 0.0)
        out.append(token)
        done |= token == EOS
        prev = token
        if bool(done.all()):
            break
    tokens = torch.stack(out, dim=1)
    return Hypotheses(tokens, scores, _lengths(tokens))


@torch.no_grad()
def beam_search(model: Incremental, src: torch.Tensor, max_len: int, beam_size: int,
                alpha: float = 0.0, width: int | None = None) -> Hypotheses:
    """Keep the ``beam_size`` best prefixes per sentence; all sentences and beams in one batch."""
    batch, k_beams, device = src.size(0), beam_size, src.device
    state = model.start(src, max_len, width)
    state = reorder(state, torch.arange(batch, device=device).repeat_interleave(k_beams))
    # Only beam 0 is alive at the start, otherwise the K beams would be K copies of one hypothesis.
    scores = torch.full((batch, k_beams), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished = torch.zeros(batch, k_beams, dtype=torch.bool, device=device)
    tokens = torch.empty(batch * k_beams, 0, dtype=torch.long, device=device)
    prev = torch.full((batch * k_beams,), BOS, dtype=torch.long, device=device)
    for k in range(max_len):
        logits, state = model.step(state, prev, k)
        logp = _next_token_logp(logits).view(batch, k_beams, -1)                # [B, K, V]
        vocab = logp.size(-1)
        # A finished hypothesis is never extended: its one continuation is PAD, at no cost.
        frozen = torch.full_like(logp[0, 0], float("-inf"))
        frozen[PAD] = 0.0
        logp = torch.where(finished.unsqueeze(-1), frozen, logp)
        candidates = (scores.unsqueeze(-1) + logp).view(batch, -1)               # [B, K·V]
        scores, flat = candidates.topk(k_beams, dim=-1)                          # [B, K]
        parent, token = flat // vocab, flat % vocab
        rows = (torch.arange(batch, device=device).unsqueeze(1) * k_beams + parent).view(-1)
        state = reorder(state, rows)
        tokens = torch.cat([tokens.index_select(0, rows), token.view(-1, 1)], dim=1)
        finished = finished.gather(1, parent) | (token == EOS)
        prev = token.view(-1)
        if bool(finished.all()):
            break
    lengths = _lengths(tokens).view(batch, k_beams)
    best = (scores / length_penalty(lengths, alpha)).argmax(dim=1)                # [B]
    pick = torch.arange(batch, device=device) * k_beams + best
    return Hypotheses(tokens[pick], scores.gather(1, best[:, None]).squeeze(1), lengths.gather(1, best[:, None]).squeeze(1))


def search(model: Incremental, src: torch.Tensor, max_len: int, beam_size: int = 1,
           alpha: float = 0.0, width: int | None = None) -> Hypotheses:
    """Greedy for ``beam_size == 1``, beam search otherwise."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if beam_size == 1:
        return greedy(model, src, max_len, width)
    return beam_search(model, src, max_len, beam_size, alpha, width)


def best_of(candidates: list[Hypotheses], alpha: float) -> Hypotheses:
    """Per sentence, the candidate with the best length-normalised score (used by the width search)."""
    longest = max(h.tokens.size(1) for h in candidates)
    tokens = torch.stack([F.pad(h.tokens, (0, longest - h.tokens.size(1)), value=PAD) for h in candidates])
    normalized = torch.stack([h.normalized(alpha) for h in candidates])        # [C, B]
    choice = normalized.argmax(dim=0)                                         # [B]
    rows = torch.arange(choice.numel(), device=choice.device)
    return Hypotheses(tokens[choice, rows],
                      torch.stack([h.scores for h in candidates])[choice, rows],
                      torch.stack([h.lengths for h in candidates])[choice, rows])
