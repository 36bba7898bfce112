"""The benchmark scripts on their real code paths at toy sizes: `models.py --preset` (the paper preset's
cost table) and `gpu_check.py` (the one command for a lent GPU, without one)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from activemem.config import load_params
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
    with pytest.raises(SystemExit, match="smoke.models.transfomer"):
        module.main(["--preset", "smoke", "--params", str(REPO / "params.yaml"), "--models", "transfomer"])


# ---- benchmarks/gpu_check.py: the one command for a lent GPU, checked where it can be without one ----
@pytest.fixture(scope="module")
def gpu_check():
    return load("gpu_check", "gpu_check.py")


def test_gpu_check_without_cuda_says_why_and_fails(tmp_path):
    """Asked to check a GPU where there is none, the check names torch's CUDA build and the driver and
    exits 1 (it used to exit 0: a script that checked nothing looked like a passed check)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}          # no GPU even where one is installed
    run = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 1, run.stderr
    line = run.stderr.splitlines()[0]
    assert line.startswith("gpu_check: No usable CUDA device, so nothing was checked: CUDA is not usable: ")
    assert f"torch {torch.__version__} is" in line
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["cuda"] is False and report["torch"] == torch.__version__
    assert "No usable CUDA device" in (tmp_path / "gpu_check.md").read_text()


def test_the_torchrun_part_trains_every_model(gpu_check, tmp_path, monkeypatch):
    """Each model of the smoke scale is trained by two ranks (each its own train stage handed to
    torchrun), not only the first: every run's command is recorded here, the summaries are faked."""
    ran = []

    def run_logged(cmd, log, timeout, cwd=None, env=None):
        ran.append(cmd)
        if "activemem.stages.train" in cmd:
            out = Path(cmd[cmd.index("--out") + 1])
            out.mkdir(parents=True)
            (out / "summary.json").write_text(json.dumps({"world_size": 2, "device": "cpu", "steps": 6,
                                                          "final_dev_perplexity": 9.0}))
        return {"status": "ok", "rc": 0, "seconds": 1.0, "log": str(log)}

    monkeypatch.setattr(gpu_check, "run_logged", run_logged)
    check = gpu_check.Check(gpu_check.argparse.Namespace(
        out=str(tmp_path / "out"), params=str(REPO / "params.yaml"), budget_min=9.0, device="cpu", warmup=0,
        steps=1, models=None, keep_workspace=False, peak_tflops=None))
    check.device()                 # always reported first (a CPU rehearsal's)
    try:
        check.torchrun()
    finally:
        if check.workspace is not None:
            gpu_check.shutil.rmtree(check.workspace, ignore_errors=True)
    trained = [cmd[cmd.index("--model") + 1] for cmd in ran if "activemem.stages.train" in cmd]
    assert trained == load_params(REPO / "params.yaml", "smoke")["model_names"]
    part = check.report["parts"][-1]
    assert part["part"] == "torchrun" and part["status"] == "ok" and sorted(part["models"]) == sorted(trained)


@pytest.mark.parametrize("name,label,tflops", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 989), ("NVIDIA H100 PCIe", "H100 PCIe", 756),
    ("NVIDIA H100 NVL", "H100 NVL", 835), ("NVIDIA H200", "H200 SXM", 989), ("NVIDIA H200 NVL", "H200 NVL", 835),
    ("NVIDIA GH200 480GB", "GH200", 989), ("NVIDIA A100-SXM4-80GB", "A100", 312),
    ("NVIDIA A100 80GB PCIe", "A100", 312), ("Tesla V100-SXM2-16GB", None, None),
    ("NVIDIA GeForce RTX 4090", None, None), ("NVIDIA RTX A1000", None, None)])
def test_peak_lookup_by_device_name(gpu_check, name, label, tflops):
    peak = gpu_check.lookup_peak(name)
    if label is None:
        assert peak is None
    else:
        assert (peak["name"], peak["tflops"]) == (label, tflops) and "data sheet" in peak["source"]


def fake_report(peak_tflops):
    shape = {"scale": "paper", "vocab": 32768, "width": 28, "batch": 37, "global_batch": 146, "gpus": 4,
             "max_steps": 10, "clip_norm": 4.0, "label_smoothing": 0.1, "sampling": 0.0, "bf16": True,
             "autocast": True}
    device = {"name": "NVIDIA H200", "count": 1, "memory_gib": 139.8, "capability": "9.0", "torch": "2.x",
              "cuda": "12.8", "cudnn": 91000, "driver": "570"}
    rows = [{"model": "neural_gpu", "compile": False, "batch": 37, "checkpointing": "on", "status": "ok",
             "warmup_s": 3.0, "step_s": 0.2, "flops": 98.9e12, "peak_bytes": 3 * 2**30, "detail": ""},
            {"model": "neural_gpu", "compile": True, "batch": 37, "checkpointing": "on", "status": "timeout",
             "detail": "stopped after 90 s"}]
    return {"cuda": True, "device": device, "peak": {"name": "H200 SXM", "tflops": peak_tflops, "source": "x"}
            if peak_tflops else None, "budget_s": 570, "elapsed_s": 300, "warmup": 3, "timed": 10,
            "preset": shape, "parts": [{"part": "steps", "status": "ok", "seconds": 12.0, "detail": "neural_gpu ok"}],
            "steps": rows}


def step_table(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = next(i for i, line in enumerate(lines) if line.startswith("| model"))
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]     # noqa: E731
    return [dict(zip(cells(lines[header]), cells(line))) for line in lines[header + 1:]]


def test_share_of_peak_and_the_report_table(gpu_check, tmp_path):
    # 98.9 TFLOP in 0.2 s is 494.5 TFLOP/s: half of a 989 TFLOP/s peak
    assert gpu_check.throughput(98.9e12, 0.2, 989.0) == pytest.approx((494.5, 0.5))
    assert gpu_check.throughput(98.9e12, 0.2, None) == (pytest.approx(494.5), None)
    assert gpu_check.throughput(None, 0.2, 989.0) == (None, None)
    report = fake_report(989.0)
    report["steps"][0]["tflops"], report["steps"][0]["share"] = gpu_check.throughput(98.9e12, 0.2, 989.0)
    gpu_check.save(report, tmp_path)
    assert json.loads((tmp_path / "gpu_check.json").read_text()) == report
    text = (tmp_path / "gpu_check.md").read_text()
    eager, compiled = step_table(text)
    assert eager == {"model": "`neural_gpu`", "act. checkpointing": "on", "compile": "off", "batch": "37",
                     "warm-up s": "3.0", "s/step": "0.2", "GFLOP/step": "98,900", "TFLOP/s": "494",
                     "% of peak": "50.0", "peak GiB": "3.0", "status": "ok"}
    assert compiled["status"] == "timeout" and compiled["s/step"] == compiled["% of peak"] == "–"
    assert "Peak: 989 TFLOP/s dense bf16 (H200 SXM" in text and "| steps | ok | 12.0 |" in text
    assert "Peak: unknown" in gpu_check.markdown(fake_report(None))


def test_the_workspace_runs_the_smoke_scale_on_cuda_without_touching_params_yaml(gpu_check, tmp_path):
    before = (REPO / "params.yaml").read_bytes()
    smoke = gpu_check.workspace_params(REPO / "params.yaml", tmp_path / "params.yaml", "cuda", gpus=2)
    assert (REPO / "params.yaml").read_bytes() == before
    assert (smoke["scale"], smoke["train"]["device"], smoke["train"]["bf16"], smoke["train"]["gpus"]) == \
        ("smoke", "cuda", True, 2)
    mine = load_params(REPO / "params.yaml", "smoke")
    assert {k: v for k, v in smoke["train"].items() if k not in ("device", "bf16", "gpus")} == \
        {k: v for k, v in mine["train"].items() if k not in ("device", "bf16", "gpus")}
    for scale in ("demo", "paper"):                        # the other scales are the user's
        assert {**load_params(tmp_path / "params.yaml", scale), "path": ""} == \
            {**load_params(REPO / "params.yaml", scale), "path": ""}


def test_a_part_is_stopped_at_its_timeout_with_all_it_started(gpu_check, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "MIN_START_S", 0)
    child = ("import subprocess, sys, time\n"
             "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
             "print(p.pid, flush=True)\n"
             "time.sleep(60)\n")
    start = time.monotonic()
    result = gpu_check.run_logged([sys.executable, "-c", child], tmp_path / "log", timeout=3)
    assert result["status"] == "timeout" and time.monotonic() - start < 20
    grandchild = int((tmp_path / "log").read_text().split()[0])
    for _ in range(50):                                    # the signal takes a moment to land
        try:
            state = Path(f"/proc/{grandchild}/stat").read_text().split()[2]
        except FileNotFoundError:
            state = "gone"
        if state in ("gone", "Z"):                         # stopped with its parent (a zombie is dead)
            break
        time.sleep(0.1)
    assert state in ("gone", "Z"), state
    monkeypatch.setattr(gpu_check, "MIN_START_S", 15)
    exit_3 = [sys.executable, "-c", "raise SystemExit(3)"]
    assert gpu_check.run_logged(exit_3, tmp_path / "log2", timeout=10)["status"] == "skipped"   # too little time
    failed = gpu_check.run_logged(exit_3, tmp_path / "log3", timeout=60)
    assert (failed["status"], failed["rc"]) == ("failed", 3) and failed["detail"].startswith("exit status 3")


def test_the_steps_part_rehearsed_on_cpu(gpu_check, tmp_path):
    """The steps part as it runs on the GPU day (its worker process, the FLOP count, the reports), on
    the CPU at the smoke scale's sizes, with a made-up peak so that the share is computed."""
    code = gpu_check.main(["--device", "cpu", "--parts", "steps", "--preset", "smoke", "--models", "neural_gpu",
                           "--warmup", "1", "--steps", "2", "--batch", "2", "--peak-tflops", "0.001",
                           "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    (row,) = report["steps"]
    assert row["status"] == "ok" and row["flops"] > 0 and row["step_s"] > 0
    assert row["batch"] == report["preset"]["batch"] == 2
    assert row["share"] == pytest.approx(row["flops"] / row["step_s"] / 1e12 / 0.001)
    assert [p["part"] for p in report["parts"]] == ["device", "steps"] and report["finished"]
    assert step_table((tmp_path / "gpu_check.md").read_text())[0]["status"] == "ok"


def test_a_compiled_step_is_measured(gpu_check):
    """The compile part's worker, in-process; ``aot_eager`` traces as inductor does without code generation."""
    params = fake_preset()
    shape = gpu_check.paper_cost.preset_shape(params)
    spec = {"name": "neural_gpu", "hparams": params["models"]["neural_gpu"], "shape": dataclasses.asdict(shape),
            "batch": 2, "device": "cpu", "compile": True, "backend": "aot_eager", "warmup": 1, "steps": 1,
            "count_flops": True}
    torch._dynamo.reset()
    r = gpu_check.measure_step(spec)
    assert r["step_s"] > 0 and r["warmup_s"] > 0 and r["peak_bytes"] is None
    # the FLOPs of the measured batch (2), counted at paper_cost.COUNT_BATCH sentences and scaled
    one = gpu_check.paper_cost.count_flops(gpu_check.paper_cost._build("neural_gpu", spec["hparams"], shape), shape, 1)
    assert r["flops"] == pytest.approx(2 * one, rel=0.01)
