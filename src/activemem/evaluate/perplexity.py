"""Teacher-forced perplexity of a split, per sub-word token and per word, from one log-likelihood.

    log_perplexity = NLL_total / N_tokens          (nats; N_tokens = target sub-words + EOS)
    perplexity     = exp(log_perplexity)
    per word:        exp(NLL_total / N_words)      (N_words = whitespace words of the references)

The per-word figure is comparable across sub-word vocabularies; the per-token one is what training
optimises. The original code evaluated its extended model teacher-forced with scheduled sampling
switched off; so do we, and we say so: these are teacher-forced numbers, BLEU is the free-running one.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from activemem.data.batching import collate
from activemem.data.store import EncodedSplit
from activemem.train.loss import token_nll


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Batches of similar length (little padding), in a fixed order."""
    order = np.argsort(lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def split_nll(model, split: EncodedSplit, device, batch_size: int, autocast: bool = False) -> tuple[float, int]:
    """Total NLL (nats) and token count of ``split`` under ``model`` (eval mode, teacher forcing)."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    widths = np.maximum(split.src_lengths, split.tgt_lengths + 1)
    for indices in length_sorted_batches(widths, batch_size):
        batch = collate(split, indices).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(batch.src, batch.tgt_in)
        nll, n = token_nll(logits, batch.tgt_out)
        total += float(nll)
        tokens += int(n)
    model.train(was_training)
    return total, tokens


def perplexities(nll: float, tokens: int, words: int) -> dict:
    return {"log_perplexity": nll / tokens, "perplexity": math.exp(nll / tokens),
            "perplexity_per_word": math.exp(nll / words), "log_perplexity_per_word": nll / words,
            "target_tokens": tokens, "target_words": words}
