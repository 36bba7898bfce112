"""Negative log-likelihood and perplexity, teacher-forced: the one definition that training (its log,
the dev perplexity that decays the learning rate, the length curriculum) and evaluation (Table 1's
perplexity) both use.

    log_perplexity = NLL_total / N_tokens          (nats; N_tokens = target sub-words + EOS)
    perplexity     = exp(log_perplexity)
    per word:        exp(NLL_total / N_words)      (N_words = whitespace words of the references)

The per-word figure is comparable across sub-word vocabularies; the per-token one is what training
optimises. Perplexity is always computed *without* label smoothing (that is the training loss's,
``train/loss.py``). The original code evaluated its extended model teacher-forced with scheduled
sampling switched off; so do we, and we say so: these are teacher-forced numbers, BLEU is the
free-running one.

It lives in ``train/`` (below ``evaluate/`` in the package's layers) because training needs it
during its run, and evaluation may import downwards but training may not import upwards.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from activemem.data.batching import collate, length_sorted_batches, pair_widths
from activemem.data.store import EncodedSplit
from activemem.progress import progress_bar
from activemem.tokens import PAD
from activemem.train.device import bf16_autocast


def token_nll(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed negative log-likelihood (nats) of the non-PAD targets, and how many there are."""
    nll = F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), ignore_index=PAD,
                          reduction="sum")
    return nll, (target != PAD).sum()


@torch.no_grad()
def split_nll(model, split: EncodedSplit, device, batch_size: int, autocast: bool = False,
              progress: bool = False, desc: str = "perplexity") -> tuple[float, int]:
    """Total NLL (nats) and token count of ``split`` under ``model`` (eval mode, teacher forcing);
    ``progress`` shows the batches done (the evaluation's perplexity phases)."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    batches = length_sorted_batches(pair_widths(split), batch_size)
    for indices in progress_bar(batches, desc=desc, unit="batch", disable=not progress, mininterval=1.0):
        batch = collate(split, indices).to(device)
        with bf16_autocast(device, autocast):
            logits = model(batch.src, batch.tgt_in)
        nll, n = token_nll(logits, batch.tgt_out)
        total += float(nll)
        tokens += int(n)
    model.train(was_training)
    return total, tokens


def perplexity(nll: float, tokens: int) -> float:
    """Perplexity per token of a summed NLL."""
    return math.exp(nll / tokens)


def perplexities(nll: float, tokens: int, words: int) -> dict:
    """Every perplexity figure the evaluation reports, per sub-word token and per word."""
    return {"log_perplexity": nll / tokens, "perplexity": perplexity(nll, tokens),
            "perplexity_per_word": math.exp(nll / words), "log_perplexity_per_word": nll / words,
            "target_tokens": tokens, "target_words": words}
