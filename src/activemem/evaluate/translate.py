"""Batched decoding of a split: greedy or beam search, detokenised with the sentencepiece model.

Sentences are decoded in batches of similar source length (less padding, and for the Neural GPU
family one memory width per batch) and written back in their original order. The output length is
capped at ``ceil(max_len_ratio · |src|) + max_len_offset`` sub-words; for the Neural GPU family the
memory width is ``max(|src|, that cap)`` (``width: fixed``, an ablation) or chosen per sentence
among ``|src|`` … ``2·|src| + 8`` as the authors decoded (``width: search``, see
``models/width_search.py``; the output cap does not apply there, each width bounds its output).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from activemem.data.batching import collate, length_sorted_batches
from activemem.data.lines import one_line
from activemem.data.store import EncodedSplit
from activemem.data.vocab import SubwordVocab
from activemem.models.active_memory import ActiveMemoryModel
from activemem.progress import progress_bar


def has_memory_width(model) -> bool:
    """Whether ``width`` (fixed or search) means anything for ``model``: the Neural GPU family."""
    return isinstance(model, ActiveMemoryModel)


@torch.no_grad()
def translate(model, split: EncodedSplit, vocab: SubwordVocab, device, batch_size: int, beam_size: int,
              length_penalty: float, max_len_ratio: float, max_len_offset: int, width: str = "fixed",
              desc: str = "decode", progress: bool = True,
              trained_widths: list[int] | None = None) -> tuple[list[str], dict]:
    """Hypotheses (one string per sentence, in split order) and decoding statistics.

    ``trained_widths``: the training buckets, the widths ``width: search`` tries (``width_search.py``).
    """
    model.eval()
    hypotheses: list[str] = [""] * len(split)
    scores = np.zeros(len(split))
    start = time.perf_counter()
    batches = length_sorted_batches(split.src_lengths, batch_size)
    for indices in progress_bar(batches, desc=desc, unit="batch", disable=not progress, mininterval=1.0):
        src = collate(split, indices).src                                     # [B, S], PAD-padded
        s_len = src.size(1)
        max_len = math.ceil(max_len_ratio * s_len) + max_len_offset
        kwargs = {}
        if isinstance(model, ActiveMemoryModel) and width == "search":
            kwargs["width"] = "search"
            kwargs["trained_widths"] = trained_widths
        hyp = model.hypotheses(src.to(device), max_len, beam_size, length_penalty, **kwargs)
        for row, i in enumerate(indices):
            hypotheses[i] = one_line(vocab.decode(hyp.tokens[row].tolist()))  # never a line break
            scores[i] = float(hyp.scores[row])
    seconds = time.perf_counter() - start
    return hypotheses, {"sentences": len(split), "seconds": seconds,
                        "sentences_per_s": len(split) / max(seconds, 1e-9),
                        "mean_log_prob": float(scores.mean())}
