"""``benchmarks/models.py --preset``: the paper preset's cost table, on the same code path at toy sizes."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from conftest import REPO

BENCHMARKS = REPO / "benchmarks"


def load(name: str, filename: str):
    """A benchmark script as a module, imported as when it runs (its directory on ``sys.path``, so
    its siblings import)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module               # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Toy steps are thousands of tiny kernels: a second thread only spins (10× slower on a busy
    2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def paper_cost():
    return load("paper_cost", "paper_cost.py")


def fake_preset(big_maps=8) -> dict:
    """A preset shaped like params.yaml's paper block, small enough for milliseconds per step."""
    return {
        "scale": "toy", "path": "fake.yaml",
        "model_names": ["neural_gpu", "extended_neural_gpu", "gru_attention"],
        "prepare": {"vocab_size": 40},
        "train": {"gpus": 2, "batch_tokens": 40, "buckets": [3, 4, 6], "max_steps": 1000,
                  "clip_norm": 4.0, "label_smoothing": 0.1, "bf16": True,
                  "sampling": {"max_rate": 0.1, "start_rate": 0.05, "double_every": 10}},
        "models": {
            "neural_gpu": {"maps": 4, "height": 2, "checkpoint_steps": True},
            "extended_neural_gpu": {"maps": big_maps, "height": 1, "checkpoint_steps": True},
            "gru_attention": {"embedding_dim": 4, "hidden": 4, "attention_dim": 4},
        },
    }


def test_shape_is_one_gpus_share_of_the_global_batch(paper_cost):
    shape = paper_cost.preset_shape(fake_preset())
    assert shape.width == 4                       # the median bucket
    assert shape.global_batch == 40 // 4 == 10    # the batcher's sentences per bucket of width 4
    assert shape.batch == 5 and shape.gpus == 2   # each GPU takes half
    assert shape.sampling == 0.05                 # the trainer's rate at step 0
    assert paper_cost.preset_shape(fake_preset(), width=3).batch == 7   # ⌈13 / 2⌉: the busiest GPU


def test_flops_are_linear_in_the_batch(paper_cost):
    """The table scales FLOPs counted at a small batch to the full one. Every operation is per
    sentence except the Extended Neural GPU's tape kernel, built from the weights once per step: a
    constant that is under 1% of these toy steps and about 1e-5 of a paper-sized one."""
    shape = paper_cost.preset_shape(fake_preset())
    for name, hparams, _ in paper_cost.variants(fake_preset()):
        one = paper_cost.count_flops(paper_cost._build(name, hparams, shape), shape, 1)
        two = paper_cost.count_flops(paper_cost._build(name, hparams, shape), shape, 2)
        assert one > 0 and two == pytest.approx(2 * one, rel=0.01), name


def test_table_prices_every_model_and_both_checkpoint_settings(paper_cost):
    params = fake_preset()
    shape = paper_cost.preset_shape(params)
    results = paper_cost.rows(params, shape, batch=2, device="cpu", tflops=100.0, utilisation=0.5,
                              isolate=False)
    runs = [(r["model"], r["checkpointing"]) for r in results]
    assert runs == [("neural_gpu", "on (preset)"), ("neural_gpu", "off"),
                    ("extended_neural_gpu", "on (preset)"), ("extended_neural_gpu", "off"),
                    ("gru_attention", "n/a")]
    by = {run: r for run, r in zip(runs, results)}
    for r in results:
        assert r["flops"] > 0 and r["batch"] == 2 and r["scaled"]
        assert r["flops_full"] == pytest.approx(r["flops"] * 5 / 2)
        # max_steps × FLOPs / (100 TFLOP/s × 50%), in hours; the two GPUs work in parallel
        assert r["hours"] == pytest.approx(1000 * r["flops_full"] / 50e12 / 3600)
        assert r["gpu_hours"] == pytest.approx(2 * r["hours"])
    # checkpointing recomputes the forward during backward: more FLOPs, never fewer
    for name in ("neural_gpu", "extended_neural_gpu"):
        assert by[(name, "on (preset)")]["flops"] > by[(name, "off")]["flops"]
    # the bigger model costs more
    assert by[("extended_neural_gpu", "off")]["flops"] > by[("neural_gpu", "off")]["flops"]

    text = paper_cost.table(results, shape, "cpu", "H100 SXM", 100.0, 0.5)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| model"))
    assert [c.strip() for c in header.strip("|").split("|")] == paper_cost.COLUMNS
    body = [line for line in lines if line.startswith("| `")]
    assert len(body) == 5 and all(line.count("|") == len(paper_cost.COLUMNS) + 1 for line in body)
    assert "2× H100 SXM at 100 TFLOP/s × 50% utilisation" in text
    assert sum(line.startswith("- `") and "activation checkpointing" in line for line in lines) == 2


def test_a_larger_model_costs_more(paper_cost):
    small, large = fake_preset(big_maps=4), fake_preset(big_maps=8)
    flops = []
    for params in (small, large):
        shape = paper_cost.preset_shape(params)
        hparams = params["models"]["extended_neural_gpu"]
        flops.append(paper_cost.count_flops(paper_cost._build("extended_neural_gpu", hparams, shape), shape, 1))
    assert 0 < flops[0] < flops[1]


def test_cli_writes_the_table_and_rejects_an_unknown_preset(tmp_path, capsys):
    """The whole command on the smoke preset, one model in its own process as on the paper run."""
    module = load("bench_models", "models.py")
    out = tmp_path / "cost.md"
    module.main(["--preset", "smoke", "--params", str(REPO / "params.yaml"), "--device", "cpu",
                 "--batch", "2", "--models", "neural_gpu", "--threads", "1", "--out", str(out)])
    text = out.read_text()
    assert text == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "Preset `smoke`" in text
    (row,) = [line for line in text.splitlines() if line.startswith("| `")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "`neural_gpu`" and cells[3] == "2"
    number = lambda cell: float(cell.rstrip(" *").replace(",", ""))     # noqa: E731
    assert number(cells[5]) > 0                                  # peak MiB of its own process
    assert number(cells[7]) > 0                                  # GFLOP per step, scaled: marked
    assert cells[7].endswith("*")
    with pytest.raises(SystemExit, match="no-such-scale"):
        module.main(["--preset", "no-such-scale", "--params", str(REPO / "params.yaml")])
    with pytest.raises(SystemExit, match="smoke.models.transformer"):
        module.main(["--preset", "smoke", "--params", str(REPO / "params.yaml"), "--models", "transformer"])
