"""Our models beside the authors' own TensorFlow code, on the same weights and inputs (issue 29).

    python benchmarks/authors_code.py --authors-code ~/src/models/research/neural_gpu \\
        --tf-python ~/tfvenv/bin/python

``--authors-code`` is your checkout of tensorflow/models ``research/neural_gpu`` (2017, the code
``docs/original-code.md`` describes); nothing of it is in this repository. ``--tf-python`` is a Python
with TensorFlow 2 and numpy (a venv of its own is fine; it needs neither torch nor activemem). This
script builds our modules at a small size, writes their weights under the authors' variable names
(``name_map``), runs ``authors_code_tf.py`` with that Python (their graph, their variables, our values),
and compares in float32 what both computed. It prints a Markdown table and exits 1 when a row that
should match does not (``TOLERANCE``, on logits and losses alike).

What is compared (see ``docs/authors-code-comparison.md`` for the results and each deviation):
a. one CGRU layer, plain and with the tape as extra input (their ``conv_gru``);
b. the Neural GPU: their ``--beam_size=0`` graph, logits and loss, and the final memory;
c. the Extended Neural GPU teacher-forced, with the output tape (their ``beam_size=1``, sampling 0);
d. the training loss with its masks: their minimised loss (label-smoothed, target > 0) against
   ``train/loss.py`` and their unsmoothed "perplexity" loss against ``train/nll.py``.

Where our models differ from the authors' code on purpose, the case switches the difference off and
says how (``Case.note``); a few extra rows leave one on, to measure it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TOLERANCE = 1e-5
HERE = Path(__file__).resolve().parent
SMOOTHING = 0.1          # their label smoothing: 0.9 on the target, 0.1 spread over the V−1 others


# ---------------------------------------------------------------- the name map (no TensorFlow needed)

@dataclass(frozen=True)
class Entry:
    """One of their variables and where its values live among our parameters.

    ``layout`` says how the two tensors are laid out:
    - ``conv``: theirs ``[kw, kh, in, out]`` (``conv_linear``'s ``CvK``), ours ``[out, in, kw, kh]``;
    - ``conv_state``: as ``conv``, but theirs has twice our input channels, ``concat(extra, state)``,
      and ours only the state's (their ``first`` CGRU, whose extra input is zero: ``first_entries``);
    - ``conv1x1``: theirs ``[1, 1, in, out]``, ours a ``Linear`` weight ``[out, in]``;
    - ``transpose``: theirs ``[in, out]`` (``output_w``), ours ``[out, in]``;
    - ``same``: identical (embeddings, biases, layer norm).
    ``rows`` selects a slice of our parameter's first axis: our ``gates`` convolution holds their
    update gate ``g`` (our ``u``) in its first ``M`` output channels and their reset gate ``r`` in the
    next ``M``.
    """

    theirs: str
    ours: str
    layout: str = "same"
    rows: tuple[int, int] | None = None


def cgru_entries(theirs: str, ours: str, maps: int) -> list[Entry]:
    """Their ``conv_gru`` scope ``theirs`` (``r``, ``g``, ``c``) against our ``CGRU`` at ``ours``.

    Their convolutions see ``concat(extra inputs, state)`` on the channel axis, as ours see
    ``cat([tape, state])``: the input channels need no reordering.
    """
    p = f"{ours}." if ours else ""
    update, reset = (0, maps), (maps, 2 * maps)
    return [Entry(f"{theirs}/g/CvK", f"{p}gates.weight", "conv", update),
            Entry(f"{theirs}/g/CvB", f"{p}gates.bias", "same", update),
            Entry(f"{theirs}/r/CvK", f"{p}gates.weight", "conv", reset),
            Entry(f"{theirs}/r/CvB", f"{p}gates.bias", "same", reset),
            Entry(f"{theirs}/c/CvK", f"{p}candidate.weight", "conv"),
            Entry(f"{theirs}/c/CvB", f"{p}candidate.bias", "same")]


def first_entries(maps: int) -> list[Entry]:
    """Their ``first`` CGRU against our ``encoder.first`` (``first_cgru``): the state half of their
    kernels (``conv_state``); the other half multiplies their ``prev_step``, always zero."""
    return [e if e.layout != "conv" else Entry(e.theirs, e.ours, "conv_state", e.rows)
            for e in cgru_entries(FIRST, "encoder.first", maps)]


def name_map(model: str, maps: int, layers: int, first: bool = True) -> list[Entry]:
    """Their variable names against our parameter names, for ``model`` in ``cgru`` (one bare CGRU,
    their scope ``cell``), ``neural_gpu`` (their ``beam_size=0``) or ``extended_neural_gpu``;
    ``first``: our model has the ``first`` CGRU (``first_cgru``, the default), else their ``first``
    is mapped to nothing of ours.
    """
    if model == "cgru":
        return cgru_entries("cell", "", maps)
    entries = [Entry("embedding", "encoder.embedding.weight"),
               Entry("input/CvK", "encoder.input_proj.weight", "conv1x1"),
               Entry("input/CvB", "encoder.input_proj.bias"),
               Entry("input/layer_norm_scale", "encoder.input_norm.weight"),
               Entry("input/layer_norm_bias", "encoder.input_norm.bias"),
               Entry("output_w", "output.weight", "transpose")]
    if first:
        entries += first_entries(maps)
    for layer in range(layers):
        entries += cgru_entries(f"ecgru_{layer}", f"encoder.steps.layers.{layer}", maps)
    if model == "extended_neural_gpu":
        entries.append(Entry("target_embedding", "target_embedding.weight"))
        for layer in range(layers):
            entries += cgru_entries(f"dcgru_{layer}", f"decoder.layers.{layer}", maps)
    elif model != "neural_gpu":
        raise ValueError(f"no name map for {model!r}")
    return entries


FIRST = "first"   # their CGRU between the input layer norm and the encoder steps (our ``first_cgru``)


def to_theirs(value: np.ndarray, entry: Entry, mirror: bool = False) -> np.ndarray:
    """Our parameter (already sliced by ``entry.rows``) in their layout; ``mirror`` flips every
    convolution kernel along the height (see ``Case.mirror``)."""
    if entry.layout == "conv":
        out = value.transpose(2, 3, 1, 0)                  # [out, in, kw, kh] -> [kw, kh, in, out]
        return out[:, ::-1] if mirror else out
    if entry.layout == "conv_state":                       # zeros where their extra input enters
        state = to_theirs(value, Entry(entry.theirs, entry.ours, "conv"), mirror)
        return np.concatenate([np.zeros_like(state), state], axis=2)
    if entry.layout == "conv1x1":
        return value.T[None, None]                         # [out, in] -> [1, 1, in, out]
    if entry.layout == "transpose":
        return value.T
    if entry.layout == "same":
        return value
    raise ValueError(f"unknown layout {entry.layout!r}")


def from_theirs(value: np.ndarray, entry: Entry, mirror: bool = False) -> np.ndarray:
    """The inverse of ``to_theirs``."""
    if entry.layout == "conv":
        value = value[:, ::-1] if mirror else value
        return value.transpose(3, 2, 0, 1)
    if entry.layout == "conv_state":                       # the state half: input channels in..2·in
        return from_theirs(value[:, :, value.shape[2] // 2:], Entry(entry.theirs, entry.ours, "conv"), mirror)
    if entry.layout == "conv1x1":
        return value[0, 0].T
    if entry.layout == "transpose":
        return value.T
    if entry.layout == "same":
        return value
    raise ValueError(f"unknown layout {entry.layout!r}")


def export(params: dict[str, np.ndarray], entries: list[Entry], mirror: bool = False) -> dict[str, np.ndarray]:
    """Our parameters (name -> array) as their variables (name -> float32 array in their layout)."""
    out = {}
    for e in entries:
        value = params[e.ours]
        if e.rows is not None:
            value = value[e.rows[0]:e.rows[1]]
        out[e.theirs] = np.ascontiguousarray(to_theirs(value, e, mirror), dtype=np.float32)
    return out


def coverage_problems(shapes: dict[str, tuple[int, ...]], entries: list[Entry]) -> list[str]:
    """What is wrong with ``entries`` for parameters of these ``shapes``: a parameter (or a part of
    its first axis) no entry covers or two cover, an entry naming no parameter, a slice out of range."""
    problems, covered = [], {name: np.zeros(shape[0] if shape else 1, int) for name, shape in shapes.items()}
    for e in entries:
        if e.ours not in shapes:
            problems.append(f"{e.theirs}: no parameter {e.ours!r}")
            continue
        n = len(covered[e.ours])
        lo, hi = e.rows if e.rows is not None else (0, n)
        if not 0 <= lo < hi <= n:
            problems.append(f"{e.theirs}: rows {e.rows} outside {e.ours} {shapes[e.ours]}")
            continue
        covered[e.ours][lo:hi] += 1
    for name, count in covered.items():
        if (count == 0).any():
            problems.append(f"{name}: rows {np.flatnonzero(count == 0).tolist()} have no authors' variable")
        if (count > 1).any():
            problems.append(f"{name}: rows {np.flatnonzero(count > 1).tolist()} mapped twice")
    theirs = [e.theirs for e in entries]
    problems += [f"{name}: mapped twice" for name in sorted({n for n in theirs if theirs.count(n) > 1})]
    return problems


def their_shapes(model: str, maps: int, layers: int, vocab: int, kernel=(3, 3)) -> dict[str, tuple[int, ...]]:
    """The shape of each of their trainable variables, as their graph creates them (``vec_size`` =
    ``nmaps``, as the extended model requires): what ``authors_code_tf.py`` checks again against the
    real graph."""
    kw, kh = kernel

    def cgru(scope, extra):
        n = (1 + extra) * maps
        return {f"{scope}/{g}/CvK": (kw, kh, n, maps) for g in "rgc"} | {f"{scope}/{g}/CvB": (maps,) for g in "rgc"}

    if model == "cgru":
        return cgru("cell", 0)
    shapes = {"embedding": (vocab, maps), "input/CvK": (1, 1, maps, maps), "input/CvB": (maps,),
              "input/layer_norm_scale": (maps,), "input/layer_norm_bias": (maps,),
              "output_w": (maps, vocab)} | cgru(FIRST, 1)
    for layer in range(layers):
        shapes |= cgru(f"ecgru_{layer}", 0)
    if model == "extended_neural_gpu":
        shapes["target_embedding"] = (vocab, maps)
        for layer in range(layers):
            shapes |= cgru(f"dcgru_{layer}", 1)
    return shapes


# ---------------------------------------------------------------- the comparison table

@dataclass
class Row:
    """One line of the table: ``delta`` is the largest absolute difference of the compared outputs
    (logits, or the CGRU's output, or the memory), ``dloss`` and ``dnll`` those of the two losses."""

    component: str
    sizes: str
    compared: str
    delta: float
    dloss: float | None = None
    dnll: float | None = None
    expect: str = "match"          # "match", or "differ" for a row that measures a deviation
    why: str = ""

    def within(self, tolerance: float) -> bool:
        values = [v for v in (self.delta, self.dloss, self.dnll) if v is not None]
        return all(math.isfinite(v) and v <= tolerance for v in values)

    def verdict(self, tolerance: float = TOLERANCE) -> str:
        if self.expect == "match":
            return "match" if self.within(tolerance) else "**DIFFERS**"
        return "matches (a difference was expected)" if self.within(tolerance) else f"differs, as expected: {self.why}"

    def failed(self, tolerance: float = TOLERANCE) -> bool:
        return self.expect == "match" and not self.within(tolerance)


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1e}"


def table(rows: list[Row], tolerance: float = TOLERANCE) -> str:
    lines = [f"| component | sizes | compared | max \\|Δ\\| | \\|Δloss\\| (smoothed) | \\|Δloss\\| (nll) | verdict (tol {tolerance:g}) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.component} | {r.sizes} | {r.compared} | {fmt(r.delta)} | {fmt(r.dloss)} | "
                     f"{fmt(r.dnll)} | {r.verdict(tolerance)} |")
    return "\n".join(lines)


def max_abs(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def smoothing_constant(vocab: int, smoothing: float = SMOOTHING) -> float:
    """The constant their loss adds to the smoothed cross-entropy (minus the smoothed targets'
    entropy, so that its minimum is 0): ``0.9·log 0.9 + (V−1)·low·log low``, ``low = 0.1/(V−1)``."""
    low, high = smoothing / (vocab - 1), 1.0 - smoothing
    return high * math.log(high) + (vocab - 1) * low * math.log(low)


def matching_smoothing(vocab: int, smoothing: float = SMOOTHING) -> float:
    """The ``label_smoothing`` of ``torch.nn.functional.cross_entropy`` whose targets are theirs: it
    puts ``ε/V`` on every class, so ``ε = 0.1·V/(V−1)`` gives ``0.1/(V−1)`` off and ``0.9`` on target."""
    return smoothing * vocab / (vocab - 1)


# ---------------------------------------------------------------- the cases (torch from here on)

@dataclass
class Case:
    """One run of their graph: the values, our outputs to compare, and how deviations were switched off.

    ``mirror`` (Neural GPU only): their ``--beam_size=0`` read-out takes height row 1 of the final
    memory, ours row 0 (a deliberate choice, ``models/neural_gpu.py``). At height 2 flipping every
    kernel along the height and putting the source in their row 1 makes their whole memory our memory
    upside down, so their row 1 *is* our row 0 and their logits and loss can be compared end to end.
    """

    name: str
    kind: str                    # "cgru" or "model"
    spec: dict
    weights: dict
    inputs: dict
    ours: dict                   # what our code computed, by output name
    component: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)


def sizes_text(s: dict) -> str:
    text = f"B={s['batch']} L={s['length']} h={s['height']} m={s['nmaps']}"
    if "vocab" in s:
        text += f" V={s['vocab']} layers={s['nconvs']}"
    return text


def perturb(module, seed: int, scale: float = 0.3) -> None:
    """Move every bias and norm parameter off its constant initial value (so that a swapped or
    misplaced bias shows in the outputs); embeddings keep their PAD row at zero."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1:
                p.add_(scale * torch.randn(p.shape, generator=g))


def numpy_params(module) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy().astype(np.float32) for n, p in module.named_parameters()}


def their_first(maps: int, seed: int):
    """A CGRU with the tape's input shape (their ``first``: ``2·maps`` input channels), at random
    values: what their ``first`` holds when our model has none (``first_cgru=False``)."""
    import torch
    from activemem.models.cgru import CGRU

    torch.manual_seed(seed)
    cell = CGRU(maps, tape=True)
    perturb(cell, seed)
    return cell


def fill_dead_half(weights: dict[str, np.ndarray], maps: int, seed: int) -> None:
    """Random values (at the scale of the live half) in the input channels of their ``first``
    kernels that multiply ``prev_step``: ours has no such weights, theirs has them at random values;
    they must change nothing, since ``prev_step`` is zero."""
    rng = np.random.default_rng(seed)
    for gate in "grc":
        kernel = weights[f"{FIRST}/{gate}/CvK"]
        kernel[:, :, :maps] = rng.normal(0.0, kernel[:, :, maps:].std(), kernel[:, :, :maps].shape)


def cgru_case(name: str, tape: bool, seed: int, batch=2, length=7, height=4, maps=8) -> Case:
    """(a) One CGRU layer: ``CGRU.forward`` (the equations) and ``cgru_step`` (what the models run)."""
    import torch
    import torch.nn.functional as F
    from activemem.models.cgru import CGRU, cgru_step

    torch.manual_seed(seed)
    cell = CGRU(maps, tape=tape)
    perturb(cell, seed)
    g = torch.Generator().manual_seed(seed + 1)
    mem = torch.randn(batch, length, height, maps, generator=g)                # their NHWC
    p = torch.randn(batch, length, height, maps, generator=g) if tape else None
    s = mem.permute(0, 3, 1, 2)                                                # ours [B, M, W, H]
    pt = p.permute(0, 3, 1, 2) if tape else None
    with torch.no_grad():
        ref = cell(s, pt)
        k = cell.state_kernels()
        if tape:
            w = torch.cat([cell.gates.weight[:, :maps], cell.candidate.weight[:, :maps]])
            pre = F.conv2d(pt, w, padding=cell.padding)                        # [W';W'';W] * p
            fast = cgru_step(s, k, pre[:, :2 * maps], pre[:, 2 * maps:])
        else:
            fast = cgru_step(s, k)
    spec = {"name": name, "kind": "cgru", "nmaps": maps, "kw": 3, "kh": 3, "cutoff": 1.2,
            "batch": batch, "length": length, "height": height}
    inputs = {"mem": mem.numpy()} | ({"tape": p.numpy()} if tape else {})
    return Case(name, "cgru", spec, export(numpy_params(cell), name_map("cgru", maps, 1)), inputs,
                {"forward": ref.permute(0, 2, 3, 1).numpy(), "cgru_step": fast.permute(0, 2, 3, 1).numpy()},
                component="CGRU^d, tape as extra input (a)" if tape else "CGRU, one layer (a)")


def toy_batch(batch: int, length: int, vocab: int, seed: int):
    """Sources of lengths ``length, …`` and targets ``tokens + EOS + PAD`` of decreasing lengths,
    all padded to the one width ``length`` their code uses for both."""
    from activemem.tokens import EOS, RESERVED

    rng = np.random.default_rng(seed)
    src = np.zeros((batch, length), np.int64)
    tgt = np.zeros((batch, length), np.int64)
    for b in range(batch):
        n_src = max(1, length - 2 * b - (b > 0))
        n_tgt = max(1, length - 1 - 3 * b)                   # tokens before EOS
        src[b, :n_src] = rng.integers(RESERVED, vocab, n_src)
        tgt[b, :n_tgt] = rng.integers(RESERVED, vocab, n_tgt)
        tgt[b, n_tgt] = EOS
    return src, tgt


def model_case(name: str, model_name: str, *, seed: int, batch=3, length=7, height=4, maps=8, vocab=13,
               layers=2, mirror=False, first=True, pad_row="zero", component="", note="") -> Case:
    """(b)–(d): a whole model and its loss.

    ``first``: our model with the authors' ``first`` CGRU (``first_cgru``, the default), its values
    theirs (their kernels' half on the zero ``prev_step`` at random values of its own); or without it
    (``False``), their ``first`` then at random values: the difference the layer makes.
    ``pad_row``: their target embedding's PAD row zero like ours (``"zero"``) or random like their init.
    """
    import torch
    from activemem import models
    from activemem.tokens import BOS
    from activemem.train.loss import smoothed_loss
    from activemem.train.nll import token_nll

    torch.manual_seed(seed)
    model = models.build(model_name, vocab_size=vocab, maps=maps, height=height, layers=layers, dropout=0.0,
                         first_cgru=first)
    perturb(model, seed)
    model.eval()
    src_np, tgt_np = toy_batch(batch, length, vocab, seed)
    src, tgt = torch.from_numpy(src_np), torch.from_numpy(tgt_np)
    tgt_in = torch.cat([torch.full((batch, 1), BOS), tgt[:, :-1]], dim=1)     # the gold previous output
    with torch.no_grad():
        logits = model(src, tgt_in, width=length)                             # [B, L, V]
        s_fin = model.encoder(src, length)                                    # [B, M, L, H]
        nll, n = token_nll(logits, tgt)
        ours = {"logits": logits.numpy(),
                "final_state": s_fin.permute(0, 2, 3, 1).numpy(),             # their [B, L, h, m]
                "nll": float(nll) / int(n),
                "loss": float(smoothed_loss(logits, tgt, matching_smoothing(vocab))) + smoothing_constant(vocab),
                "loss_our_smoothing": float(smoothed_loss(logits, tgt, SMOOTHING)) + smoothing_constant(vocab)}
        if model_name == "neural_gpu":                                        # our read-out on any row
            ours["logits_by_row"] = np.stack([model.output(s_fin[:, :, :, r].transpose(1, 2)).numpy()
                                              for r in range(height)])
    # The gradient of the training loss, in training mode (dropout 0, sampling 0 as on their side).
    model.train()
    smoothed_loss(model(src, tgt_in, width=length), tgt, matching_smoothing(vocab)).backward()
    grads = {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}
    entries = [e for e in name_map(model_name, maps, layers, first) if e.ours in grads]
    ours["grads"] = export(grads, entries, mirror)     # 0 on their ``first`` kernels' dead half
    weights = export(numpy_params(model), name_map(model_name, maps, layers, first), mirror)
    if first:
        fill_dead_half(weights, maps, seed + 7)
    else:
        weights |= export(numpy_params(their_first(maps, seed + 7)), cgru_entries(FIRST, "", maps), mirror)
    if pad_row == "random" and "target_embedding" in weights:
        weights["target_embedding"][0] = np.random.default_rng(seed).uniform(-1.7, 1.7, maps)
    inp = np.zeros((batch, height, length), np.int32)
    inp[:, 1 if mirror else 0] = src_np                                       # each row a sequence
    spec = {"name": name, "kind": "model", "nmaps": maps, "vec_size": maps, "vocab": vocab,
            "nconvs": layers, "kw": 3, "kh": 3, "height": height, "cutoff": 1.2,
            "beam_size": 0 if model_name == "neural_gpu" else 1,
            "batch": batch, "length": length, "mirror": mirror}
    return Case(name, "model", spec, weights, {"inp": inp, "tgt": tgt_np[:, None].astype(np.int32)}, ours,
                component=component, note=note, extra={"target": tgt_np})


def build_cases(seed: int = 0, batch: int = 3, length: int = 7, maps: int = 8, vocab: int = 13,
                layers: int = 2) -> list[Case]:
    size = dict(batch=batch, length=length, maps=maps)
    model = dict(size, vocab=vocab, layers=layers)
    return [
        cgru_case("cgru", tape=False, seed=seed, **size),
        cgru_case("cgru_tape", tape=True, seed=seed + 1, **size),
        model_case("ngpu_mirror", "neural_gpu", seed=seed + 2, height=2, mirror=True, **model,
                   component="Neural GPU, `--beam_size=0` (b, d)",
                   note="height 2, kernels mirrored, source in their row 1 (their row 1 = our row 0)"),
        model_case("ngpu", "neural_gpu", seed=seed + 3, component="Neural GPU, `--beam_size=0` (b)", **model),
        model_case("engpu", "extended_neural_gpu", seed=seed + 4, **model,
                   component="Extended Neural GPU, teacher-forced (c, d)"),
        model_case("engpu_pad_row", "extended_neural_gpu", seed=seed + 4, pad_row="random", **model,
                   component="Extended NGPU, their target PAD row random"),
        model_case("engpu_no_first", "extended_neural_gpu", seed=seed + 4, first=False, **model,
                   component="Extended NGPU, ours with `first_cgru=False`"),
    ]


def compare(case: Case, got: dict) -> list[Row]:
    """The table rows of one case, from what their graph computed (``got``)."""
    sizes = sizes_text(case.spec)
    if case.kind == "cgru":
        return [Row(case.component, sizes, "output, `CGRU.forward`", max_abs(case.ours["forward"], got["out"])),
                Row(case.component, sizes, "output, `cgru_step` (fast path)",
                    max_abs(case.ours["cgru_step"], got["out"]))]
    ours, target = case.ours, case.extra["target"]
    dloss, dnll = abs(ours["loss"] - float(got["total_loss"])), abs(ours["nll"] - float(got["nll"]))
    state = got["final_state"][:, :, ::-1] if case.spec["mirror"] else got["final_state"]
    name = case.name
    grad_delta, grad_scale = gradient_delta(ours["grads"], got)
    grad_row = Row(case.component, sizes, f"gradients of the loss (largest \\|grad\\| {grad_scale:.1g})", grad_delta)
    if name == "ngpu_mirror":
        grad_row.sizes += " (mirrored)"
        return [Row(case.component, sizes + " (mirrored)", "logits, loss", max_abs(ours["logits"], got["logits"]),
                    dloss, dnll), grad_row,
                Row(case.component, sizes + " (mirrored)", "final memory, all rows", max_abs(ours["final_state"], state))]
    if name == "ngpu":
        return [Row(case.component, sizes, "final memory, all rows", max_abs(ours["final_state"], state)),
                Row(case.component, sizes, "their logits vs our read-out of row 1",
                    max_abs(ours["logits_by_row"][1], got["logits"]), dloss=None, dnll=None),
                Row(case.component, sizes, "their logits (row 1) vs our forward (row 0)",
                    max_abs(ours["logits"], got["logits"]), dloss, dnll, expect="differ",
                    why="we read row 0, where the source is")]
    on_target = target > 0
    if name == "engpu":
        return [Row(case.component, sizes, "logits (every position), loss", max_abs(ours["logits"], got["logits"]),
                    dloss, dnll), grad_row,
                Row(case.component, sizes, "final encoder memory", max_abs(ours["final_state"], state)),
                Row("loss with our smoothing (0.1 over V classes)", sizes, "smoothed loss",
                    abs(ours["loss_our_smoothing"] - float(got["total_loss"])), expect="differ",
                    why="ε/V on every class, theirs 0.1/(V−1) off target")]
    if name == "engpu_pad_row":
        return [Row(case.component, sizes, "logits where target > 0, loss",
                    max_abs(ours["logits"][on_target], got["logits"][on_target]), dloss, dnll),
                Row(case.component, sizes, "logits, every position", max_abs(ours["logits"], got["logits"]),
                    expect="differ", why="only after EOS, where the loss has weight 0")]
    if name == "engpu_no_first":
        return [Row(case.component, sizes, "logits, loss", max_abs(ours["logits"], got["logits"]), dloss, dnll,
                    expect="differ", why="their encoder's `first` CGRU is left out of ours")]
    return [Row(case.component, sizes, "logits, loss", max_abs(ours["logits"], got["logits"]), dloss, dnll)]


def gradient_delta(ours: dict[str, np.ndarray], got: dict) -> tuple[float, float]:
    """Largest difference between our gradients (in their layout) and theirs, and the largest
    gradient. Row 0 (PAD) of their input embedding is left out: their graph re-zeroes that row
    before every lookup, so the gradient it receives there is never used; ours is 0 (``padding_idx``)."""
    delta, scale = 0.0, 0.0
    for name, grad in ours.items():
        theirs = got[f"grad:{name}"]
        if name == "embedding":
            grad, theirs = grad[1:], theirs[1:]
        delta = max(delta, max_abs(grad, theirs))
        scale = max(scale, float(np.abs(theirs).max()))
    return delta, scale


def run_theirs(cases: list[Case], authors_code: Path, tf_python: str, workdir: Path) -> tuple[dict, dict]:
    """Write the request, run their graph with ``tf_python``, read back what it computed."""
    specs = []
    for case in cases:
        np.savez(workdir / f"{case.name}.npz", **{f"w:{k}": v for k, v in case.weights.items()},
                 **{f"x:{k}": v for k, v in case.inputs.items()})
        specs.append(case.spec)
    (workdir / "cases.json").write_text(json.dumps(specs))
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
    done = subprocess.run([tf_python, str(HERE / "authors_code_tf.py"), "--authors-code", str(authors_code),
                           "--request", str(workdir)], env=env)
    if done.returncode:
        raise SystemExit(f"their graph did not run with {tf_python} (exit {done.returncode}, see above); it "
                         "needs TensorFlow 2, numpy and six (docs/authors-code-comparison.md §1)")
    got = {}
    for case in cases:
        with np.load(workdir / f"{case.name}.out.npz") as data:
            got[case.name] = {k: data[k] for k in data.files}
    return got, json.loads((workdir / "authors.json").read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors-code", type=Path, required=True,
                        help="your checkout of tensorflow/models research/neural_gpu (holds neural_gpu.py)")
    parser.add_argument("--tf-python", default=sys.executable,
                        help="a Python with TensorFlow 2 and numpy (default: this one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--length", type=int, default=7, help="L, the one width of source, target and memory")
    parser.add_argument("--maps", type=int, default=8, help="m (= vec_size)")
    parser.add_argument("--vocab", type=int, default=13)
    parser.add_argument("--layers", type=int, default=2, help="CGRUs per step (their nconvs)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument("--keep", type=Path, help="keep the exchanged .npz files in this folder")
    args = parser.parse_args(argv)
    if not (args.authors_code / "neural_gpu.py").is_file():
        parser.error(f"--authors-code: no neural_gpu.py in {args.authors_code}")

    import torch
    torch.set_num_threads(1)
    cases = build_cases(args.seed, args.batch, args.length, args.maps, args.vocab, args.layers)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        got, identity = run_theirs(cases, args.authors_code, args.tf_python, workdir)
    rows = [row for case in cases for row in compare(case, got[case.name])]
    print(f"authors' neural_gpu.py: git blob {identity['git_blob']}, sha256 {identity['sha256'][:16]}…, "
          f"commit {identity['git_commit'] or 'unknown (not a git checkout)'}; TensorFlow {identity['tensorflow']}, "
          f"torch {torch.__version__}; float32, seed {args.seed}\n")
    print(table(rows, args.tolerance))
    notes = [f"- {c.component}: {c.note}" for c in cases if c.note]
    if notes:
        print("\n" + "\n".join(notes))
    return 1 if any(r.failed(args.tolerance) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
