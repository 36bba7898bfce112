"""Our side of ``benchmarks/authors_code.py`` (the comparison with the authors' TensorFlow code),
without TensorFlow and without the authors' code: the name map covers every parameter of our models
exactly once with the shapes their graph has, the layouts convert both ways, and the table flags a
difference above the tolerance."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import torch

from activemem import models
from conftest import REPO

MAPS, LAYERS, VOCAB = 8, 2, 13


@pytest.fixture(scope="module")
def harness():
    path = REPO / "benchmarks" / "authors_code.py"
    spec = importlib.util.spec_from_file_location("authors_code", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["authors_code"] = module         # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("authors_code", None)


def our_model(name: str, height: int = 4, first_cgru: bool = True):
    torch.manual_seed(0)
    return models.build(name, vocab_size=VOCAB, maps=MAPS, height=height, layers=LAYERS, dropout=0.0,
                        first_cgru=first_cgru)


def shapes(module) -> dict:
    return {n: tuple(p.shape) for n, p in module.named_parameters()}


@pytest.mark.parametrize("name", ["neural_gpu", "extended_neural_gpu"])
@pytest.mark.parametrize("first", [True, False])
def test_name_map_covers_every_parameter_once(harness, name, first):
    model = our_model(name, first_cgru=first)
    entries = harness.name_map(name, MAPS, LAYERS, first)
    assert harness.coverage_problems(shapes(model), entries) == []
    # and every one of their variables; without our ``first_cgru``, all but their ``first`` CGRU
    theirs = harness.their_shapes(name, MAPS, LAYERS, VOCAB)
    expected = {n for n in theirs if first or not n.startswith(harness.FIRST + "/")}
    assert {e.theirs for e in entries} == expected


def test_our_first_cgru_is_the_state_half_of_theirs(harness):
    """Their ``first`` kernels see ``concat(prev_step, memory)``: ours lands in input channels
    ``M..2M−1`` and the ``prev_step`` half is exported as zeros (the cases fill it at random); back
    from theirs, only the state half is read."""
    model = our_model("neural_gpu")
    params = harness.numpy_params(model)
    entries = harness.first_entries(MAPS)
    out = harness.export(params, entries)
    w = params["encoder.first.gates.weight"]
    kernel = out["first/g/CvK"]
    assert kernel.shape == (3, 3, 2 * MAPS, MAPS)
    assert not kernel[:, :, :MAPS].any()
    assert kernel[2, 0, MAPS + 5, 1] == w[1, 5, 2, 0]
    assert out["first/r/CvK"][0, 1, MAPS + 3, 4] == w[MAPS + 4, 3, 0, 1]
    harness.fill_dead_half(out, MAPS, seed=0)
    assert out["first/c/CvK"][:, :, :MAPS].std() > 0
    for e in entries:
        ours = params[e.ours] if e.rows is None else params[e.ours][e.rows[0]:e.rows[1]]
        np.testing.assert_array_equal(harness.from_theirs(out[e.theirs], e), ours)


@pytest.mark.parametrize("tape", [False, True])
def test_cgru_map_covers_the_cell(harness, tape):
    from activemem.models.cgru import CGRU

    entries = harness.name_map("cgru", MAPS, 1)
    assert harness.coverage_problems(shapes(CGRU(MAPS, tape=tape)), entries) == []


def test_coverage_flags_a_missing_or_doubled_parameter(harness):
    model = our_model("extended_neural_gpu")
    entries = harness.name_map("extended_neural_gpu", MAPS, LAYERS)
    without_reset = [e for e in entries if e.theirs != "dcgru_1/r/CvK"]
    problems = harness.coverage_problems(shapes(model), without_reset)
    assert any("decoder.layers.1.gates.weight" in p for p in problems)
    doubled = entries + [harness.Entry("ecgru_0/g/CvB", "encoder.steps.layers.0.gates.bias", rows=(0, MAPS))]
    assert any("mapped twice" in p for p in harness.coverage_problems(shapes(model), doubled))
    wrong = entries + [harness.Entry("extra", "no.such.parameter")]
    assert any("no parameter" in p for p in harness.coverage_problems(shapes(model), wrong))


@pytest.mark.parametrize("name", ["neural_gpu", "extended_neural_gpu"])
@pytest.mark.parametrize("mirror", [False, True])
def test_export_has_their_shapes_and_converts_back(harness, name, mirror):
    model = our_model(name, height=2 if mirror else 4)
    params = harness.numpy_params(model)
    entries = harness.name_map(name, MAPS, LAYERS)
    exported = harness.export(params, entries, mirror)
    theirs = harness.their_shapes(name, MAPS, LAYERS, VOCAB)
    for key, value in exported.items():
        assert value.shape == theirs[key], key
        assert value.dtype == np.float32
    for e in entries:                                     # back to ours: the same numbers
        back = harness.from_theirs(exported[e.theirs], e, mirror)
        ours = params[e.ours] if e.rows is None else params[e.ours][e.rows[0]:e.rows[1]]
        np.testing.assert_array_equal(back, ours)


def test_gate_halves_and_kernel_orientation(harness):
    """Their ``g`` is our update gate (first half), ``r`` the reset gate; ``CvK[i, j, a, b]`` is our
    ``weight[b, a, i, j]`` (i along the width, j along the height), and mirroring flips j."""
    from activemem.models.cgru import CGRU

    cell = CGRU(MAPS)
    with torch.no_grad():
        cell.gates.weight.copy_(torch.arange(cell.gates.weight.numel(), dtype=torch.float32).view_as(cell.gates.weight))
        cell.gates.bias.copy_(torch.arange(2 * MAPS, dtype=torch.float32))
    params = harness.numpy_params(cell)
    entries = harness.name_map("cgru", MAPS, 1)
    out = harness.export(params, entries)
    w = params["gates.weight"]
    assert out["cell/g/CvK"][2, 0, 5, 1] == w[1, 5, 2, 0]
    assert out["cell/r/CvK"][0, 1, 3, 4] == w[MAPS + 4, 3, 0, 1]
    np.testing.assert_array_equal(out["cell/g/CvB"], np.arange(MAPS))
    np.testing.assert_array_equal(out["cell/r/CvB"], np.arange(MAPS, 2 * MAPS))
    mirrored = harness.export(params, entries, mirror=True)
    assert mirrored["cell/g/CvK"][2, 0, 5, 1] == w[1, 5, 2, 2]


def test_table_flags_a_difference_above_tolerance(harness):
    ok = harness.Row("x", "B=1", "logits", 3e-7, 1e-7, 2e-7)
    logits_off = harness.Row("x", "B=1", "logits", 2e-5, 1e-7, 2e-7)
    loss_off = harness.Row("x", "B=1", "logits", 3e-7, 1e-7, 5e-4)
    nan = harness.Row("x", "B=1", "logits", float("nan"))
    expected = harness.Row("x", "B=1", "logits", 0.3, expect="differ", why="row 1")
    assert not ok.failed() and ok.verdict() == "match"
    for row in (logits_off, loss_off, nan):
        assert row.failed() and "DIFFERS" in row.verdict()
    assert not expected.failed() and expected.verdict().startswith("differs, as expected")
    text = harness.table([ok, logits_off, expected])
    assert text.count("\n") == 4 and "**DIFFERS**" in text and "2.0e-05" in text


def test_loss_constants(harness):
    """The smoothing that makes torch's targets theirs, and their added constant, checked by hand."""
    v = 13
    eps = harness.matching_smoothing(v)
    on, off = 1 - eps + eps / v, eps / v
    assert on == pytest.approx(0.9) and off == pytest.approx(0.1 / (v - 1))
    entropy = -(0.9 * np.log(0.9) + (v - 1) * off * np.log(off))
    assert harness.smoothing_constant(v) == pytest.approx(-entropy)
    # our loss with that smoothing plus their constant is the KL divergence to their targets
    from activemem.train.loss import smoothed_loss

    logits = torch.randn(1, 4, v)
    target = torch.tensor([[5, 6, 2, 0]])
    targets = np.full((3, v), off)
    targets[np.arange(3), [5, 6, 2]] = 0.9
    logp = torch.log_softmax(logits[0, :3], -1).numpy()
    kl = float(np.mean(np.sum(targets * (np.log(targets) - logp), axis=1)))
    assert float(smoothed_loss(logits, target, eps)) + harness.smoothing_constant(v) == pytest.approx(kl, abs=1e-5)


def test_cases_build_without_tensorflow(harness):
    """The cases' requests are complete: every one of their variables gets a value of its shape."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)             # tiny kernels: a second thread only spins on a busy machine
    try:
        cases = harness.build_cases(0, batch=2, length=5, maps=4, vocab=9)
    finally:
        torch.set_num_threads(threads)
    for case in cases:
        if case.kind == "cgru":
            continue
        model = "neural_gpu" if case.spec["beam_size"] == 0 else "extended_neural_gpu"
        expected = harness.their_shapes(model, 4, 2, 9)
        assert {k: v.shape for k, v in case.weights.items()} == expected, case.name
        assert case.inputs["inp"].shape == (2, case.spec["height"], 5)
        assert case.inputs["tgt"].shape == (2, 1, 5)
        assert case.ours["logits"].shape == (2, 5, 9)
