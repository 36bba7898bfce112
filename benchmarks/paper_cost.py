"""What a preset's training run costs, measured before anyone rents GPUs.

    python benchmarks/models.py --preset paper [--width 28] [--batch 4] [--utilisation 0.3] [--out t.md]

For every model of the preset (``params.yaml``: ``models.<name>``, vocabulary ``prepare.vocab_size``)
this runs ONE real training step (forward, label-smoothed loss, backward, global-norm clipping, Adam;
scheduled sampling at the preset's starting rate; bf16 autocast on CUDA when ``train.bf16``, as the
trainer does) on the current device and reports

- the step's wall time and peak memory, counting weights, gradients, Adam's moments and activations,
  as ``torch.cuda.max_memory_allocated`` does on CUDA. On CPU: the weights and moments (counted from
  the tensors) plus how far the timed step raises the resident memory of a fresh process above where
  it stood before the step;
- the FLOPs of the step (forward + backward) as ``torch.utils.flop_counter.FlopCounterMode`` counts them:
  matrix products and convolutions only, elementwise work is not counted. They are counted on CPU, also
  when the step is timed on CUDA, because the counter has no rule for cuDNN's fused GRU;
- the predicted hours of the preset's ``max_steps`` on its ``train.gpus`` GPUs at a stated peak and
  utilisation: wall-clock hours (the GPUs work in parallel, each on its share of the global batch;
  communication is not modelled) and GPU-hours (wall-clock × GPUs).

The batch: ``train.batch_tokens`` is the global budget of one step and the trainer's batcher gives a
bucket of width ``w`` ``batch_tokens // w`` sentences, split over the GPUs; one GPU's share (the
busiest rank's, rounded up) at a representative width (default: the median of ``train.buckets``) is
the batch this benchmark prices. On CPU a step at that batch takes minutes, so the step is *measured*
at a smaller batch (``--batch``) and FLOPs are scaled linearly to the full batch (every counted
operation is per sentence but one: the Extended Neural GPU builds its tape kernel from the weights
once per step, about 1e-5 of a paper-sized step; ``tests/test_benchmarks.py`` checks the linearity); the
full-batch peak memory is estimated the same way, keeping 16 bytes per parameter (float32 weights,
gradients and two Adam moments) fixed and scaling the rest. Both are marked as scaled in the table.

Models with ``checkpoint_steps: true`` (activation checkpointing of every memory step) are run with and
without it, so the table shows what it saves in memory and costs in FLOPs and time.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields

import torch
from torch.utils.flop_counter import FlopCounterMode

from activemem import models
from activemem.config import ParamsError, load_params, model_hparams
from activemem.tokens import BOS, RESERVED
from activemem.train.loss import smoothed_loss
from activemem.train.schedules import sampling_rate

# The GPU the hours are priced on. H100 SXM: 989 TFLOP/s dense bf16 tensor-core peak (NVIDIA's data
# sheet; the 1979 figure assumes 2:4 sparsity). 30% of peak is a deliberately modest utilisation for a
# model made of many small convolutions run one memory step after another.
GPU_NAME = "H100 SXM"
GPU_TFLOPS = 989.0
UTILISATION = 0.30
CPU_BATCH = 4            # sentences per measured step on CPU (the full batch would take minutes per model)
COUNT_BATCH = 2          # sentences per FLOP count on CPU when the step itself runs on CUDA
FIXED_BYTES_PER_PARAM = 16   # float32 weight + gradient + Adam's two moments: does not grow with the batch

COLUMNS = ["model", "params", "act. checkpointing", "measured batch", "s/step", "peak MiB",
           "est. peak GiB, full batch", "GFLOP/step/GPU", "hours (wall)", "GPU-hours"]


@dataclass
class Shape:
    """One step of a preset, as one GPU sees it."""

    scale: str
    vocab: int
    width: int          # memory width = source length = decoder steps
    batch: int          # sentences per GPU per step at this width
    global_batch: int   # sentences per step over all GPUs
    gpus: int
    max_steps: int
    clip_norm: float
    label_smoothing: float
    sampling: float     # the trainer's scheduled-sampling rate at step 0
    bf16: bool


def preset_shape(params: dict, width: int | None = None) -> Shape:
    """The per-GPU training step of ``params`` (one scale's block, as ``load_params`` returns it)."""
    buckets = sorted(params["train"]["buckets"])
    if width is None:
        width = int(statistics.median_high(buckets))   # a width batches really have
    if width < 2:
        raise ParamsError(f"--width must be at least 2, got {width}")
    gpus = max(1, params["train"]["gpus"])   # 0 GPUs: the whole batch on one device
    global_batch = max(1, params["train"]["batch_tokens"] // width)
    sampling = params["train"]["sampling"]
    return Shape(scale=params.get("scale", "?"), vocab=params["prepare"]["vocab_size"],
                 width=width, batch=math.ceil(global_batch / gpus), global_batch=global_batch, gpus=gpus,
                 max_steps=params["train"]["max_steps"],
                 clip_norm=params["train"]["clip_norm"],
                 label_smoothing=params["train"]["label_smoothing"],
                 sampling=sampling_rate(0, sampling.get("start_rate", 0.0), sampling.get("max_rate", 0.0),
                                        sampling.get("double_every", 1.0)),
                 bf16=bool(params["train"].get("bf16", False)))


def variants(params: dict, names: list[str] | None = None) -> list[tuple[str, dict, str]]:
    """(model, constructor arguments, checkpointing label) for every run of the preset's models (or
    of ``names``): both settings where the preset checkpoints, so the cost and the saving can be read
    side by side."""
    runs = []
    for name in names or params.get("model_names", list(params["models"])):
        if name not in params["models"]:
            raise ParamsError(f"{params.get('path', 'params')}: no '{params.get('scale')}.models.{name}'")
        hparams = model_hparams(params, name)
        defaults = {f.name: f.default for f in fields(models.config_class(name))}
        if "checkpoint_steps" not in defaults:      # a model without activation checkpointing
            runs.append((name, hparams, "n/a"))
        elif hparams.get("checkpoint_steps", defaults["checkpoint_steps"]):
            runs.append((name, hparams, "on (preset)"))
            runs.append((name, {**hparams, "checkpoint_steps": False}, "off"))
        else:
            runs.append((name, hparams, "off (preset)"))
    return runs


def _resident_bytes(field: str = "VmRSS") -> int:
    """This process's resident memory now (``VmRSS``) or its peak (``VmHWM``), from Linux's /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"/proc/self/status has no {field}")


def _reset_peak_resident() -> None:
    """Start the resident peak afresh, so that it is the timed step's and not the FLOP-counted one's
    (Linux ≥ 4.0; where refused, the peak covers both steps, which are the same size)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _batch(shape: Shape, batch: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Full-width sentences: source and target fill the memory (a bucket's widest pairs)."""
    g = torch.Generator().manual_seed(0)
    src = torch.randint(RESERVED, shape.vocab, (batch, shape.width), generator=g)
    target = torch.randint(RESERVED, shape.vocab, (batch, shape.width), generator=g)
    tgt_in = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)
    return src.to(device), tgt_in.to(device), target.to(device)


def _trainer_step(model, optimizer, shape: Shape, tensors, autocast: bool) -> None:
    """The training loop's step (``train/loop.py``) without the data loading and logging."""
    src, tgt_in, target = tensors
    with torch.autocast(src.device.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(src, tgt_in)
    loss = smoothed_loss(logits, target, shape.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), shape.clip_norm)
    optimizer.step()


def _build(name: str, hparams: dict, shape: Shape):
    torch.manual_seed(0)
    model = models.build(name, shape.vocab, **hparams).train()
    if hasattr(model, "sampling_probability"):
        model.sampling_probability = shape.sampling
    return model


def count_flops(model, shape: Shape, batch: int) -> int:
    """FLOPs of one forward + backward on CPU (float32; the count does not depend on the dtype)."""
    model = model.cpu()
    optimizer = torch.optim.Adam(model.parameters())
    with FlopCounterMode(display=False) as counter:
        _trainer_step(model, optimizer, shape, _batch(shape, batch, "cpu"), autocast=False)
    return counter.get_total_flops()


def measure(name: str, hparams: dict, shape: Shape, batch: int, device: str) -> dict:
    """One timed training step of ``batch`` sentences; its FLOPs and peak memory. On CPU, call it in a
    fresh process for a meaningful peak (the resident peak is the process's, not the step's)."""
    device = torch.device(device)
    model = _build(name, hparams, shape)
    if device.type == "cuda":   # counted on CPU at a small batch (see the module's docstring), scaled
        counted = min(batch, COUNT_BATCH)
        flops = count_flops(copy.deepcopy(model), shape, counted) * batch / counted
        model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters())
    tensors = _batch(shape, batch, device)
    autocast = shape.bf16 and device.type == "cuda"
    if device.type == "cpu":   # the warm-up step (allocator, kernels) is the counted one
        with FlopCounterMode(display=False) as counter:
            _trainer_step(model, optimizer, shape, tensors, autocast)
        flops = counter.get_total_flops()
        _reset_peak_resident()
        before = _resident_bytes()
    else:
        _trainer_step(model, optimizer, shape, tensors, autocast)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    _trainer_step(model, optimizer, shape, tensors, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        # What the step adds (gradients, activations) on top of what lives between steps (weights,
        # Adam's moments: counted exactly, so the interpreter's and libraries' memory is left out).
        tensors_bytes = sum(t.numel() * t.element_size() for t in model.parameters())
        tensors_bytes += sum(v.numel() * v.element_size() for state in optimizer.state.values()
                             for v in state.values() if torch.is_tensor(v))
        peak = tensors_bytes + _resident_bytes("VmHWM") - before
    return {"params": model.num_parameters(), "batch": batch, "step_s": seconds, "peak_bytes": peak,
            "flops": flops}


def predict(flops_per_gpu_step: float, shape: Shape, tflops: float, utilisation: float) -> tuple[float, float]:
    """Wall-clock hours of ``max_steps`` steps (GPUs in parallel) and GPU-hours."""
    hours = shape.max_steps * flops_per_gpu_step / (tflops * 1e12 * utilisation) / 3600
    return hours, hours * shape.gpus


def rows(params: dict, shape: Shape, batch: int | None, device: str, tflops: float, utilisation: float,
         isolate: bool = True, threads: int = 0, names: list[str] | None = None) -> list[dict]:
    """Every run of ``variants``, measured (in a fresh process each when ``isolate``) and priced."""
    measured_batch = min(shape.batch, batch or (shape.batch if device.startswith("cuda") else CPU_BATCH))
    out = []
    for name, hparams, checkpointing in variants(params, names):
        if isolate:
            spec = {"name": name, "hparams": hparams, "shape": asdict(shape), "batch": measured_batch,
                    "device": device, "threads": threads}
            # A fixed mmap threshold makes glibc hand every tensor's memory back when it is freed,
            # so resident memory follows the live tensors instead of the allocator's caches.
            done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                                  capture_output=True, text=True,
                                  env={**os.environ, "MALLOC_MMAP_THRESHOLD_": str(64 * 1024)})
            if done.returncode != 0:
                sys.exit(f"benchmarks/paper_cost.py: {name} failed: {done.stderr.strip().splitlines()[-1]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
        else:
            r = measure(name, hparams, shape, measured_batch, device)
        scale = shape.batch / r["batch"]
        fixed = FIXED_BYTES_PER_PARAM * r["params"]
        full_peak = fixed + max(r["peak_bytes"] - fixed, 0) * scale
        flops = r["flops"] * scale
        hours, gpu_hours = predict(flops, shape, tflops, utilisation)
        out.append({"model": name, "checkpointing": checkpointing, **r, "scaled": scale != 1,
                    "flops_full": flops, "peak_full_bytes": full_peak, "hours": hours,
                    "gpu_hours": gpu_hours})
    return out


def _num(x: float) -> str:
    """Readable at every size the table meets: 7,503 · 25.4 · 0.0123."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.3g}"


def table(results: list[dict], shape: Shape, device: str, gpu: str, tflops: float, utilisation: float) -> str:
    """The Markdown table, its assumptions above it and what checkpointing does below it."""
    dev = torch.cuda.get_device_name(device) if device.startswith("cuda") else f"cpu ({torch.get_num_threads()} thread(s))"
    lines = [
        f"Preset `{shape.scale}`: vocabulary {shape.vocab:,}, width {shape.width}, "
        f"{shape.batch} sentences per GPU per step (⌈{shape.global_batch} per step / {shape.gpus} GPU(s)⌉), "
        f"{shape.max_steps:,} steps. Measured on {dev}, torch {torch.__version__}. Hours: "
        f"{shape.gpus}× {gpu} at {tflops:g} TFLOP/s × {utilisation:.0%} utilisation.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    for r in results:
        mark = " *" if r["scaled"] else ""
        lines.append("| " + " | ".join([
            f"`{r['model']}`", f"{r['params'] / 1e6:.1f}M", r["checkpointing"], str(r["batch"]),
            _num(r["step_s"]), _num(r["peak_bytes"] / 2**20), _num(r["peak_full_bytes"] / 2**30) + mark,
            _num(r["flops_full"] / 1e9) + mark, _num(r["hours"]), _num(r["gpu_hours"])]) + " |")
    if any(r["scaled"] for r in results):
        lines += ["", f"\\* measured at the batch shown and scaled linearly to {shape.batch} sentences "
                      f"(peak memory: {FIXED_BYTES_PER_PARAM} bytes per parameter kept fixed, the rest scaled)."]
    for on in (r for r in results if r["checkpointing"] == "on (preset)"):
        off = next(r for r in results if r["model"] == on["model"] and r["checkpointing"] == "off")
        lines.append(
            f"- `{on['model']}`: activation checkpointing takes the full-batch peak from "
            f"{off['peak_full_bytes'] / 2**30:.1f} to {on['peak_full_bytes'] / 2**30:.1f} GiB "
            f"(measured {off['peak_bytes'] / 2**20:,.0f} → {on['peak_bytes'] / 2**20:,.0f} MiB) for "
            f"{on['flops'] / off['flops'] - 1:+.0%} FLOPs and {on['step_s'] / off['step_s'] - 1:+.0%} step time.")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--preset (the cost of a preset's training run)")
    group.add_argument("--preset", help="a scale of params.yaml, e.g. paper")
    group.add_argument("--params", default="params.yaml")
    group.add_argument("--models", nargs="+", metavar="NAME", help="only these models (default: the preset's)")
    group.add_argument("--width", type=int, help="memory width of the priced step (default: the median bucket)")
    group.add_argument("--gpu-name", default=GPU_NAME)
    group.add_argument("--gpu-tflops", type=float, default=GPU_TFLOPS, help="dense bf16 peak, TFLOP/s")
    group.add_argument("--utilisation", type=float, default=UTILISATION, help="assumed fraction of that peak")
    group.add_argument("--out", help="also write the Markdown table here")


def run(args) -> None:
    """``--preset``: measure, print the table, write it to ``--out``. ``args.batch``: the measured batch
    (default: the full per-GPU batch on CUDA, ``CPU_BATCH`` on CPU)."""
    if not 0 < args.utilisation <= 1:
        sys.exit(f"--utilisation must be in (0, 1], got {args.utilisation}")
    try:
        params = load_params(args.params, args.preset)
        shape = preset_shape(params, args.width)
        variants(params, args.models)          # unknown names fail here, before any measuring
    except ParamsError as err:
        sys.exit(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    results = rows(params, shape, args.batch, args.device, args.gpu_tflops, args.utilisation,
                   threads=args.threads, names=args.models)
    text = table(results, shape, args.device, args.gpu_name, args.gpu_tflops, args.utilisation)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    spec = json.loads(sys.argv[2])
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    print(json.dumps(measure(spec["name"], spec["hparams"], Shape(**spec["shape"]), spec["batch"],
                             spec["device"])))
