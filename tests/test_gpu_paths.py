"""The code paths a GPU run takes, exercised on CPU: bf16 autocast and ``torch.compile``, per model.

Training on CUDA runs under bf16 autocast (``train.bf16``) and may compile the model
(``train.compile``); neither is exercised by CPU training. Both work on CPU too, so a first GPU run
should not be the first time these paths meet shapes and dtypes. ``aot_eager`` traces the model and
its backward exactly as ``torch.compile`` does and runs them with eager kernels; the inductor
backend (code generation, needs a C compiler) is compiled once, for the CGRU layer every Neural GPU
model runs (its forward).
"""

from __future__ import annotations

import shutil

import pytest
import torch

from activemem import models
from activemem.models.active_memory import ActiveMemoryModel
from activemem.models.cgru import CGRU, cgru_step
from activemem.tokens import EOS
from activemem.train.loss import smoothed_loss

from conftest import TINY, VOCAB, random_batch


def tiny(name):
    torch.manual_seed(0)
    model = models.build(name, VOCAB, **TINY[name]).train()
    if hasattr(model, "sampling_probability"):
        model.sampling_probability = 0.5      # the scheduled-sampling branch too
    return model


def batch():
    src, tgt_in = random_batch(batch=3, src_len=3, tgt_len=4)
    target = torch.cat([tgt_in[:, 1:], torch.full((3, 1), EOS)], dim=1)
    return src, tgt_in, target


def assert_trains(model, logits, loss):
    assert logits.shape == (3, 4, VOCAB)
    assert torch.isfinite(logits.float()).all() and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.dtype == torch.float32 for g in grads)          # master weights stay float32


def test_bf16_autocast_trains_and_decodes(model_name):
    model = tiny(model_name)
    src, tgt_in, target = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, tgt_in)
        loss = smoothed_loss(logits, target, 0.1)
        assert logits.dtype == torch.bfloat16                     # autocast really applied
    assert_trains(model, logits, loss)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.generate(src, max_len=4, beam_size=2, length_penalty=0.6)
        assert out.shape[0] == 3 and out.shape[1] <= 4
        if isinstance(model, ActiveMemoryModel):
            searched = model.eval().hypotheses(src, 4, 2, 0.6, width="search", trained_widths=[4, 5])
            assert searched.tokens.shape[0] == 3 and torch.isfinite(searched.scores).all()


def test_compiled_training_step_traces(model_name):
    model = tiny(model_name)
    src, tgt_in, target = batch()
    compiled = torch.compile(model, backend="aot_eager")
    torch._dynamo.reset()
    logits = compiled(src, tgt_in)
    assert_trains(model, logits, smoothed_loss(logits, target, 0.1))


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="the inductor backend compiles C++ and no C compiler is installed")
def test_inductor_compiles_the_cgru_layer():
    """Inductor's code generation on the layer every Neural GPU step runs (forward: the backward
    graph is traced by the ``aot_eager`` test above; compiling it too would double the time)."""
    torch.manual_seed(0)
    cell = CGRU(4, tape=False)
    s = torch.randn(2, 4, 5, 2)
    with torch.no_grad():
        kernels = cell.state_kernels()
        torch._dynamo.reset()
        out = torch.compile(cgru_step, backend="inductor")(s, kernels)
        torch.testing.assert_close(out, cgru_step(s, kernels), rtol=1e-5, atol=1e-5)
