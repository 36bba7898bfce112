"""The authors' decode-time width search for the Neural GPU family, batched.

The memory width of a Neural GPU bounds its output and changes what it computes, and the right
width for a sentence is unknown before decoding. The original trainer (``original-code.md`` §2.5)
decoded each test sentence once per width from ``|src|`` to ``2·|src| + 8`` and kept the width whose
hypothesis scored best. We do the same, with three choices of ours:

- the widths stop at ``max_width``, the widest memory the model was trained on (wider memories are
  out of its training distribution); a source longer than that is decoded at its own length;
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

import torch

from activemem.models import decoding
from activemem.tokens import PAD

FIRST_WIDTH_FACTOR, LAST_WIDTH_FACTOR, LAST_WIDTH_OFFSET = 1, 2, 8  # widths |src| … 2·|src| + 8 [K]


def candidate_widths(length: int, max_width: int | None) -> range:
    """The widths tried for a source of ``length`` tokens (at least one: its own length)."""
    first = max(FIRST_WIDTH_FACTOR * length, 1)
    last = LAST_WIDTH_FACTOR * length + LAST_WIDTH_OFFSET
    if max_width is not None:
        last = min(last, max_width)
    return range(first, max(first, last) + 1)


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
                  max_width: int | None = None, min_rows: int = 256) -> decoding.Hypotheses:
    """Per sentence of ``src`` [B, S], the best hypothesis over its candidate widths."""
    lengths = (src != PAD).sum(dim=1).tolist()
    sentence, width = [], []
    for b, length in enumerate(lengths):
        for w in candidate_widths(length, max_width):
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
