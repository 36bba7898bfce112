"""The authors' decode-time width search for the Neural GPU family, batched.

The memory width of a Neural GPU bounds its output and changes what it computes, and the right
width for a sentence is unknown before decoding. The original trainer (``docs/original-code.md`` §2.5)
decoded each test sentence once per *bucket* width from the smallest bucket holding ``|src|`` up to
``2·|src| + 8`` and kept the width whose hypothesis scored best; its buckets were every integer
width. We do the same over the model's own training buckets (``train.buckets``), with these choices:

- the widths tried are the training buckets between ``|src|`` and ``2·|src| + 8`` (at least the
  smallest bucket holding the source): the model has only ever been trained at those widths, and a
  wider memory than the widest bucket is out of its training distribution. A source longer than
  every bucket is decoded at its own length. With buckets of every integer this is exactly the
  original search; with the demo's buckets (every 4th width) it tries about a quarter of the
  widths, which on the demo's dev set scored as well (Extended Neural GPU, beam 4: BLEU 12.8 vs
  12.5, length ratio 0.88 vs 0.83) at twice the speed;
- "best" is the length-normalised score ``log p / lp(n)`` that the beam search ranks by
  (``decoding.length_penalty``; the original minimised ``−log p − width·length_norm``);
- all (sentence, width) pairs of a batch are decoded *together*: rows are sorted by width and cut
  into chunks of about ``min_rows`` decoder rows; in a chunk every row keeps its own width by
  holding the columns beyond it at zero after every layer (exactly the zero padding a memory of
  that width has) and by stopping its encoder after its own number of steps, so a row decoded in a
  chunk is the row decoded alone at its width (``tests/test_decoding.py`` checks this).

The encoder runs once per (sentence, width); the beams of a row share that encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from activemem.models import decoding
from activemem.tokens import PAD

FIRST_WIDTH_FACTOR, LAST_WIDTH_FACTOR, LAST_WIDTH_OFFSET = 1, 2, 8  # widths |src| … 2·|src| + 8 [K]


def candidate_widths(length: int, trained_widths: Sequence[int] | None = None) -> list[int]:
    """The widths tried for a source of ``length`` tokens: the ``trained_widths`` (bucket widths)
    from ``length`` to ``2·length + 8``, or every width there when ``None``; never empty."""
    first = max(FIRST_WIDTH_FACTOR * length, 1)
    last = LAST_WIDTH_FACTOR * length + LAST_WIDTH_OFFSET
    if trained_widths is None:
        return list(range(first, last + 1))
    widths = sorted(set(trained_widths))
    tried = [w for w in widths if first <= w <= last]
    if not tried:  # no bucket in range: the smallest that holds the source, or its own length
        tried = [next((w for w in widths if w >= first), first)]
    return tried


def chunks(widths: list[int], rows_per_width_row: int, min_rows: int) -> list[list[int]]:
    """Row indices grouped by increasing width: a chunk closes once it holds ``min_rows`` decoder rows."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    groups, current = [], []
    for position, i in enumerate(order):
        current.append(i)
        last_of_width = position + 1 == len(order) or widths[order[position + 1]] != widths[i]
        if last_of_width and len(current) * rows_per_width_row >= min_rows:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


@torch.no_grad()
def search_widths(model, src: torch.Tensor, beam_size: int = 1, alpha: float = 0.0,
                  trained_widths: Sequence[int] | None = None, min_rows: int = 256) -> decoding.Hypotheses:
    """Per sentence of ``src`` [B, S], the best hypothesis over its candidate widths."""
    lengths = (src != PAD).sum(dim=1).tolist()
    sentence, width = [], []
    for b, length in enumerate(lengths):
        for w in candidate_widths(length, trained_widths):
            sentence.append(b)
            width.append(w)
    results = [None] * len(width)                    # per row: (normalised score, tokens, score, length)
    for rows in chunks(width, beam_size, min_rows):
        index = torch.tensor([sentence[i] for i in rows], device=src.device)
        widths = torch.tensor([width[i] for i in rows], device=src.device)
        longest = max(max(lengths[sentence[i]] for i in rows), 1)
        chunk_src = src.index_select(0, index)[:, :longest]
        hyp = decoding.search(model, chunk_src, int(widths.max()), beam_size, alpha,
                              width=widths, limits=widths)
        normalized = hyp.normalized(alpha).tolist()
        for j, i in enumerate(rows):
            results[i] = (normalized[j], hyp.tokens[j], hyp.scores[j], hyp.lengths[j])
    best: dict[int, int] = {}
    for i in sorted(range(len(width)), key=lambda i: (sentence[i], width[i])):
        b = sentence[i]
        if b not in best or results[i][0] > results[best[b]][0]:   # ties: the narrower width
            best[b] = i
    picks = [results[best[b]] for b in range(src.size(0))]
    longest = max(int(p[1].numel()) for p in picks)
    tokens = torch.full((len(picks), longest), PAD, dtype=torch.long, device=src.device)
    for b, p in enumerate(picks):
        tokens[b, :p[1].numel()] = p[1]
    return decoding.Hypotheses(tokens, torch.stack([p[2] for p in picks]),
                               torch.stack([p[3] for p in picks]))
