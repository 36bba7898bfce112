"""Training compute, counted: the FLOPs of every optimisation step, summed over a run.

Why count instead of timing: wall-clock seconds depend on the machine, FLOPs do not, so a curve of dev
perplexity against FLOPs compares the models' cost the same way on a laptop and on a cluster (Table 1's
"training FLOPs" column, the learning curves against compute).

How: torch's FLOP formulas (``torch.utils.flop_counter.flop_registry``, what ``FlopCounterMode`` and
``benchmarks/paper_cost.py`` count: matrix products, convolutions, attention; Adam's element-wise update
and the activations are left out) applied to every operator of one forward + backward pass. Our own small
dispatch mode does the counting: ``FlopCounterMode`` gives the same total (tests/test_flops.py) but also
tracks the module hierarchy, which made a count take ~4× longer. Counting is still slow next to a step,
so each batch *shape* is counted once (the demo's batches have about 30 shapes), on one sentence, on a
CPU copy of the model, and the count is scaled by the batch's sentences:

    FLOPs(step) = n_sentences · FLOPs(1 sentence padded to the batch's source and target lengths)

Every sentence of a batch is padded to the same lengths, so the compute is linear in the sentence count
(``benchmarks/paper_cost.py`` measured the constant term at about 1e-5 of a step). The counting pass runs
with the random number generators forked, so the run's numbers are those of a run that counts nothing.
"""

from __future__ import annotations

import copy

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from activemem.tokens import BOS, RESERVED


# counts per (architecture, its config, vocabulary, lengths, sampling on): shared by every meter of the
# process, so seeds or tests that train one architecture again count each shape once
_COUNTED: dict[tuple, int] = {}


class FlopMeter:
    """FLOPs of one training step of ``model``, by the shape of its batch (each shape counted once)."""

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).cpu().train()  # its weights never change: the count does not depend on them
        sizes = tuple(tuple(p.shape) for p in self.model.parameters())
        self.identity = (type(model).__qualname__, repr(getattr(model, "config", None)), sizes)

    def step(self, sentences: int, src_len: int, tgt_len: int, sampling: float = 0.0) -> int:
        """FLOPs of a forward + backward pass over ``sentences`` pairs padded to these lengths."""
        key = (*self.identity, src_len, tgt_len, sampling > 0)
        if key not in _COUNTED:
            _COUNTED[key] = self._count(src_len, tgt_len, sampling)
        return sentences * _COUNTED[key]

    def _count(self, src_len: int, tgt_len: int, sampling: float) -> int:
        if hasattr(self.model, "sampling_probability"):
            self.model.sampling_probability = sampling
        src = torch.full((1, src_len), RESERVED, dtype=torch.long)  # any real token: the count ignores values
        tgt = torch.full((1, tgt_len), RESERVED, dtype=torch.long)
        tgt[0, 0] = BOS
        with torch.random.fork_rng(devices=[]), _FlopCount() as counter:
            logits = self.model(src, tgt)
            logits.float().logsumexp(-1).sum().backward()
        self.model.zero_grad(set_to_none=True)
        return counter.total


def _shapes(x):
    """``x`` with every tensor replaced by its shape (what the FLOP formulas read). A plain recursion over
    the tuples and lists an operator takes: torch's general ``tree_map`` cost more than the operator."""
    if isinstance(x, torch.Tensor):
        return x.shape
    if isinstance(x, (tuple, list)):
        return type(x)(_shapes(item) for item in x)
    return x


class _FlopCount(TorchDispatchMode):
    """Adds up torch's FLOP formula of every operator that has one (the rest count zero)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            shaped = {key: _shapes(value) for key, value in kwargs.items()}
            self.total += int(formula(*_shapes(args), **shaped, out_val=_shapes(out)))
        return out
