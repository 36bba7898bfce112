"""Everything a first session on a GPU should check, in one command that ends within ten minutes.

    python benchmarks/gpu_check.py                  # writes benchmarks/out/gpu_check.json and .md
    python benchmarks/gpu_check.py --peak-tflops 989 --out DIR --budget-min 10 --parts smoke steps

Parts, in this order; each runs in processes of its own, with a timeout, inside one overall budget.
A part that runs out of time is stopped and marked, the others still run, and both reports are
rewritten after every part, so the check always ends and leaves what it measured:

1. ``device``: name, memory, compute capability, number of GPUs, torch/CUDA/cuDNN/driver versions.
2. ``smoke``: the whole smoke DAG, ``snakemake --cores all --config scale=smoke``, in a fresh temporary
   workspace (a copy of Snakefile, pipeline/, src/ and paper/). The smoke scale pins the CPU, so the
   workspace's params.yaml is the user's with ``smoke.train.device: cuda`` and ``bf16: true`` (the
   user's file is not touched); every trained model's summary.json must say it ran on CUDA.
3. ``steps``: one training step of every model of a preset (default ``paper``) at its sizes: the
   per-GPU batch at the median bucket width, as ``paper_cost.py`` prices it, bf16 autocast as the
   preset says. ``--warmup`` steps first (allocator, cuDNN, compilation), timed apart; then
   ``--steps`` steps between two ``torch.cuda.synchronize``. FLOPs are counted as ``paper_cost.py``
   counts them (``FlopCounterMode`` on the CPU at a small batch, scaled: matrix products and
   convolutions only), so the achieved FLOP/s, as a share of the device's dense bf16 peak (``PEAKS``
   or ``--peak-tflops``), is a floor.
4. ``torchrun``: with two or more GPUs, the train stage of every model (``--models``: those) at the smoke
   scale with ``train.gpus: 2`` (the stage hands itself to torchrun, one process per GPU) in the same
   workspace, one model after another; both ranks must finish and each summary.json must say world
   size 2.
5. ``compile``: part 3 again under ``torch.compile`` (the trainer's ``train.compile``), last because
   compiling the unrolled memory steps can take minutes; each model gets its share of what is left.

Exit status: 0 when no part failed (a part stopped by its timeout or skipped for want of budget is
reported, not failed); 1 otherwise. Without a usable CUDA device (none, a CPU-only torch, a driver
older than torch's CUDA) the check says why in one line, writes a JSON saying ``"cuda": false`` and
exits 1: it checked nothing. ``--device cpu`` rehearses the whole check on a CPU (give it
``--preset smoke`` or a small ``--batch``): the numbers mean nothing, the code paths are the GPU day's.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from activemem.config import ParamsError, load_params, model_hparams, read
from activemem.train.device import cuda_problem

import paper_cost  # noqa: E402  (benchmarks/ is the script's directory, so on sys.path)

REPO = Path(__file__).resolve().parents[1]
PARTS = ("smoke", "steps", "torchrun", "compile")

# Dense bf16 tensor-core peaks in TFLOP/s, matched against torch.cuda.get_device_name in this order
# (the first match wins, so the more specific names come first). NVIDIA's data sheets print the bf16
# figure with 2:4 structured sparsity, which doubles it; a dense training step can reach half of that,
# the number below. Any other GPU: pass --peak-tflops.
PEAKS = [
    # (pattern, name, TFLOP/s, source)
    (r"GH200", "GH200", 989.0, "NVIDIA GH200 data sheet: 1,979 with sparsity (a Hopper GPU, as the H100 SXM)"),
    (r"H200.*NVL", "H200 NVL", 835.0, "NVIDIA H200 data sheet: 1,671 with sparsity"),
    (r"H200", "H200 SXM", 989.0, "NVIDIA H200 data sheet: 1,979 with sparsity (the H100 SXM's Hopper die)"),
    (r"H100.*NVL", "H100 NVL", 835.0, "NVIDIA H100 data sheet: 1,671 with sparsity"),
    (r"H100.*PCIe", "H100 PCIe", 756.0, "NVIDIA H100 data sheet: 1,513 with sparsity"),
    (r"H100", "H100 SXM", 989.0, "NVIDIA H100 data sheet: 1,979 with sparsity"),
    (r"A100\b", "A100", 312.0, "NVIDIA A100 data sheet: 312 dense, 624 with sparsity (SXM and PCIe alike)"),
]

# The budget: ten minutes promised; one kept for starting up, stopping the last process (up to 20 s:
# SIGTERM, then SIGKILL) and writing the reports.
BUDGET_MIN = 9.0
# Per process. smoke: the whole DAG took 3 minutes on a busy 2-core CPU; it is launch-bound there as on
# a GPU. steps: CUDA start-up, a FLOP count on the CPU (about 30 s for the paper's Extended Neural GPU on
# 2 cores) and 13 steps. torchrun, per model: two processes start CUDA and NCCL, then 6 smoke steps. compile: inductor
# on the unrolled memory steps; a model that needs longer is reported as stopped, not waited for.
TIMEOUT_S = {"smoke": 300, "steps": 120, "torchrun": 150, "compile": 180}
MIN_START_S = 15         # a process is not started with less budget than this left: it could not finish
WARMUP_STEPS = 3         # untimed steps: allocator, cuDNN's algorithm search, compilation
TIMED_STEPS = 10
LOG_TAIL_LINES = 15      # lines of a failed process's log kept in the JSON


# ---- arithmetic and tables (no device needed) ---------------------------------------------------
def lookup_peak(device_name: str) -> dict | None:
    """The dense bf16 peak of a GPU named as torch names it, or None for a GPU not in ``PEAKS``."""
    for pattern, name, tflops, source in PEAKS:
        if re.search(pattern, device_name):
            return {"name": name, "tflops": tflops, "source": source}
    return None


def throughput(flops: float | None, step_s: float | None, peak_tflops: float | None) -> tuple:
    """Achieved TFLOP/s of a step and its share of the peak (None where a number is missing)."""
    if not flops or not step_s:
        return None, None
    achieved = flops / step_s / 1e12
    return achieved, (achieved / peak_tflops if peak_tflops else None)


def _num(x: float | None) -> str:
    return "–" if x is None else paper_cost._num(x)      # the cost table's readable numbers


def markdown(report: dict) -> str:
    """The Markdown report: the device, each part's outcome, the training-step table."""
    if "reason" in report:          # nothing was checked (no CUDA)
        return f"# GPU check\n\n{report['reason']}\n"
    d, peak = report["device"], report.get("peak")
    lines = ["# GPU check", "",
             f"Device: {d['name']} ×{d['count']}, {d['memory_gib']:.1f} GiB, capability {d['capability']}; "
             f"torch {d['torch']}, CUDA {d['cuda']}, cuDNN {d['cudnn']}, driver {d['driver']}.",
             (f"Peak: {peak['tflops']:g} TFLOP/s dense bf16 ({peak['name']}: {peak['source']})." if peak else
              "Peak: unknown for this device (pass --peak-tflops); no share of peak is given."),
             f"Budget {report['budget_s']:.0f} s, used {report['elapsed_s']:.0f} s.", "",
             "| part | status | seconds | detail |", "|---|---|---:|---|"]
    for part in report["parts"]:
        lines.append(f"| {part['part']} | {part['status']} | {_num(part.get('seconds'))} | "
                     f"{part.get('detail', '')} |")
    if report["steps"]:
        s = report["preset"]
        lines += ["", f"One training step at preset `{s['scale']}` sizes: vocabulary {s['vocab']:,}, width "
                      f"{s['width']}, {s['batch']} sentences (one GPU's share of {s['global_batch']}), bf16 "
                      f"autocast {'on' if s['autocast'] else 'off'}. Warm-up s: {report['warmup']} untimed "
                      f"step(s), compilation included; s/step: the mean of the next {report['timed']}. FLOPs "
                      "count matrix products and convolutions only, so the share of peak is a floor.", "",
                  "| model | act. checkpointing | compile | batch | warm-up s | s/step | GFLOP/step | TFLOP/s "
                  "| % of peak | peak GiB | status |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in report["steps"]:
            lines.append("| " + " | ".join([
                f"`{r['model']}`", r["checkpointing"], "on" if r["compile"] else "off", str(r["batch"]),
                _num(r.get("warmup_s")), _num(r.get("step_s")), _num(r["flops"] / 1e9 if r.get("flops") else None),
                _num(r.get("tflops")), _num(r["share"] * 100 if r.get("share") is not None else None),
                _num(r["peak_bytes"] / 2**30 if r.get("peak_bytes") else None),
                r["status"]]) + " |")
    return "\n".join(lines) + "\n"


def save(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))


# ---- running a part: a process with a timeout -----------------------------------------------------
class Budget:
    """One deadline for the whole check; each process gets its cap or its share of what is left."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.start = time.monotonic()
        self.deadline = self.start + seconds

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def timeout(self, cap: float, runs_left: int = 1) -> float:
        return min(cap, (self.deadline - time.monotonic()) / max(runs_left, 1))


def run_logged(cmd: list[str], log: Path, timeout: float, cwd: Path | None = None, env: dict | None = None) -> dict:
    """Run ``cmd`` with its output in ``log``; stop it and all it started when ``timeout`` runs out."""
    if timeout < MIN_START_S:
        return {"status": "skipped", "seconds": 0.0, "detail": f"not started: {max(timeout, 0):.0f} s of budget left"}
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("w") as f:
        # its own session, so that a timeout stops the whole tree (snakemake's jobs, torchrun's ranks)
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
            status = "ok" if rc == 0 else "failed"
        except subprocess.TimeoutExpired:
            _stop(proc)
            rc, status = None, "timeout"
    result = {"status": status, "rc": rc, "seconds": time.monotonic() - start, "log": str(log)}
    if status != "ok":
        result["tail"] = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        result["detail"] = (f"stopped after {timeout:.0f} s" if status == "timeout"
                            else f"exit status {rc}: {(result['tail'] or ['(no output)'])[-1][:200]}")
    return result


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# ---- the workspace of the smoke DAG and the torchrun part -----------------------------------------
def workspace_params(src: Path, dest: Path, device: str, gpus: int | None = None) -> dict:
    """The user's params file with the smoke scale moved to ``device`` (bf16 on CUDA, as the other
    scales train) and, if given, ``gpus``; checked like any params file before anything runs on it."""
    raw = read(src)
    if not isinstance(raw.get("smoke"), dict):
        raise ParamsError(f"{src}: no 'smoke' scale block, and the check runs the smoke scale")
    raw["scale"] = "smoke"
    train = raw["smoke"].setdefault("train", {})
    if device == "cuda":
        train.update(device="cuda", bf16=True)
    if gpus:
        train["gpus"] = gpus
    dest.write_text(f"# written by benchmarks/gpu_check.py from {src}: smoke.train device {train.get('device')}, "
                    f"bf16 {train.get('bf16')}, gpus {train.get('gpus', 'as before')}\n"
                    + yaml.safe_dump(raw, sort_keys=False))
    return load_params(dest, "smoke")


def make_workspace(dest: Path, params: Path, device: str) -> dict:
    """A clean copy of what the DAG needs (no data, results or caches of the user's checkout)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build")
    for folder in ("pipeline", "src", "paper"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    shutil.copy(REPO / "Snakefile", dest / "Snakefile")
    return workspace_params(params, dest / "params.yaml", device)


def workspace_env(dest: Path) -> dict:
    # the stage commands say `python`: make it this interpreter, running the workspace's copy of the code
    env = {**os.environ, "PYTHONPATH": str(dest / "src"), "PYTHONUNBUFFERED": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def trained_on(dest: Path, scale: str) -> dict[str, str]:
    """``results/<scale>/<model>/seed<k>``: the device each finished training's summary.json names."""
    return {str(p.parent.parent.relative_to(dest / "results" / scale)): json.loads(p.read_text())["device"]
            for p in sorted((dest / "results" / scale).glob("*/seed*/train/summary.json"))}


# ---- one training step, in a process of its own ---------------------------------------------------
def measure_step(spec: dict) -> dict:
    """Warm-up and timed training steps of one model (``spec``: written by ``Check.steps``)."""
    shape = paper_cost.Shape(**spec["shape"])
    device = torch.device(spec["device"])
    model = paper_cost._build(spec["name"], spec["hparams"], shape)
    flops = None
    if spec["count_flops"]:   # as paper_cost.measure does on CUDA: on the CPU at a small batch, scaled
        counted = min(spec["batch"], paper_cost.COUNT_BATCH)
        flops = paper_cost.count_flops(copy.deepcopy(model), shape, counted) * spec["batch"] / counted
    model = model.to(device)
    net = torch.compile(model, backend=spec["backend"]) if spec["compile"] else model
    optimizer = torch.optim.Adam(model.parameters())
    tensors = paper_cost._batch(shape, spec["batch"], device)
    autocast = shape.bf16 and device.type == "cuda"
    cuda = device.type == "cuda"

    def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            paper_cost._trainer_step(net, optimizer, shape, tensors, autocast)
        if cuda:          # kernels run asynchronously: the clock stops when the GPU is done
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    warmup_s = steps(spec["warmup"])
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    step_s = steps(spec["steps"]) / spec["steps"]
    return {"params": model.num_parameters(), "warmup_s": warmup_s, "step_s": step_s, "flops": flops,
            "peak_bytes": torch.cuda.max_memory_allocated(device) if cuda else None}


# ---- the check --------------------------------------------------------------------------------------
class Check:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.logs = self.out / "gpu_check_logs"
        self.budget = Budget(args.budget_min * 60)
        self.workspace: Path | None = None
        self.report = {"cuda": args.device == "cuda", "rehearsal": args.device == "cpu", "device": None,
                       "peak": None, "budget_s": self.budget.seconds, "elapsed_s": 0.0, "finished": False,
                       "warmup": args.warmup, "timed": args.steps, "preset": None, "parts": [], "steps": [],
                       "workspace": None}

    def say(self, text: str) -> None:
        print(f"[{self.budget.elapsed():5.0f}s] {text}", flush=True)

    def record(self, part: str, result: dict) -> dict:
        entry = {"part": part, **result}
        self.report["parts"].append(entry)
        self.report["elapsed_s"] = self.budget.elapsed()
        save(self.report, self.out)
        self.say(f"{part}: {entry['status']}" + (f" ({entry['seconds']:.0f} s)" if entry.get("seconds") else "")
                 + (f": {entry['detail']}" if entry.get("detail") else ""))
        return entry

    # -- 1. device
    def device(self) -> None:
        if self.args.device == "cpu":
            info = {"name": f"cpu ({torch.get_num_threads()} threads; rehearsal, numbers mean nothing)",
                    "count": 1, "memory_gib": 0.0, "capability": "–", "cuda": None, "cudnn": None, "driver": None}
        else:
            props = torch.cuda.get_device_properties(0)
            info = {"name": props.name, "count": torch.cuda.device_count(), "memory_gib": props.total_memory / 2**30,
                    "capability": f"{props.major}.{props.minor}", "multiprocessors": props.multi_processor_count,
                    "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "driver": _driver()}
        info["torch"] = torch.__version__
        self.report["device"] = info
        if self.args.peak_tflops:
            self.report["peak"] = {"name": info["name"], "tflops": self.args.peak_tflops, "source": "--peak-tflops"}
        elif self.args.device == "cuda":
            self.report["peak"] = lookup_peak(info["name"])
        self.record("device", {"status": "ok", "detail": f"{info['name']} ×{info['count']}, {info['memory_gib']:.1f} "
                                                         f"GiB, capability {info['capability']}, torch "
                                                         f"{info['torch']}, CUDA {info['cuda']}"})

    # -- 2. smoke DAG
    def ensure_workspace(self) -> Path:
        if self.workspace is None:
            self.workspace = Path(tempfile.mkdtemp(prefix="activemem-gpu-check-"))
            self.report["workspace"] = str(self.workspace)
            make_workspace(self.workspace, Path(self.args.params), self.args.device)
            self.say(f"workspace {self.workspace}: params.yaml is {self.args.params} with smoke.train.device "
                     f"{self.args.device}" + (", bf16 true" if self.args.device == "cuda" else ""))
        return self.workspace

    def smoke(self) -> None:
        if importlib.util.find_spec("snakemake") is None:
            self.record("smoke", {"status": "skipped",
                                  "detail": "snakemake is not installed (pip install -e '.[pipeline]')"})
            return
        try:
            ws = self.ensure_workspace()
        except (ParamsError, OSError) as err:
            self.record("smoke", {"status": "failed", "detail": f"workspace: {err}"})
            return
        self.say(f"smoke: snakemake --cores all --config scale=smoke in {ws} (train.device {self.args.device})")
        result = run_logged([sys.executable, "-m", "snakemake", "--cores", "all", "--config", "scale=smoke"],
                            self.logs / "smoke.log", self.budget.timeout(TIMEOUT_S["smoke"]), ws, workspace_env(ws))
        if result["status"] == "ok":
            devices = trained_on(ws, "smoke")
            smoke = load_params(ws / "params.yaml", "smoke")
            expected = len(smoke["model_names"]) * len(smoke["seeds"])
            wrong = {run: dev for run, dev in devices.items() if dev != self.args.device}
            if len(devices) != expected or wrong or not (ws / "paper/build/smoke/table1.md").exists():
                result.update(status="failed", detail=f"trained {sorted(devices)} (expected {expected}); "
                                                      f"not on {self.args.device}: {wrong}; table1.md: "
                                                      f"{(ws / 'paper/build/smoke/table1.md').exists()}")
            else:
                result["detail"] = (f"{len(devices)} trainings on {self.args.device}, evaluation and "
                                    "paper/build/smoke/table1.md")
        self.record("smoke", result)

    # -- 3 and 5. training steps at a preset's sizes
    def steps(self, compiled: bool) -> None:
        part = "compile" if compiled else "steps"
        try:
            params = load_params(self.args.params, self.args.preset)
            shape = paper_cost.preset_shape(params)
            names = self.args.models or params["model_names"]
            runs = [(name, model_hparams(params, name)) for name in names]
        except (ParamsError, KeyError) as err:
            self.record(part, {"status": "failed", "detail": f"preset {self.args.preset}: {err}"})
            return
        batch = min(shape.batch, self.args.batch or shape.batch)
        self.report["preset"] = {**asdict(shape), "batch": batch,
                                 "autocast": shape.bf16 and self.args.device == "cuda"}
        eager = {r["model"]: r for r in self.report["steps"] if not r["compile"]}
        start, failed = time.monotonic(), 0
        for i, (name, hparams) in enumerate(runs):
            flops = eager.get(name, {}).get("flops")      # compiling does not change what is computed
            spec = {"name": name, "hparams": hparams, "shape": asdict(shape), "batch": batch,
                    "device": self.args.device, "compile": compiled, "backend": self.args.compile_backend,
                    "warmup": self.args.warmup, "steps": self.args.steps, "count_flops": flops is None,
                    "result": str(self.logs / f"{part}_{name}.json")}
            self.say(f"{part}: {name}, {batch} sentences × width {shape.width}")
            result = run_logged([sys.executable, __file__, "--worker", json.dumps(spec)],
                                self.logs / f"{part}_{name}.log",
                                self.budget.timeout(TIMEOUT_S[part], len(runs) - i))
            row = {"model": name, "compile": compiled, "batch": batch, "status": result["status"],
                   "checkpointing": "on" if hparams.get("checkpoint_steps") else "off",
                   "detail": result.get("detail", "")}
            if result["status"] == "ok":
                row.update(json.loads(Path(spec["result"]).read_text()))
                row["flops"] = row["flops"] or flops
                peak = (self.report["peak"] or {}).get("tflops")
                row["tflops"], row["share"] = throughput(row["flops"], row["step_s"], peak)
            failed += result["status"] == "failed"
            self.report["steps"].append(row)
            self.report["elapsed_s"] = self.budget.elapsed()
            save(self.report, self.out)
            self.say(f"{part}: {name}: {row['status']}" + (f", {row['step_s']:.4f} s/step" if row.get("step_s") else "")
                     + (f", {row['share']:.1%} of peak" if row.get("share") is not None else "")
                     + (f": {row['detail']}" if row["detail"] else ""))
        statuses = [r["status"] for r in self.report["steps"] if r["compile"] == compiled]
        status = "failed" if failed else "ok" if all(s == "ok" for s in statuses) else "partial"
        self.record(part, {"status": status, "seconds": time.monotonic() - start,
                           "detail": ", ".join(f"{r['model']} {r['status']}" for r in self.report["steps"]
                                               if r["compile"] == compiled)})

    # -- 4. two torchrun ranks of the train stage
    def torchrun(self) -> None:
        gpus = torch.cuda.device_count() if self.args.device == "cuda" else 2    # a CPU rehearsal: gloo
        if gpus < 2:
            self.record("torchrun", {"status": "skipped", "detail": f"{gpus} GPU: needs two"})
            return
        try:
            ws = self.ensure_workspace()
            params = workspace_params(Path(self.args.params), ws / "params_torchrun.yaml", self.args.device, gpus=2)
        except (ParamsError, OSError) as err:
            self.record("torchrun", {"status": "failed", "detail": f"workspace: {err}"})
            return
        env, data = workspace_env(ws), ws / "data/smoke/prepared"
        start = time.monotonic()
        if not data.exists():   # the smoke part did not run or stopped early: the data stages alone
            for stage, extra in (("download", ["--out", "data/smoke/raw"]),
                                 ("prepare", ["--raw", "data/smoke/raw", "--out", str(data)])):
                result = run_logged([sys.executable, "-m", f"activemem.stages.{stage}", "--params", "params.yaml",
                                     "--scale", "smoke", *extra], self.logs / f"torchrun_{stage}.log",
                                    self.budget.timeout(TIMEOUT_S["torchrun"]), ws, env)
                if result["status"] != "ok":
                    self.record("torchrun", {**result, "detail": f"{stage} stage: {result.get('detail')}"})
                    return
        # every model, each in a torchrun of its own: DDP meets each model's parameters (unused ones
        # included) and each model's decoding state only here
        names = self.args.models or params["model_names"]
        results = {}
        for i, model in enumerate(names):
            out = ws / "torchrun" / model
            self.say(f"torchrun: train stage, {model}, smoke scale, train.gpus 2 (the stage starts torchrun)")
            result = run_logged([sys.executable, "-m", "activemem.stages.train", "--params", "params_torchrun.yaml",
                                 "--scale", "smoke", "--model", model, "--data", str(data), "--out", str(out),
                                 "--no-progress"], self.logs / f"torchrun_{model}.log",
                                self.budget.timeout(TIMEOUT_S["torchrun"], len(names) - i), ws, env)
            if result["status"] == "ok":
                summary = json.loads((out / "summary.json").read_text())
                if summary["world_size"] != 2 or summary["device"] != self.args.device:
                    result.update(status="failed", detail=f"summary.json: world size {summary['world_size']}, "
                                                          f"device {summary['device']}")
                else:
                    result["detail"] = (f"{summary['steps']} steps, dev perplexity "
                                        f"{summary['final_dev_perplexity']:.1f}")
            results[model] = result
            self.say(f"torchrun: {model}: {result['status']}" + (f": {result['detail']}" if result.get("detail") else ""))
        statuses = [r["status"] for r in results.values()]
        status = "failed" if "failed" in statuses else "ok" if all(s == "ok" for s in statuses) else "partial"
        self.record("torchrun", {"status": status, "seconds": time.monotonic() - start,
                                 "detail": f"2 ranks on {self.args.device}: " + ", ".join(
                                     f"{m} {r['status']}" for m, r in results.items()),
                                 "models": results})

    def finish(self) -> int:
        if self.workspace is not None and not self.args.keep_workspace:
            shutil.rmtree(self.workspace, ignore_errors=True)
        self.report.update(finished=True, elapsed_s=self.budget.elapsed())
        save(self.report, self.out)
        print("\n" + markdown(self.report))
        self.say(f"wrote {self.out / 'gpu_check.json'} and {self.out / 'gpu_check.md'}")
        return 1 if any(p["status"] == "failed" for p in self.report["parts"]) else 0


def _driver() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out[0] if out else None


def no_cuda(out: Path) -> int:
    """Asked to check a GPU where CUDA does not work: say why (torch's CUDA build, the driver), write a
    report saying ``"cuda": false``, and fail: a check that found no GPU has checked nothing."""
    reason = (f"No usable CUDA device, so nothing was checked: {cuda_problem()}. Run this on a machine "
              "with a GPU (or with --device cpu to rehearse the check).")
    print(f"gpu_check: {reason}", file=sys.stderr)
    save({"cuda": False, "torch": torch.__version__, "torch_cuda": torch.version.cuda, "reason": reason}, out)
    print(f"gpu_check: wrote {out / 'gpu_check.json'} and {out / 'gpu_check.md'}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "benchmarks/out"), help="folder for gpu_check.json/.md and logs")
    p.add_argument("--params", default=str(REPO / "params.yaml"))
    p.add_argument("--preset", default="paper", help="the scale whose sizes the steps are measured at")
    p.add_argument("--models", nargs="+", metavar="NAME", help="only these models (default: the preset's)")
    p.add_argument("--batch", type=int, help="sentences per measured step (default: the preset's per-GPU batch)")
    p.add_argument("--warmup", type=int, default=WARMUP_STEPS, help="untimed steps before the timed ones")
    p.add_argument("--steps", type=int, default=TIMED_STEPS, help="timed steps")
    p.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak (default: looked up by name)")
    p.add_argument("--budget-min", type=float, default=BUDGET_MIN, help="the whole check's time budget, minutes")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="the parts to run (the device "
                                                                                  "is always reported)")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: rehearse the check on a CPU")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend of the compile part")
    p.add_argument("--keep-workspace", action="store_true", help="keep the smoke DAG's temporary workspace")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        Path(spec["result"]).write_text(json.dumps(measure_step(spec)))
        return 0
    for name, value in (("--warmup", args.warmup), ("--steps", args.steps), ("--batch", args.batch),
                        ("--peak-tflops", args.peak_tflops), ("--budget-min", args.budget_min)):
        if value is not None and value <= 0 and not (name == "--warmup" and value == 0):
            p.error(f"{name} must be positive, got {value}")
    if args.device == "cuda" and cuda_problem():
        return no_cuda(Path(args.out))
    check = Check(args)
    check.device()
    parts = {"smoke": check.smoke, "steps": lambda: check.steps(compiled=False), "torchrun": check.torchrun,
             "compile": lambda: check.steps(compiled=True)}
    for part in PARTS:
        if part in args.parts:
            try:
                parts[part]()
            except Exception as err:      # a bug in one part must not cost the others their report
                check.record(part, {"status": "failed", "detail": f"{type(err).__name__}: {err}"})
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())
