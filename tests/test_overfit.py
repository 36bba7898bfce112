"""Every model can memorise 8 fixed reverse pairs: the cheapest proof that it can learn at all."""

from __future__ import annotations

import torch

from activemem import models
from activemem.train.loss import smoothed_loss

from conftest import TINY, VOCAB, shift_right, toy_pairs


def test_every_model_overfits_a_tiny_batch(model_name):
    torch.manual_seed(0)
    model = models.build(model_name, VOCAB, **{**TINY[model_name], "dropout": 0.0})
    src, target = toy_pairs(n=8, length=5, reverse=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(300):
        loss = smoothed_loss(model(src, shift_right(target)), target, smoothing=0.0)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.01:
            break
    assert first > 1.5 and loss.item() < 0.01
    assert torch.equal(model.generate(src, max_len=6), target)
