"""Training compute, counted: the FLOPs of every optimisation step, summed over a run.

Why count instead of timing: wall-clock seconds depend on the machine, FLOPs do not, so a curve of dev
perplexity against FLOPs compares the models' cost the same way on a laptop and on a cluster (Table 1's
"training FLOPs" column, the learning curves against compute).

How: torch's FLOP formulas (``torch.utils.flop_counter.flop_registry``, what ``FlopCounterMode`` and
``benchmarks/paper_cost.py`` count: matrix products, convolutions, attention; Adam's element-wise update
and the activations are left out) applied to every operator of one forward + backward pass of one
sentence (our own small dispatch mode; ``FlopCounterMode`` gives the same total but also tracks the
module hierarchy, ~4× slower). Every sentence of a batch is padded to the same lengths, so the compute
is linear in the sentence count (``benchmarks/paper_cost.py`` measured the constant term at about 1e-5
of a step):

    FLOPs(step) = n_sentences · f(S, T),   S, T: the batch's padded source and target lengths

Counting a pass costs about three passes (the dispatch mode runs in Python, operator by operator), and a
run meets some 30 shapes: counting every one cost a demo model 18–107 s. But every model here does work
polynomial in its lengths: the memory's W = max(S, T) columns for W steps, a decoder's T steps over S
positions, attention's S·T. So f is fitted once per model (and sampling on/off) as a polynomial in
S, T and W of degree 2 (``MONOMIALS``), from exact counts at small lengths, and accepted only if it
gives the exact count at every fitted length *and* at longer check lengths; otherwise every shape is
counted (``tests/test_convergence.py`` holds the fit to the counter for every model). The counting
passes run with the random number generators forked, so the run's numbers are those of a run that
counts nothing.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from activemem.tokens import BOS, RESERVED


# per (architecture, its config, vocabulary, sampling on): the fitted polynomial's coefficients, or None
# where no polynomial fits; then the exact counts per (…, lengths). Shared by every meter of the process,
# so seeds or tests that train one architecture again fit it once.
_FITTED: dict[tuple, tuple[int, ...] | None] = {}
_COUNTED: dict[tuple, int] = {}

# f(S, T) = Σ c_i · monomial_i(S, T, W = max(S, T)): every term a model's work can have up to degree 2
MONOMIALS = ("1", "S", "T", "W", "S*S", "T*T", "W*W", "S*T", "S*W", "T*W")
FIT_LENGTHS = [(s, t) for s in range(3, 7) for t in range(3, 7)]  # both orders of S and T, and S = T
CHECK_LENGTHS = [(9, 14), (15, 7), (12, 12)]                        # beyond the fit, in each region


def _terms(src_len: int, tgt_len: int) -> list[int]:
    s, t, w = src_len, tgt_len, max(src_len, tgt_len)
    return [1, s, t, w, s * s, t * t, w * w, s * t, s * w, t * w]


def _evaluate(coefficients: tuple[int, ...], src_len: int, tgt_len: int) -> int:
    return sum(c * m for c, m in zip(coefficients, _terms(src_len, tgt_len)))


class FlopMeter:
    """FLOPs of one training step of ``model``, by the shape of its batch (a fitted polynomial per model,
    checked exact; each shape counted where none fits)."""

    def __init__(self, model: torch.nn.Module):
        self.model = copy.deepcopy(model).cpu().train()  # its weights never change: the count does not depend on them
        sizes = tuple(tuple(p.shape) for p in self.model.parameters())
        self.identity = (type(model).__qualname__, repr(getattr(model, "config", None)), sizes)

    def step(self, sentences: int, src_len: int, tgt_len: int, sampling: float = 0.0) -> int:
        """FLOPs of a forward + backward pass over ``sentences`` pairs padded to these lengths."""
        model_key = (*self.identity, sampling > 0)
        if model_key not in _FITTED:
            _FITTED[model_key] = self.fit(sampling)
        coefficients = _FITTED[model_key]
        if coefficients is not None:
            return sentences * _evaluate(coefficients, src_len, tgt_len)
        key = (*model_key, src_len, tgt_len)
        if key not in _COUNTED:
            _COUNTED[key] = self._count(src_len, tgt_len, sampling)
        return sentences * _COUNTED[key]

    def fit(self, sampling: float = 0.0) -> tuple[int, ...] | None:
        """Integer coefficients of f over ``MONOMIALS``, exact at every fit and check length; None if none is."""
        counted = {lengths: self._count(*lengths, sampling) for lengths in FIT_LENGTHS}
        design = np.array([_terms(*lengths) for lengths in counted], dtype=np.float64)
        solution, *_ = np.linalg.lstsq(design, np.array(list(counted.values()), dtype=np.float64), rcond=None)
        coefficients = tuple(int(round(c)) for c in solution)
        if any(_evaluate(coefficients, *lengths) != n for lengths, n in counted.items()):
            return None
        if any(_evaluate(coefficients, *lengths) != self._count(*lengths, sampling) for lengths in CHECK_LENGTHS):
            return None
        return coefficients

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

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ in a "do not compile this" guard that imports
        # torch._dynamo on first use (~1.5 s of a training job's start) and costs a call per operator;
        # nothing here is ever compiled
        return False

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
