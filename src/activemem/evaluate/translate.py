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
from activemem.evaluate.resume import Resume
from activemem.models.active_memory import ActiveMemoryModel
from activemem.progress import progress_bar


def has_memory_width(model) -> bool:
    """Whether ``width`` (fixed or search) means anything for ``model``: the Neural GPU family."""
    return isinstance(model, ActiveMemoryModel)


@torch.no_grad()
def translate(model, split: EncodedSplit, vocab: SubwordVocab, device, batch_size: int, beam_size: int,
              length_penalty: float, max_len_ratio: float, max_len_offset: int, width: str = "fixed",
              desc: str = "decode", progress: bool = True,
              trained_widths: list[int] | None = None, resume: Resume | None = None) -> tuple[list[str], dict]:
    """Hypotheses (one string per sentence, in split order) and decoding statistics.

    ``trained_widths``: the training buckets, the widths ``width: search`` tries (``width_search.py``).
    ``resume``: each batch is saved as it is decoded, under the phase ``desc``, and a batch saved by an
    earlier run of the same evaluation is taken from there (``evaluate/resume.py``); the seconds of
    decoding then count the saved batches' own.
    """
    model.eval()
    hypotheses: list[str] = [""] * len(split)
    scores = np.zeros(len(split))
    seconds = 0.0
    batches = length_sorted_batches(split.src_lengths, batch_size)
    bar = progress_bar(batches, desc=desc, unit="batch", disable=not progress, mininterval=1.0)
    for number, indices in enumerate(bar):
        saved = resume.batch(desc, number, indices) if resume is not None else None
        if saved is None:
            start = time.perf_counter()
            texts, values = _decode_batch(model, split, vocab, device, indices, beam_size, length_penalty,
                                          max_len_ratio, max_len_offset, width, trained_widths)
            saved = {"hypotheses": texts, "scores": values, "seconds": time.perf_counter() - start}
            if resume is not None:
                resume.save_batch(desc, number, indices, **saved)
        for row, i in enumerate(indices):
            hypotheses[i] = saved["hypotheses"][row]
            scores[i] = saved["scores"][row]
        seconds += saved["seconds"]
    return hypotheses, {"sentences": len(split), "seconds": seconds,
                        "sentences_per_s": len(split) / max(seconds, 1e-9),
                        "mean_log_prob": float(scores.mean()),
                        "empty": empty_count(hypotheses)}


def _decode_batch(model, split, vocab, device, indices, beam_size, length_penalty, max_len_ratio, max_len_offset,
                  width, trained_widths) -> tuple[list[str], list[float]]:
    src = collate(split, indices).src                                     # [B, S], PAD-padded
    max_len = math.ceil(max_len_ratio * src.size(1)) + max_len_offset
    kwargs = {}
    if isinstance(model, ActiveMemoryModel) and width == "search":
        kwargs["width"] = "search"
        kwargs["trained_widths"] = trained_widths
    hyp = model.hypotheses(src.to(device), max_len, beam_size, length_penalty, **kwargs)
    return ([one_line(vocab.decode(hyp.tokens[row].tolist())) for row in range(len(indices))],  # never a line break
            [float(hyp.scores[row]) for row in range(len(indices))])


def empty_count(hypotheses: list[str]) -> int:
    """How many hypotheses are empty (or only spaces): a model that learned to stop at once."""
    return sum(1 for h in hypotheses if not h.strip())
