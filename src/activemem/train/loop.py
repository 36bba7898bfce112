"""One training loop for every registry model: CPU, one GPU (bf16 autocast) or ``torchrun`` (DDP).

Per step: a bucketed batch → teacher-forced logits → label-smoothed loss → backward → global-norm
clipping → Adam. Around it: dev perplexity every ``eval_every`` steps (with the original recipe's
learning-rate decay on plateau and optional early stopping), an atomic checkpoint every
``checkpoint_every`` steps, one CSV row of metrics every ``log_every`` steps and a progress bar
(``activemem/progress.py``: plain lines in a log file).

When to stop: at ``max_steps`` (a cap), on the clock (``max_minutes``, opt-in) or by patience: after
``patience`` dev evaluations that did not lower the dev perplexity by ``min_improvement`` of its value
(issue #21: a model is compared at convergence, not after equal steps). The weights of the best dev
perplexity are kept beside the last ones in every checkpoint; ``select: best`` makes evaluation score them.
Every step's FLOPs are counted (``train/flops.py``), and each dev evaluation logs the step, the training
FLOPs and seconds so far (dev evaluations and FLOP counting left out) and, every ``dev_bleu.every``
evaluations, greedy dev BLEU: the learning curves against compute.

Read it in the order a run goes: ``train`` → ``_start`` (settings, data, device, model, optimiser) →
``_resume_or_start_over`` → ``_run_steps``, which repeats ``_optimisation_step`` and, on their
schedules, ``_log_step``, ``_evaluate_dev`` and ``_save_checkpoint`` → ``_finish`` (summary, copy out).
The device settings are ``train/device.py``'s, the perplexity is ``train/nll.py``'s.

A run keeps its checkpoint and logs in ``work_dir`` and continues from them: killed at any moment
and restarted with the same command, it ends with the same parameters as a run never interrupted (on
CPU with a fixed seed: the data order is a function of (seed, epoch, position) and the RNG states are
in the checkpoint). A checkpoint is only resumed by the *same, unfinished* run: its fingerprint
(``train/fingerprint.py``: package source, torch version, model, every training setting including the
step limit and the thread count, prepared-data checksums) must match, otherwise training starts over,
says why, and clears the work directory (a ``work_dir`` holds one run's files only, never one run's
checkpoint beside another's logs). A finished run is never extended or cut short: the same finished
run is reused as it is, whole (its logs too) or not at all. ``summary.json`` records the checkpoint's
digest and the data it was made from (``activemem/lineage.py``), which evaluation and the workflow check.
``work_dir`` lies outside the pipeline engines' declared outputs, which they delete before rerunning
a job; the finished files are copied to ``out_dir`` at the end. One process at a time trains in a
``work_dir`` (a second one fails at once instead of interleaving the logs).

Numbers do not depend on the machine's clock or core count: the thread count is a setting
(``train.threads``), and the optional wall-clock limit ``max_minutes`` (0 = off in every preset whose
numbers are reported) marks a run it cuts short as ``truncated`` in every summary.

With ``world`` DDP processes every rank takes its share of the same global batch and each rank's loss
is weighted by its share of the batch's tokens, so the averaged gradient is exactly the gradient of
the global token-mean loss: N processes follow the trajectory of one. What a run decides from a number
it measures (the learning-rate decay, the best weights, the patience and clock stops) is decided by
rank 0 and sent to every rank (``dev_decision``, ``Dist.from_main``), and a non-finite loss on any rank
stops them all: ranks never part ways.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.nn.parallel import DistributedDataParallel

from activemem import disk, lineage, models, schema
from activemem.atomic import copy_file, open_atomic, open_named, write_json
from activemem.config import dev_bleu_decoding, model_hparams, train_config
from activemem.data.batching import Batch, BucketBatcher
from activemem.data.store import EncodedSplit, encoded_files, file_digest, verify_files
from activemem.locking import exclusive
from activemem.progress import progress_bar
from activemem.provenance import provenance
from activemem.train import checkpoint, curriculum, distributed
from activemem.train.device import (bf16_autocast, check_cpu_kernels, implied_device, pick_device,
                                    use_deterministic_kernels, use_threads, uses_bf16)
from activemem.train.fingerprint import differences, run_identity
from activemem.train.flops import FlopMeter
from activemem.train.loss import smoothed_loss
from activemem.train.nll import perplexity, split_nll, token_nll
from activemem.train.schedules import plateau_decay, sampling_rate

LOG_FIELDS = ["step", "epoch", "loss", "perplexity", "lr", "grad_norm", "tokens_per_s", "sampling", "seconds"]
# the learning curves: dev perplexity (and dev BLEU, where measured) against steps, training FLOPs
# (train/flops.py) and seconds of training (dev evaluations and FLOP counting left out)
DEV_FIELDS = ["step", "dev_perplexity", "dev_bleu", "lr", "flops", "train_seconds"]

# Greedy BLEU of the model on the first N dev sentences; the stage passes one in (stages/train.py), since
# decoding lives above training in the package's layers.
DevScorer = Callable[[torch.nn.Module, torch.device, int], float]


class NonFiniteLoss(RuntimeError):
    pass


# What only places a job (the cluster's GPUs, memory and time) is no part of a run's identity: a run whose
# job got more memory resumes its checkpoint. Every other ``train`` setting is, and the seed.
PLACEMENT = ("gpus", "mem_mb", "runtime_min")


def run_config(params: dict, model_name: str) -> schema.Train:
    """The ``train`` settings this run trains with: the scale's ``train`` section with the model's own
    ``models.<m>.train`` overrides, typed by ``schema.Train`` (``config.train_config``), with ``device``
    as the run takes it: ``auto`` with GPUs asked for is CUDA (``device.implied_device``), so the
    checkpoint says so, and its evaluation, like its training, refuses to run on a CPU in its place."""
    cfg = train_config(params, model_name)
    return dataclasses.replace(cfg, device=implied_device(cfg.device, cfg.gpus))


def identity_settings(cfg: schema.Train, seed: int) -> dict:
    """The settings one run's numbers depend on, as its fingerprint and checkpoint (``train_config``)
    record them: the seed, then ``cfg`` without ``PLACEMENT``."""
    return {"seed": seed, **{k: v for k, v in dataclasses.asdict(cfg).items() if k not in PLACEMENT}}


def _rewrite_log(path: Path, fields: list[str], upto_step: int) -> None:
    """Keep only rows up to the checkpoint's step: rows after it will be produced again."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= upto_step]
    with open_atomic(path) as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _append(path: Path, fields: list[str], row: dict) -> None:
    new = not path.exists()
    with open_named(path, "a") as f:  # a full disk's error names the log
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in fields})


OUTPUT_FILES = ("checkpoint.pt", "train_log.csv", "dev_log.csv", "summary.json")


@dataclass
class Run:
    """One training run: what ``_start`` builds, and what the named steps below read and update."""

    model_name: str
    cfg: schema.Train         # the settings it trains with (run_config), threads: the count used
    seed: int                 # params.yaml train.seed: the first of seeds, or the stage's --seed
    manifest: dict
    data_dir: Path            # the prepare stage's output: its manifest.json is what this run was made from
    work_dir: Path
    device: torch.device
    dist: distributed.Dist
    train_split: EncodedSplit
    dev_split: EncodedSplit
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    identity: dict            # the fingerprint a checkpoint must carry to be resumed by this run
    state: dict               # step, data position, lr scale, dev history…: saved in every checkpoint
    net: torch.nn.Module | None = None  # what the forward pass calls (the model, or its DDP/compiled wrapper)
    flop_meter: FlopMeter | None = None  # FLOPs per batch shape (train/flops.py)
    best_model: dict | None = None     # the weights of the best dev perplexity so far (CPU copies)
    dev_scorer: DevScorer | None = None
    min_free_mb: int = 0      # free disk a checkpoint must leave (params.yaml min_free_mb; activemem/disk.py)

    @property
    def autocast(self) -> bool:
        return uses_bf16(self.cfg.bf16, self.device)

    def lr_now(self) -> float:
        """The learning rate at this point of the run: ``lr`` times the decay applied so far on plateaus."""
        return self.cfg.lr * self.state["lr_scale"]

    @property
    def checkpoint_path(self) -> Path:
        return self.work_dir / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "train_log.csv"

    @property
    def dev_log_path(self) -> Path:
        return self.work_dir / "dev_log.csv"


@dataclass
class StepResult:
    """What one optimisation step leaves for the training log and the length curriculum."""

    logits: torch.Tensor
    target: torch.Tensor      # the batch's ``tgt_out``
    loss: torch.Tensor        # label-smoothed, mean over this rank's target tokens
    grad_norm: torch.Tensor   # before clipping
    local_tokens: int         # target tokens of this rank's share of the batch
    global_tokens: float      # target tokens of the whole batch, over every rank
    sampling_rate: float


def train(model_name: str, params: dict, data_dir: str | Path, out_dir: str | Path,
          work_dir: str | Path | None = None, progress: bool = True, dev_scorer: DevScorer | None = None) -> dict:
    """Train (or continue training) ``model_name``; returns the summary also written to summary.json.
    ``dev_scorer`` measures dev BLEU where ``train.dev_bleu.every`` asks for it (none: those cells stay empty)."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir
    for d in (out_dir, work_dir):
        d.mkdir(parents=True, exist_ok=True)
    with exclusive(work_dir / ".lock", f"training {model_name}"):
        return _train(model_name, params, data_dir, out_dir, work_dir, progress, dev_scorer)


def _train(model_name: str, params: dict, data_dir: Path, out_dir: Path, work_dir: Path, progress: bool,
           dev_scorer: DevScorer | None) -> dict:
    run = _start(model_name, params, data_dir, work_dir)
    run.dev_scorer = dev_scorer
    _resume_or_start_over(run)
    run.net = _forward_module(run)
    if run.state["stop_reason"] is not None:
        # this very run has already finished: nothing to train, its files are the result
        if run.dist.main:
            print(f"{run.checkpoint_path}: this run already finished ({run.state['stop_reason']} at step "
                  f"{run.state['step']}): reusing it")
    else:
        run.state["stop_reason"] = _run_steps(run, _batches(run), progress)
        if run.state["last_eval_step"] != run.state["step"]:
            _evaluate_dev(run)
        _save_checkpoint(run)
    return _finish(run, params, out_dir)


# --- setting up ---------------------------------------------------------------------------------

def _start(model_name: str, params: dict, data_dir: Path, work_dir: Path) -> Run:
    """Check the settings and the data, set up the device, build the model and optimiser: a fresh run."""
    cfg = run_config(params, model_name)
    seed = params["train"]["seed"]
    hparams = model_hparams(params, model_name)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    # the data this run reads must be the data the fingerprint names
    verify_files(data_dir, manifest["files"], encoded_files("train") + encoded_files("dev"))
    device, dist, threads = _use_device(cfg, params["scale"])
    cfg = dataclasses.replace(cfg, threads=threads)  # the count used: part of the run's identity on a CPU
    if cfg.gpus and device.type == "cpu" and dist.main:
        # only where asked for (train.device: cpu): `auto` with GPUs is CUDA or an error
        print(f"warning: the {params['scale']} scale is sized for {cfg.gpus} GPU(s) (train.gpus) but train.device "
              f"is cpu: training on the CPU, {threads} thread(s) per process; one step of its models takes "
              f"seconds to minutes there (`python benchmarks/models.py --preset {params['scale']}` measures it)",
              file=sys.stderr)
    train_split = EncodedSplit(data_dir, "train")
    dev_split = EncodedSplit(data_dir, "dev")

    torch.manual_seed(seed)
    model = models.build(model_name, manifest["vocab_size"], **hparams).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    torch.manual_seed(seed + dist.rank)  # same initial weights everywhere, own dropout per rank
    # the dev BLEU's decoding settings (evaluate.*) shape the learning curves: part of what the run is
    settings = {**identity_settings(cfg, seed), "dev_bleu_decoding": dev_bleu_decoding(params, model_name)}
    identity = run_identity(model_name, dataclasses.asdict(model.config), settings, manifest["files"])
    return Run(model_name, cfg, seed, manifest, data_dir, work_dir, device, dist, train_split, dev_split, model,
               optimizer, identity, _fresh_state(cfg), flop_meter=FlopMeter(model), min_free_mb=params.get("min_free_mb", 0))


def _use_device(cfg: schema.Train, scale: str) -> tuple[torch.device, distributed.Dist, int]:
    """The device of this process (under torchrun: its own GPU), with the preset's threads (at most the
    cores given: the count used is returned) and kernels."""
    device = pick_device(cfg.device, cfg.gpus, f"{scale}.train")
    threads = use_threads(cfg.threads, f"{scale}.train.threads")
    use_deterministic_kernels(cfg.deterministic)
    dist = distributed.init(device.type)
    if dist.main:
        check_cpu_kernels(cfg.cpu_kernels, device)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    return device, dist, threads


def _fresh_state(cfg: schema.Train) -> dict:
    return {"step": 0, "epoch": 0, "position": 0, "lr_scale": 1.0, "dev_history": [], "last_eval_step": -1,
            "best_dev_perplexity": math.inf, "best": None, "last": None, "evals_without_improvement": 0, "seconds": 0.0,
            "measuring_seconds": 0.0, "flops": 0, "stop_reason": None, "curriculum": curriculum.start(cfg.curriculum)}


def _own_checkpoint(ckpt_path: Path, identity: dict, main: bool) -> dict | None:
    """The checkpoint of this very run, or None (and a line saying why training starts over)."""
    if not ckpt_path.exists():
        return None
    try:
        ckpt = checkpoint.load(ckpt_path)
    except checkpoint.CheckpointError as err:
        # only resumable state: the run can always start again from step 0
        if main:
            print(f"{err}: starting over")
        return None
    changed = differences(ckpt.get("identity"), identity)
    if changed:
        if main:
            print(f"{ckpt_path}: from a different run ({', '.join(changed)} changed): starting over")
        return None
    return ckpt


def _resume_or_start_over(run: Run) -> None:
    """Continue this run from its checkpoint (weights, optimiser, state, RNG), or clear everything an
    earlier, different run left in the work directory: a work directory holds one run's files only."""
    ckpt = _own_checkpoint(run.checkpoint_path, run.identity, run.dist.main)
    if ckpt is not None and ckpt["state"]["stop_reason"] is not None:
        lost = [log.name for log in (run.log_path, run.dev_log_path) if not log.exists()]
        if lost:  # a finished run is reused whole or not at all
            if run.dist.main:
                print(f"{run.checkpoint_path}: this run finished but its {' and '.join(lost)} is gone: starting over")
            ckpt = None
    if ckpt is None:
        if run.dist.main:
            # the checkpoint first: a run killed while clearing leaves logs without a checkpoint, which the
            # next start clears again, never another run's checkpoint beside this run's logs
            for stale in (run.checkpoint_path, run.log_path, run.dev_log_path, run.work_dir / "summary.json"):
                stale.unlink(missing_ok=True)
        return
    run.model.load_state_dict(ckpt["model"])
    run.best_model = ckpt.get("best_model")
    run.optimizer.load_state_dict(ckpt["optimizer"])
    run.state = ckpt["state"]
    torch.set_rng_state(ckpt["rng"]["torch"])
    if run.device.type == "cuda" and "cuda" in ckpt["rng"]:
        torch.cuda.set_rng_state(ckpt["rng"]["cuda"])
    if run.dist.main:
        _rewrite_log(run.log_path, LOG_FIELDS, run.state["step"])
        _rewrite_log(run.dev_log_path, DEV_FIELDS, run.state["step"])


def _forward_module(run: Run) -> torch.nn.Module:
    """What the forward pass calls: the model, inside DDP across processes, compiled on CUDA if asked."""
    net = run.model
    if run.dist.world > 1:
        net = DistributedDataParallel(net, device_ids=[run.device.index] if run.device.type == "cuda" else None)
    if run.cfg.compile and run.device.type == "cuda":
        net = torch.compile(net)
    return net


def _batches(run: Run) -> Iterator[tuple[int, int, Batch]]:
    """This rank's training batches from the run's data position on, as the length curriculum admits them."""
    cfg = run.cfg
    batcher = BucketBatcher(run.train_split, cfg.buckets, cfg.batch_tokens, run.seed,
                            rank=run.dist.rank, world=run.dist.world)
    narrowest = min(edge for edge, members in zip(batcher.edges, batcher.members) if len(members))
    return batcher.iterate(run.state["epoch"], run.state["position"],
                           admit=lambda edge: curriculum.admits(run.state["curriculum"], edge, narrowest))


# --- training -----------------------------------------------------------------------------------

def _run_steps(run: Run, stream: Iterator[tuple[int, int, Batch]], progress: bool) -> str:
    """The training steps from ``state["step"]`` on; returns why they stopped."""
    cfg, state = run.cfg, run.state
    bar = progress_bar(total=cfg.max_steps, initial=state["step"], desc=run.model_name, unit="step",
                       disable=not (progress and run.dist.main), mininterval=1.0)
    started = time.perf_counter() - state["seconds"]
    window_tokens, window_start = 0, time.perf_counter()  # throughput since the last log row
    stop_reason = "max_steps"
    run.model.train()
    while state["step"] < cfg.max_steps:
        # the clock of rank 0 decides for every rank: ranks that stopped one step apart would hang
        if cfg.max_minutes and run.dist.from_main(time.perf_counter() - started > 60 * cfg.max_minutes):
            stop_reason = "max_minutes"
            break
        epoch, position, batch = next(stream)
        step = _optimisation_step(run, epoch, position, batch.to(run.device))
        state["step"] += 1
        state["epoch"], state["position"] = epoch, position + 1
        _feed_curriculum(run, step)
        state["seconds"] = time.perf_counter() - started
        window_tokens += step.global_tokens
        bar.update(1)
        if state["step"] % cfg.log_every == 0 or state["step"] == cfg.max_steps:
            now = _log_step(run, step, epoch, window_tokens, window_start, bar)
            window_tokens, window_start = 0, now
        if state["step"] % cfg.eval_every == 0 and _evaluate_dev(run):
            stop_reason = "patience"
            break
        if state["step"] % cfg.checkpoint_every == 0:
            _save_checkpoint(run)
    bar.close()
    return stop_reason


def _optimisation_step(run: Run, epoch: int, position: int, batch: Batch) -> StepResult:
    """One step: this step's sampling rate and learning rate, teacher-forced forward, label-smoothed
    loss, backward, global-norm clipping, Adam."""
    cfg, state, dist, model = run.cfg, run.state, run.dist, run.model
    rate = sampling_rate(state["step"], cfg.sampling.start_rate, cfg.sampling.max_rate, cfg.sampling.double_every)
    if hasattr(model, "sampling_probability"):
        model.sampling_probability = rate
    for group in run.optimizer.param_groups:
        group["lr"] = run.lr_now()
    local_tokens = batch.target_tokens
    counting = time.perf_counter()
    local_flops = run.flop_meter.step(batch.src.size(0), batch.src.size(1), batch.tgt_in.size(1), rate)
    state["measuring_seconds"] += time.perf_counter() - counting  # measuring, not training: off the curves' clock
    global_tokens, global_flops = dist.all_sum(local_tokens, local_flops)
    state["flops"] += int(global_flops)
    with bf16_autocast(run.device, run.autocast):
        logits = run.net(batch.src, batch.tgt_in)
    loss = smoothed_loss(logits, batch.tgt_out, cfg.label_smoothing)
    bad = not torch.isfinite(loss)
    if dist.world > 1:
        # every rank stops together when any rank's loss is not finite (one collective more per step):
        # a rank that raised alone would leave the others waiting in the gradients' all-reduce
        bad = dist.all_sum(float(bad))[0] > 0
    if bad:
        where = f" {loss.item()}" if dist.world == 1 else f" on a rank (rank {dist.rank}'s: {loss.item()})"
        raise NonFiniteLoss(f"{run.model_name}: non-finite loss{where} at step {state['step'] + 1} "
                            f"(epoch {epoch}, batch {position}, pairs {batch.indices[:8].tolist()}…); "
                            f"nothing is saved after a non-finite loss: {run.checkpoint_path} is left as it was")
    run.optimizer.zero_grad(set_to_none=True)
    # each rank's mean loss weighted by its share of the batch's tokens: the gradient DDP averages
    # is then exactly the gradient of the global token-mean loss
    (loss * (local_tokens * dist.world / global_tokens)).backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
    run.optimizer.step()
    return StepResult(logits, batch.tgt_out, loss, grad_norm, local_tokens, global_tokens, rate)


def _feed_curriculum(run: Run, step: StepResult) -> None:
    """Give the length curriculum (if on) this step's training NLL, summed over ranks."""
    if not run.state["curriculum"]:
        return
    with torch.no_grad():
        nll, _ = token_nll(step.logits.detach(), step.target)
    nll_sum, token_sum = run.dist.all_sum(nll.item(), step.local_tokens)
    curriculum.record(run.state["curriculum"], run.cfg.curriculum, run.state["step"], nll_sum, int(token_sum))


def _log_step(run: Run, step: StepResult, epoch: int, window_tokens: float, window_start: float, bar) -> float:
    """One row of the training log (loss and perplexity over the whole batch); returns the time it was taken."""
    cfg, state = run.cfg, run.state
    with torch.no_grad():
        nll, _ = token_nll(step.logits.detach(), step.target)
    loss_sum, nll_sum = run.dist.all_sum(step.loss.item() * step.local_tokens, nll.item())
    now = time.perf_counter()
    row = {"step": state["step"], "epoch": epoch, "loss": loss_sum / step.global_tokens,
           "perplexity": math.exp(min(nll_sum / step.global_tokens, 50.0)),  # no overflow early on
           "lr": run.lr_now(), "grad_norm": float(step.grad_norm),
           "tokens_per_s": window_tokens / max(now - window_start, 1e-9), "sampling": step.sampling_rate,
           "seconds": state["seconds"]}
    bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
    if run.dist.main:
        _append(run.log_path, LOG_FIELDS, row)
    return now


def dev_decision(state: dict, ppl: float, cfg: schema.Train) -> dict:
    """What one dev perplexity decides, given the run's state before it: the learning-rate decay on a
    plateau, whether these are the best weights so far, and patience (its count, and whether to stop).
    Under DDP rank 0 decides from its own perplexity and every rank applies the same decision."""
    history = state["dev_history"] + [ppl]
    # patience counts the evaluations since the last improvement by at least `min_improvement` of the
    # perplexity it improved on: a run creeping down by 0.1% per evaluation has converged at this resolution
    improved = ppl < state.get("patience_reference", math.inf) * (1 - cfg.min_improvement)
    waited = 0 if improved else state["evals_without_improvement"] + 1
    return {"dev_perplexity": ppl, "decay": plateau_decay(history, cfg.plateau_window),
            "best": ppl < state["best_dev_perplexity"], "patience_reference": ppl if improved else None,
            "evals_without_improvement": waited, "stop": cfg.patience > 0 and waited >= cfg.patience}


def _evaluate_dev(run: Run) -> bool:
    """Dev perplexity (and dev BLEU where asked), then what it decides (``dev_decision``): the learning-rate
    decay on a plateau, the best weights so far, and patience; True when patience is exhausted.

    Under DDP every rank measures (so that all of them reach the next collective together, as before
    any evaluation), but rank 0's numbers and decision are sent to all (``Dist.from_main``): ranks that
    decided from their own numbers could decay or stop at different evaluations."""
    cfg, state = run.cfg, run.state
    began = time.perf_counter()
    point = {"step": state["step"], "flops": state["flops"],
             "train_seconds": state["seconds"] - state["measuring_seconds"]}
    nll, tokens = split_nll(run.model, run.dev_split, run.device, cfg.eval_batch_size, autocast=run.autocast)
    ppl = perplexity(nll, tokens)
    bleu = _dev_bleu(run, len(state["dev_history"]) + 1)
    decision = run.dist.from_main({**dev_decision(state, ppl, cfg), "dev_bleu": bleu})
    ppl = decision["dev_perplexity"]
    state["dev_history"].append(ppl)
    state["last_eval_step"] = state["step"]
    state["last"] = {**point, "dev_perplexity": ppl}
    if decision["decay"]:
        state["lr_scale"] *= cfg.lr_decay
    if decision["best"]:
        # the weights evaluation scores with `select: best`, kept in every checkpoint from here on
        state["best_dev_perplexity"] = ppl
        state["best"] = state["last"]
        run.best_model = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}
    if decision["patience_reference"] is not None:
        state["patience_reference"] = decision["patience_reference"]
    state["evals_without_improvement"] = decision["evals_without_improvement"]
    if run.dist.main:
        bleu = decision["dev_bleu"]
        _append(run.dev_log_path, DEV_FIELDS, {**point, "dev_perplexity": ppl, "dev_bleu": "" if bleu is None else bleu,
                                               "lr": run.lr_now()})
    state["measuring_seconds"] += time.perf_counter() - began
    return decision["stop"]


def _dev_bleu(run: Run, evaluation: int) -> float | None:
    """Greedy BLEU on the first dev sentences at every ``dev_bleu.every``-th dev evaluation (``evaluation``
    counts from 1; None elsewhere). The random number generators are forked, so the run's numbers do not
    depend on whether it is measured."""
    every = run.cfg.dev_bleu.every
    if not (every and run.dev_scorer and evaluation % every == 0):
        return None
    was_training = run.model.training
    with torch.random.fork_rng(devices=[run.device] if run.device.type == "cuda" else []):
        bleu = run.dev_scorer(run.model, run.device, run.cfg.dev_bleu.sentences)
    run.model.train(was_training)
    return bleu


def _save_checkpoint(run: Run) -> None:
    """Everything needed to continue bit for bit (main process only; written atomically)."""
    if not run.dist.main:
        return
    # a training fills the disk over days: stop with one line while the last checkpoint is whole
    disk.check_free(run.work_dir, run.min_free_mb, f"checkpoint {run.checkpoint_path}")
    rng = {"torch": torch.get_rng_state()}
    if run.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state()
    checkpoint.save(run.checkpoint_path, {
        "model_name": run.model_name, "vocab_size": run.manifest["vocab_size"], "identity": run.identity,
        "model_config": dataclasses.asdict(run.model.config), "train_config": identity_settings(run.cfg, run.seed),
        "model": run.model.state_dict(), "best_model": run.best_model, "optimizer": run.optimizer.state_dict(),
        "state": run.state, "rng": rng})


# --- finishing ----------------------------------------------------------------------------------

def selected(state: dict, select: str) -> dict:
    """The point of the run whose weights evaluation scores: its step, dev perplexity, training FLOPs and
    seconds of training up to it; ``select`` is ``best`` or ``last``."""
    return {"select": select, **state[select]}


def _finish(run: Run, params: dict, out_dir: Path) -> dict:
    """Write summary.json, copy the finished files to ``out_dir``, end the processes; returns the summary."""
    cfg, state, dist = run.cfg, run.state, run.dist
    summary = {"model": run.model_name, "steps": state["step"], "max_steps": cfg.max_steps,
               "seconds": state["seconds"], "stop_reason": state["stop_reason"],
               "flops": state["flops"], "train_seconds": state["last"]["train_seconds"],
               # the weights evaluation scores, and what they cost (`select: best`: the best dev evaluation's)
               "selected": selected(state, cfg.select),
               # a wall-clock stop depends on the machine: its numbers are not the preset's
               "truncated": state["stop_reason"] == "max_minutes",
               "best_dev_perplexity": state["best_dev_perplexity"],
               "final_dev_perplexity": state["dev_history"][-1], "parameters": run.model.num_parameters(),
               "world_size": dist.world, "device": run.device.type,
               "provenance": provenance(params, run.device.type, cfg.threads, run.seed)}
    if dist.main:
        # what evaluation checks before scoring the checkpoint, and what the workflow checks at load
        summary["checkpoint"] = file_digest(run.checkpoint_path)
        summary[lineage.KEY] = lineage.made_from(run.data_dir / "manifest.json")
        write_json(run.work_dir / "summary.json", summary)
        if run.work_dir.resolve() != out_dir.resolve():
            for name in OUTPUT_FILES:
                copy_file(run.work_dir / name, out_dir / name)
    dist.barrier()
    distributed.shutdown(dist)
    return summary
