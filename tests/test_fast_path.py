"""The models' fast path computes the paper's equations: logits and gradients against a plain loop.

``reference_logits`` below is the straightforward implementation (the code before the fast path):
every step convolves ``cat([tape, state])`` with the full CGRU^d kernels (``CGRU.forward``) and
rebuilds the whole tape. The models instead carry the tape's convolutions from step to step
(``extended_neural_gpu.py``). Both draw their random numbers (dropout masks, scheduled-sampling
samples and coins) in the same order, so with one seed they must agree to float rounding.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from activemem import models
from activemem.models.active_memory import step_dropout_rate
from activemem.tokens import PAD

from conftest import VOCAB, random_batch

SMALL = {"maps": 8, "height": 3, "dropout": 0.3}


def reference_encoder(model, src, width):
    enc = model.encoder
    rate = step_dropout_rate(model.config.dropout, width)
    s = enc.embed(src, width)
    if enc.first is not None:
        s = enc.first(s)                                          # the authors' "first" CGRU, once
    for _ in range(width):
        s = F.dropout(s, rate, model.training)
        for cgru in enc.steps.layers:
            s = cgru(s)                                           # CGRU(s), the equations as written
    return s


def reference_logits(model, src, tgt_in):
    """The Extended Neural GPU's forward pass as the paper writes it (``CGRU.forward`` on the tape)."""
    batch, out_len = tgt_in.shape
    width = model.resolve_width(src, out_len, None)
    rate = step_dropout_rate(model.config.dropout, width)
    d = reference_encoder(model, src, width)
    tape = torch.zeros_like(d)
    columns = torch.arange(width).view(1, 1, width, 1)
    sample = model.training and model.sampling_probability > 0
    outputs, logits_prev = [], None
    for k in range(out_len):
        if k > 0:
            prev = tgt_in[:, k]
            if sample:
                own = torch.multinomial(torch.softmax(logits_prev.detach().float(), -1), 1).squeeze(1)
                coin = torch.rand(batch) < model.sampling_probability
                prev = torch.where(coin & (prev != PAD), own, prev)
            tape = tape + model.tape_column(prev).unsqueeze(2) * (columns == k - 1)
        d = F.dropout(d, rate, model.training)
        for cgru in model.decoder.layers:
            d = cgru(d, tape)                                     # CGRU^d(d, p)
        row = d[:, :, k, 0]
        outputs.append(row)
        if sample:
            logits_prev = model.output(row)
    return model.output(torch.stack(outputs, dim=1))


def logits_and_grads(model, fn, seed=7):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    logits = fn()
    (logits.float().sin().sum()).backward()   # a loss whose gradient differs per logit
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_same(fast, slow, tol=1e-5):
    """Equal to ``tol`` relative to each tensor's scale (a gradient that sums hundreds of terms, like a
    bias before a LayerNorm, carries float32 rounding of that sum's size, not of its result's)."""
    torch.testing.assert_close(fast[0], slow[0], rtol=tol, atol=tol)
    assert fast[1].keys() == slow[1].keys()
    for name, want in slow[1].items():
        error = (fast[1][name] - want).abs().max().item()
        assert error <= tol * max(1.0, want.abs().max().item()), (name, error)


@pytest.mark.parametrize("sampling", [0.0, 0.5])
@pytest.mark.parametrize("extra", [{}, {"checkpoint_steps": True},
                                   {"kernel_width": 5, "kernel_height": 3, "layers": 3, "height": 4}])
def test_extended_fast_path_equals_the_equations(sampling, extra):
    torch.manual_seed(0)
    model = models.build("extended_neural_gpu", VOCAB, **{**SMALL, **extra}).train()
    model.sampling_probability = sampling
    src, tgt_in = random_batch(batch=4, src_len=5, tgt_len=7)
    fast = logits_and_grads(model, lambda: model(src, tgt_in))
    slow = logits_and_grads(model, lambda: reference_logits(model, src, tgt_in))
    assert_same(fast, slow)
    if sampling:  # the samples really changed the tape (else the test would not test sampling)
        model.sampling_probability = 0.0
        gold = logits_and_grads(model, lambda: model(src, tgt_in))
        assert not torch.allclose(gold[0], fast[0])


@pytest.mark.parametrize("name", ["neural_gpu", "markovian_neural_gpu"])
@pytest.mark.parametrize("extra", [{}, {"first_cgru": False}, {"checkpoint_steps": True}])
def test_encoder_fast_path_equals_the_equations(name, extra):
    torch.manual_seed(0)
    model = models.build(name, VOCAB, **{**SMALL, **extra}).train()
    src, tgt_in = random_batch(batch=4, src_len=6, tgt_len=5)
    fast = logits_and_grads(model, lambda: model(src, tgt_in))
    slow = logits_and_grads(model, lambda: model.readout(
        reference_encoder(model, src, 6)[:, :, :5, 0].transpose(1, 2), tgt_in))
    assert_same(fast, slow)


def test_step_by_step_decoding_equals_the_equations():
    torch.manual_seed(0)
    model = models.build("extended_neural_gpu", VOCAB, **SMALL).eval()
    src, tgt_in = random_batch(batch=3, src_len=5, tgt_len=7)
    with torch.no_grad():
        slow = reference_logits(model, src, tgt_in)
        state = model.start(src, max_len=7)
        for k in range(7):
            logits, state = model.step(state, tgt_in[:, k], k)
            torch.testing.assert_close(logits, slow[:, k], rtol=1e-5, atol=1e-5)
