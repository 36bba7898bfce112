"""One training loop for every registry model: CPU, one GPU (bf16 autocast) or ``torchrun`` (DDP).

Per step: a bucketed batch → teacher-forced logits → label-smoothed loss → backward → global-norm
clipping → Adam. Around it: dev perplexity every ``eval_every`` steps (with the original recipe's
learning-rate decay on plateau and optional early stopping), an atomic checkpoint every
``checkpoint_every`` steps, one CSV row of metrics every ``log_every`` steps and a tqdm bar.

A run keeps its checkpoint and logs in ``work_dir`` and continues from them: killed at any moment
and restarted with the same command, it ends with the same parameters as a run never interrupted (on
CPU with a fixed seed: the data order is a function of (seed, epoch, position) and the RNG states are
in the checkpoint). A checkpoint is only resumed by the *same, unfinished* run: its fingerprint
(``train/fingerprint.py``: package source, torch version, model, every training setting including the
step limit and the thread count, prepared-data checksums) must match, otherwise training starts over
and says why. A finished run is never extended or cut short: the same finished run is reused as it is.
``work_dir`` lies outside the pipeline engines' declared outputs, which they delete before rerunning
a job; the finished files are copied to ``out_dir`` at the end. One process at a time trains in a
``work_dir`` (a second one fails at once instead of interleaving the logs).

Numbers do not depend on the machine's clock or core count: the thread count is a setting
(``train.threads``), and the optional wall-clock limit ``max_minutes`` (0 = off in every preset whose
numbers are reported) marks a run it cuts short as ``truncated`` in every summary.

With ``world`` DDP processes every rank takes its share of the same global batch and each rank's loss
is weighted by its share of the batch's tokens, so the averaged gradient is exactly the gradient of
the global token-mean loss: N processes follow the trajectory of one.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from activemem import models
from activemem.atomic import copy_file, open_atomic, write_json
from activemem.config import ParamsError, get, model_hparams, train_settings
from activemem.data.batching import BucketBatcher
from activemem.data.store import EncodedSplit, verify_files
from activemem.evaluate.perplexity import split_nll
from activemem.locking import exclusive
from activemem.provenance import provenance
from activemem.train import checkpoint, curriculum, distributed
from activemem.train.fingerprint import differences, run_identity
from activemem.train.loss import smoothed_loss, token_nll
from activemem.train.schedules import plateau_decay, sampling_rate

LOG_FIELDS = ["step", "epoch", "loss", "perplexity", "lr", "grad_norm", "tokens_per_s", "sampling", "seconds"]
DEV_FIELDS = ["step", "dev_perplexity", "lr"]


class NonFiniteLoss(RuntimeError):
    pass


@dataclass
class TrainConfig:
    """The ``train`` settings of one model at one scale (``params.yaml``), checked."""

    seed: int
    threads: int
    device: str
    bf16: bool
    compile: bool
    deterministic: bool
    buckets: list
    batch_tokens: int
    max_steps: int
    max_minutes: float
    lr: float
    adam_eps: float
    clip_norm: float
    label_smoothing: float
    lr_decay: float
    plateau_window: int
    patience: int
    eval_every: int
    eval_batch_size: int
    checkpoint_every: int
    log_every: int
    sampling: dict
    curriculum: dict | None   # the authors' length curriculum (train/curriculum.py); None = off

    @classmethod
    def from_params(cls, params: dict, model_name: str) -> "TrainConfig":
        merged = {**params, "train": train_settings(params, model_name)}
        minimum = {"seed": 0, "threads": 1, "batch_tokens": 1, "max_steps": 1, "max_minutes": 0, "lr": 0, "adam_eps": 0,
                   "clip_norm": 0, "label_smoothing": 0, "lr_decay": 0, "plateau_window": 1,
                   "patience": 0, "eval_every": 1, "eval_batch_size": 1, "checkpoint_every": 1,
                   "log_every": 1}
        values = {}
        for f in dataclasses.fields(cls):
            kind = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "dict": dict,
                    "dict | None": (dict, type(None))}[f.type]
            values[f.name] = get(merged, f"train.{f.name}", kind, minimum.get(f.name))
        for key in ("max_rate", "start_rate", "double_every"):
            get(merged, f"train.sampling.{key}", float, 0)
        if values["curriculum"] is not None:
            for key, kind, low in (("start_width", int, 1), ("every", int, 1), ("max_perplexity", float, 1)):
                get(merged, f"train.curriculum.{key}", kind, low)
        if values["device"] not in ("auto", "cpu", "cuda"):
            raise ParamsError(f"'{params['scale']}.train.device' must be auto, cpu or cuda, got {values['device']!r}")
        return cls(**values)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


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
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in fields})


OUTPUT_FILES = ("checkpoint.pt", "train_log.csv", "dev_log.csv", "summary.json")


def _resume(ckpt_path: Path, identity: dict, main: bool) -> dict | None:
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


def train(model_name: str, params: dict, data_dir: str | Path, out_dir: str | Path,
          work_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train (or continue training) ``model_name``; returns the summary also written to summary.json."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    work_dir = Path(work_dir) if work_dir else out_dir
    for d in (out_dir, work_dir):
        d.mkdir(parents=True, exist_ok=True)
    with exclusive(work_dir / ".lock", f"training {model_name}"):
        return _train(model_name, params, data_dir, out_dir, work_dir, progress)


def _train(model_name: str, params: dict, data_dir: Path, out_dir: Path, work_dir: Path, progress: bool) -> dict:
    cfg = TrainConfig.from_params(params, model_name)
    hparams = model_hparams(params, model_name)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    if cfg.buckets[-1] < get(params, "prepare.max_width", int):
        raise ParamsError(f"'{params['scale']}.train.buckets' ends at {cfg.buckets[-1]} but prepare.max_width "
                          f"is {params['prepare']['max_width']}: the widest training pairs fit no bucket")
    # the data this run reads must be the data the fingerprint names
    verify_files(data_dir, manifest["files"], ("train.npz", "dev.npz"))
    device = pick_device(cfg.device)
    # The thread count is part of the result on CPU (it sets the summation order of multi-threaded
    # kernels), so it comes from the preset, never from the machine or the engine's --cores.
    torch.set_num_threads(cfg.threads)
    # Multi-threaded CPU kernels (e.g. embedding backward) otherwise sum in a varying order, and two
    # runs of one commit drift apart; on CUDA, ops without a deterministic version only warn.
    torch.use_deterministic_algorithms(cfg.deterministic, warn_only=True)
    dist = distributed.init(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    train_split = EncodedSplit(data_dir / "train.npz")
    dev_split = EncodedSplit(data_dir / "dev.npz")

    torch.manual_seed(cfg.seed)
    model = models.build(model_name, manifest["vocab_size"], **hparams).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    torch.manual_seed(cfg.seed + dist.rank)  # same initial weights everywhere, own dropout per rank
    state = {"step": 0, "epoch": 0, "position": 0, "lr_scale": 1.0, "dev_history": [], "last_eval_step": -1,
             "best_dev_perplexity": math.inf, "evals_without_improvement": 0, "seconds": 0.0,
             "stop_reason": None, "curriculum": curriculum.start(cfg.curriculum)}
    ckpt_path = work_dir / "checkpoint.pt"
    log_path, dev_path = work_dir / "train_log.csv", work_dir / "dev_log.csv"
    identity = run_identity(model_name, dataclasses.asdict(model.config), dataclasses.asdict(cfg), manifest["files"])
    ckpt = _resume(ckpt_path, identity, dist.main)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        state = ckpt["state"]
        torch.set_rng_state(ckpt["rng"]["torch"])
        if device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"])
        if dist.main:
            _rewrite_log(log_path, LOG_FIELDS, state["step"])
            _rewrite_log(dev_path, DEV_FIELDS, state["step"])
    elif dist.main:
        for stale in (log_path, dev_path, work_dir / "summary.json"):
            stale.unlink(missing_ok=True)

    if dist.world > 1:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        net = model
    if cfg.compile and device.type == "cuda":
        net = torch.compile(net)
    autocast = cfg.bf16 and device.type == "cuda"
    batcher = BucketBatcher(train_split, cfg.buckets, cfg.batch_tokens, cfg.seed, rank=dist.rank, world=dist.world)
    narrowest = min(edge for edge, members in zip(batcher.edges, batcher.members) if len(members))
    stream = batcher.iterate(state["epoch"], state["position"],
                             admit=lambda edge: curriculum.admits(state["curriculum"], edge, narrowest))

    def save_checkpoint() -> None:
        if not dist.main:
            return
        rng = {"torch": torch.get_rng_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state()
        checkpoint.save(ckpt_path, {"model_name": model_name, "vocab_size": manifest["vocab_size"],
                                    "identity": identity,
                                    "model_config": dataclasses.asdict(model.config),
                                    "train_config": dataclasses.asdict(cfg), "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "state": state, "rng": rng})

    def evaluate_dev() -> bool:
        """Dev perplexity; returns True when patience is exhausted."""
        nll, tokens = split_nll(model, dev_split, device, cfg.eval_batch_size, autocast=autocast)
        ppl = math.exp(nll / tokens)
        state["dev_history"].append(ppl)
        state["last_eval_step"] = state["step"]
        if plateau_decay(state["dev_history"], cfg.plateau_window):
            state["lr_scale"] *= cfg.lr_decay
        if ppl < state["best_dev_perplexity"]:
            state["best_dev_perplexity"], state["evals_without_improvement"] = ppl, 0
        else:
            state["evals_without_improvement"] += 1
        if dist.main:
            _append(dev_path, DEV_FIELDS, {"step": state["step"], "dev_perplexity": ppl,
                                           "lr": cfg.lr * state["lr_scale"]})
        return cfg.patience > 0 and state["evals_without_improvement"] >= cfg.patience

    if state["stop_reason"] is not None:
        # this very run has already finished: nothing to train, its files are the result
        if dist.main:
            print(f"{ckpt_path}: this run already finished ({state['stop_reason']} at step {state['step']}): "
                  f"reusing it")
    else:
        state["stop_reason"] = _run_steps(model_name, cfg, state, model, net, optimizer, stream, device, dist,
                                          autocast, log_path, evaluate_dev, save_checkpoint, progress)
        if state["last_eval_step"] != state["step"]:
            evaluate_dev()
        save_checkpoint()
    summary = {"model": model_name, "steps": state["step"], "max_steps": cfg.max_steps,
               "seconds": state["seconds"], "stop_reason": state["stop_reason"],
               # a wall-clock stop depends on the machine: its numbers are not the preset's
               "truncated": state["stop_reason"] == "max_minutes",
               "best_dev_perplexity": state["best_dev_perplexity"],
               "final_dev_perplexity": state["dev_history"][-1], "parameters": model.num_parameters(),
               "world_size": dist.world, "device": device.type,
               "provenance": provenance(params, device.type, cfg.threads, cfg.seed)}
    if dist.main:
        write_json(work_dir / "summary.json", summary)
        if work_dir.resolve() != out_dir.resolve():
            for name in OUTPUT_FILES:
                copy_file(work_dir / name, out_dir / name)
    dist.barrier()
    distributed.shutdown(dist)
    return summary


def _run_steps(model_name, cfg, state, model, net, optimizer, stream, device, dist, autocast, log_path,
               evaluate_dev, save_checkpoint, progress) -> str:
    """The training steps from ``state["step"]`` on; returns why they stopped."""
    bar = tqdm(total=cfg.max_steps, initial=state["step"], desc=model_name, unit="step",
               disable=not (progress and dist.main), mininterval=1.0)
    started = time.perf_counter() - state["seconds"]
    window_tokens, window_start = 0, time.perf_counter()
    stop_reason = "max_steps"
    model.train()
    while state["step"] < cfg.max_steps:
        if cfg.max_minutes and time.perf_counter() - started > 60 * cfg.max_minutes:
            stop_reason = "max_minutes"
            break
        epoch, position, batch = next(stream)
        batch = batch.to(device)
        rate = sampling_rate(state["step"], cfg.sampling["start_rate"], cfg.sampling["max_rate"],
                             cfg.sampling["double_every"])
        if hasattr(model, "sampling_probability"):
            model.sampling_probability = rate
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * state["lr_scale"]
        local_tokens = batch.target_tokens
        (global_tokens,) = dist.all_sum(local_tokens)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = net(batch.src, batch.tgt_in)
        loss = smoothed_loss(logits, batch.tgt_out, cfg.label_smoothing)
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"{model_name}: non-finite loss {loss.item()} at step {state['step'] + 1} "
                                f"(epoch {epoch}, batch {position}, pairs {batch.indices[:8].tolist()}…); "
                                f"the last good checkpoint is intact")
        optimizer.zero_grad(set_to_none=True)
        (loss * (local_tokens * dist.world / global_tokens)).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        optimizer.step()

        state["step"] += 1
        state["epoch"], state["position"] = epoch, position + 1
        if state["curriculum"]:
            with torch.no_grad():
                nll, _ = token_nll(logits.detach(), batch.tgt_out)
            nll_sum, token_sum = dist.all_sum(nll.item(), local_tokens)
            curriculum.record(state["curriculum"], cfg.curriculum, state["step"], nll_sum, int(token_sum))
        state["seconds"] = time.perf_counter() - started
        window_tokens += global_tokens
        bar.update(1)
        if state["step"] % cfg.log_every == 0 or state["step"] == cfg.max_steps:
            with torch.no_grad():
                nll, n = token_nll(logits.detach(), batch.tgt_out)
            loss_sum, nll_sum = dist.all_sum(loss.item() * local_tokens, nll.item())
            now = time.perf_counter()
            row = {"step": state["step"], "epoch": epoch, "loss": loss_sum / global_tokens,
                   "perplexity": math.exp(min(nll_sum / global_tokens, 50.0)),  # no overflow early on
                   "lr": cfg.lr * state["lr_scale"], "grad_norm": float(grad_norm),
                   "tokens_per_s": window_tokens / max(now - window_start, 1e-9), "sampling": rate,
                   "seconds": state["seconds"]}
            window_tokens, window_start = 0, now
            bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
            if dist.main:
                _append(log_path, LOG_FIELDS, row)
        if state["step"] % cfg.eval_every == 0 and evaluate_dev():
            stop_reason = "patience"
            break
        if state["step"] % cfg.checkpoint_every == 0:
            save_checkpoint()
    bar.close()
    return stop_reason
