"""The training loss: label-smoothed cross-entropy over real (non-PAD) target tokens.

The original code smooths with 0.1 and averages over non-PAD target tokens; we use PyTorch's built-in
``label_smoothing``, which spreads the 0.1 over all V classes (the original spread it over V−1), a
difference of order 0.1/V. Perplexity is always computed *without* smoothing (``train/nll.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from activemem.tokens import PAD


def smoothed_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Mean label-smoothed cross-entropy per non-PAD token; ``logits`` [B, T, V], ``target`` [B, T]."""
    return F.cross_entropy(logits.float().flatten(0, 1), target.flatten(), ignore_index=PAD,
                           label_smoothing=smoothing)
