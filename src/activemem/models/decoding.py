"""Greedy and beam search over any registry model, batched, with correct EOS handling.

Every model exposes the same incremental interface (see ``base.TranslationModel``):

    state          = model.start(src, max_len, width)   # encode once
    logits, state  = model.step(state, prev_tokens, k)   # distribution of output k given output k-1
    state          = model.reorder_state(state, index)  # beams follow their parents

so one search serves every model. The state is the model's own business: besides ``step``, the
search only asks the model to reorder it (``reorder_state``; the default is ``reorder`` below, for a
flat dict of batch-first tensors).

Unlike the original code's beam search, a hypothesis that has emitted EOS is *finished*: it is never
extended again (its only continuation is PAD at zero cost), and the final choice among hypotheses
applies the length penalty once, at the end.

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


def _reorder(model, state, index: torch.Tensor):
    """The model's own ``reorder_state``; a bare ``Incremental`` without one has a flat state."""
    hook = getattr(model, "reorder_state", None)
    return reorder(state, index) if hook is None else hook(state, index)


def _lengths(tokens: torch.Tensor) -> torch.Tensor:
    return (tokens != PAD).sum(dim=1)


def _next_token_logp(logits: torch.Tensor) -> torch.Tensor:
    """log p over the vocabulary, with PAD and BOS ruled out: neither can be a real output."""
    logp = F.log_softmax(logits.float(), dim=-1)
    logp[:, PAD] = float("-inf")
    logp[:, BOS] = float("-inf")
    return logp


def _past_limit(limits: torch.Tensor | None, k: int) -> torch.Tensor | bool:
    """Rows whose own output limit is reached before output ``k`` (``False`` without limits)."""
    return False if limits is None else limits <= k


class _Results:
    """Finished sentences' hypotheses, filled as sentences leave the batch (in any order)."""

    def __init__(self, batch: int, device):
        self.tokens: list[torch.Tensor | None] = [None] * batch
        self.scores = torch.zeros(batch, device=device)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)

    def put(self, sentence: int, tokens: torch.Tensor, score: torch.Tensor, length: torch.Tensor) -> None:
        self.tokens[sentence], self.scores[sentence], self.lengths[sentence] = tokens, score, length

    def hypotheses(self) -> Hypotheses:
        longest = max(t.numel() for t in self.tokens)
        tokens = torch.stack([F.pad(t, (0, longest - t.numel()), value=PAD) for t in self.tokens])
        return Hypotheses(tokens, self.scores, self.lengths)


def _beam_rows(sentences: torch.Tensor, k_beams: int) -> torch.Tensor:
    """The state rows of these sentences' beams (beams are consecutive rows)."""
    return (sentences.unsqueeze(1) * k_beams + torch.arange(k_beams, device=sentences.device)).view(-1)


@torch.no_grad()
def greedy(model: Incremental, src: torch.Tensor, max_len: int, width=None,
           limits: torch.Tensor | None = None) -> Hypotheses:
    """Pick the most probable token at every step; stop each sentence at its EOS.

    ``limits`` [B] (optional): row ``b`` emits at most ``limits[b]`` tokens (``max_len`` caps all).
    Finished sentences leave the batch, so the steps after them cost only the unfinished ones.
    """
    return beam_search(model, src, max_len, 1, 0.0, width, limits)


@torch.no_grad()
def beam_search(model: Incremental, src: torch.Tensor, max_len: int, beam_size: int,
                alpha: float = 0.0, width=None, limits: torch.Tensor | None = None) -> Hypotheses:
    """Keep the ``beam_size`` best prefixes per sentence; all sentences and beams in one batch.

    ``limits`` [B] (optional): sentence ``b``'s hypotheses hold at most ``limits[b]`` tokens.
    A sentence whose beams have all finished leaves the batch with its best hypothesis (its beams
    could only be extended by PAD at no cost, so nothing about it can change any more).
    """
    batch, k_beams, device = src.size(0), beam_size, src.device
    state = model.start(src, max_len, width)
    if k_beams > 1:
        state = _reorder(model, state, torch.arange(batch, device=device).repeat_interleave(k_beams))
    # Only beam 0 is alive at the start, otherwise the K beams would be K copies of one hypothesis.
    scores = torch.full((batch, k_beams), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished = torch.zeros(batch, k_beams, dtype=torch.bool, device=device)
    tokens = torch.empty(batch * k_beams, 0, dtype=torch.long, device=device)
    prev = torch.full((batch * k_beams,), BOS, dtype=torch.long, device=device)
    limits = None if limits is None else limits.view(batch, 1)
    alive = torch.arange(batch, device=device)            # the sentence each active row group holds
    results = _Results(batch, device)

    def leave(done: torch.Tensor) -> None:
        lengths = _lengths(tokens).view(-1, k_beams)
        best = (scores / length_penalty(lengths, alpha)).argmax(dim=1)           # [n]
        for i in done.nonzero().flatten().tolist():
            b = int(best[i])
            results.put(int(alive[i]), tokens[i * k_beams + b], scores[i, b], lengths[i, b])

    for k in range(max_len + 1):
        finished |= _past_limit(limits, k)
        done = finished.all(dim=1) if k < max_len else torch.ones_like(alive, dtype=torch.bool)
        if bool(done.any()):
            leave(done)
            if bool(done.all()):
                break
            keep = (~done).nonzero().flatten()
            rows = _beam_rows(keep, k_beams)
            state = _reorder(model, state, rows)
            tokens, prev = tokens.index_select(0, rows), prev.index_select(0, rows)
            scores, finished, alive = scores[keep], finished[keep], alive[keep]
            limits = None if limits is None else limits[keep]
        n = alive.numel()
        logits, state = model.step(state, prev, k)
        logp = _next_token_logp(logits).view(n, k_beams, -1)                    # [n, K, V]
        vocab = logp.size(-1)
        # A finished hypothesis is never extended: its one continuation is PAD, at no cost.
        frozen = torch.full_like(logp[0, 0], float("-inf"))
        frozen[PAD] = 0.0
        logp = torch.where(finished.unsqueeze(-1), frozen, logp)
        candidates = (scores.unsqueeze(-1) + logp).view(n, -1)                   # [n, K·V]
        scores, flat = candidates.topk(k_beams, dim=-1)                          # [n, K]
        parent, token = flat // vocab, flat % vocab
        if k_beams > 1:
            rows = (torch.arange(n, device=device).unsqueeze(1) * k_beams + parent).view(-1)
            state = _reorder(model, state, rows)
            tokens = tokens.index_select(0, rows)
        tokens = torch.cat([tokens, token.view(-1, 1)], dim=1)
        finished = finished.gather(1, parent) | (token == EOS)
        prev = token.view(-1)
    return results.hypotheses()


def search(model: Incremental, src: torch.Tensor, max_len: int, beam_size: int = 1,
           alpha: float = 0.0, width=None, limits: torch.Tensor | None = None) -> Hypotheses:
    """Greedy for ``beam_size == 1``, beam search otherwise."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if beam_size == 1:
        return greedy(model, src, max_len, width, limits)
    return beam_search(model, src, max_len, beam_size, alpha, width, limits)
