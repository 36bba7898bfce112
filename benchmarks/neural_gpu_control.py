"""Positive control (issue 29 item 1): does our Neural GPU learn binary addition that generalises in length,
as Kaiser & Sutskever's did ("Neural GPUs Learn Algorithms", 2016: 20-bit training, 100% at 100×)?

One task per model, trained the 2015 way (``docs/original-code.md`` §2.3, §3.3, §5): every batch holds
pairs of one length, drawn by the sequence-error length curriculum with mixed lengths
(``train/length_curriculum.py``); Adam with the 2015 trainer's lr, ε and clip; state dropout. The test
inputs of every test length are drawn first and training never sees them (``data/algorithmic.held_out``,
``excluding``). Test: sequence accuracy per length, greedy (for the Neural GPU the argmax at every output
position; an answer is right when every bit and the EOS after it are), on ``test_pairs`` held-out pairs.

Why a script and not a scale of the pipeline: the pipeline's training loop trains every task of a scale
in one model on width buckets with a perplexity-gated curriculum; the control needs one task per model,
one length per batch and a curriculum on sequence error, which would be a second training loop inside
``train/loop.py``. This script drives the same model, generator and tokens; its settings are the
``control`` block of ``params.yaml`` read through ``load_settings`` (``--set key=value`` overrides one,
for the ablations), its results go to ``<out>/<run>/``: ``log.jsonl`` (one line per ``log_every``
steps), ``checkpoint.pt`` (resumable: rerun the same command), ``result.json``.

    python benchmarks/neural_gpu_control.py --seed 1 --out results/control
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from activemem import config, models
from activemem.data import algorithmic
from activemem.data.algorithmic import SymbolVocab
from activemem.tokens import EOS, PAD
from activemem.train import length_curriculum, lr_decay

ROOT = Path(__file__).resolve().parents[1]


def load_settings(path: Path = ROOT / "params.yaml") -> dict:
    """The ``control`` block of ``params.yaml`` (see its comments), checked (``schema.Control``)."""
    raw = config.read(path)
    config.check(raw, path)
    return raw["control"]


def override(settings: dict, assignments: list[str]) -> dict:
    """``key=value`` or ``a.b=value`` (YAML value) over a copy of ``settings``; unknown keys raise."""
    settings = json.loads(json.dumps(settings))
    for item in assignments:
        dotted, value = item.split("=", 1)
        *parents, last = dotted.split(".")
        node = settings
        for p in parents:
            node = node[p]
        if last not in node:
            raise KeyError(f"--set {dotted}: not a key of the control settings ({', '.join(node)})")
        node[last] = yaml.safe_load(value)
    return settings


def length_of(task: str, size: int) -> int:
    """The generator's input length for ``size`` (operand bits of add/mul, else symbols)."""
    return 2 * size + 1 if task in algorithmic.OPERATORS else size


def encode(vocab: SymbolVocab, pairs: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources ``[B, S]`` and targets with EOS ``[B, T]``; all pairs of one length: no padding."""
    src = torch.tensor(vocab.encode([s for s, _ in pairs]))
    tgt = torch.tensor([ids + [EOS] for ids in vocab.encode([t for _, t in pairs])])
    return src, tgt


def sequence_right(logits: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: every output position's argmax is the target (bits, then EOS)."""
    return (logits.argmax(-1) == tgt).all(dim=1)


def build(settings: dict, vocab: SymbolVocab):
    return models.build("neural_gpu", len(vocab), **settings["model"])


def relaxation_pull(model) -> torch.Tensor:
    return torch.zeros(())


@torch.no_grad()
def test(model, vocab: SymbolVocab, pairs: list[tuple[str, str]], batch_tokens: int) -> dict:
    """Sequence and symbol accuracy of greedy answers on ``pairs`` (one length)."""
    model.eval()
    width = len(pairs[0][0].split())
    batch = max(1, batch_tokens // width)
    right = wrong_symbols = symbols = 0
    for i in range(0, len(pairs), batch):
        src, tgt = encode(vocab, pairs[i:i + batch])
        logits = model(src, tgt, width=src.size(1))
        right += int(sequence_right(logits, tgt).sum())
        wrong_symbols += int((logits.argmax(-1) != tgt).sum())
        symbols += tgt.numel()
    model.train()
    return {"pairs": len(pairs), "sequence_accuracy": right / len(pairs),
            "symbol_error": wrong_symbols / symbols}


def dev_set(data: dict, task: str, banned: set[str]) -> list[tuple[str, str]]:
    """``dev_pairs`` distinct pairs at ``dev_size``, none of them a test input (so never one the tests
    score), from their own stream; training never sees them either (they join ``banned``)."""
    if not data["dev_pairs"]:
        return []
    rng, chosen = random.Random(f"control:{data['seed']}:dev:{task}:{data['dev_size']}"), {}
    while len(chosen) < data["dev_pairs"]:
        source, target = algorithmic.excluding(rng, task, length_of(task, data["dev_size"]), banned | set(chosen))
        chosen[source] = target
    return list(chosen.items())


def lr_now(state: dict, tr: dict) -> float:
    """This step's lr: the settle schedule's, times the 2015 rule's scale."""
    cur = state["curriculum"]
    at_top = lr_decay.steps_at_top(cur["grown_at"], cur["length"], tr["stop_size"], state["step"])
    return lr_decay.settle_lr(tr["lr"], at_top, tr["settle_steps"], tr["settle_lrs"], tr["settle_phase_steps"]) \
        * state["decay"]["scale"]


def dev_due(state: dict, settings: dict) -> bool:
    """A dev check after this step: every ``dev_every`` steps from the end of the base-lr settle on."""
    tr, every = settings["train"], settings["data"]["dev_every"]
    cur = state["curriculum"]
    at_top = lr_decay.steps_at_top(cur["grown_at"], cur["length"], tr["stop_size"], state["step"])
    return bool(every and settings["data"]["dev_pairs"]) and at_top is not None \
        and at_top >= tr["settle_steps"] and (at_top - tr["settle_steps"]) % every == 0


def better(new: dict, old: dict | None) -> bool:
    """Dev order: more sequences right, then fewer symbols wrong; a tie goes to the later (lower-lr) check."""
    return old is None or (new["sequence_accuracy"], -new["symbol_error"]) >= \
        (old["sequence_accuracy"], -old["symbol_error"])


def train(settings: dict, seed: int, run_dir: Path, init: Path | None = None) -> dict:
    torch.set_num_threads(settings["threads"])
    task, data, tr = settings["task"], settings["data"], settings["train"]
    vocab = SymbolVocab()
    longest = data["train_size"]
    tests = {size: algorithmic.held_out(data["seed"], task, length_of(task, size), data["test_pairs"])
             for size in data["test_sizes"]}
    banned = {s for pairs in tests.values() for s, _ in pairs}
    dev = dev_set(data, task, banned)
    banned |= {s for s, _ in dev}
    torch.manual_seed(seed)
    model = build(settings, vocab)
    opt = torch.optim.Adam(model.parameters(), lr=tr["lr"], eps=tr["adam_eps"])
    rng = random.Random(f"control:{seed}")
    cur = tr["curriculum"]
    state = {"step": 0, "seconds": 0.0, "curriculum": length_curriculum.start(cur["start"]),
             "decay": lr_decay.plateau_start(), "dev": [], "best": None}
    ckpt = run_dir / "checkpoint.pt"
    run_dir.mkdir(parents=True, exist_ok=True)
    best_weights = None                                 # the weights of the best dev check so far
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if same_training(saved["settings"], settings) and saved["seed"] == seed:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            state = saved["state"]
            best_weights = saved.get("best_weights")
            rng.setstate(saved["rng"])
            torch.set_rng_state(saved["torch_rng"])
            print(f"resumed at step {state['step']}", file=sys.stderr)
    elif init is not None:  # a second phase: another run's weights, optimiser and curriculum, these settings' lr
        saved = torch.load(init / "checkpoint.pt", weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state = {**saved["state"], "decay": lr_decay.plateau_start(), "dev": [], "best": None}
        rng.setstate(saved["rng"])
        print(f"started from {init.name} at step {state['step']}, lr {tr['lr']}", file=sys.stderr)
    log = open(run_dir / "log.jsonl", "a")
    window = {"loss": 0.0, "wrong": 0, "seen": 0, "n": 0}
    t0 = time.perf_counter() - state["seconds"]
    while state["step"] < tr["max_steps"] and not finished(state, tr) and not out_of_time(t0, tr):
        state["step"] += 1
        step = state["step"]
        size = length_curriculum.sample_length(rng, state["curriculum"], cur["shortest"], longest,
                                               cur["p_max_of_two"], cur["p_mixed"])
        pairs = [algorithmic.excluding(rng, task, length_of(task, size), banned) for _ in range(tr["batch"])]
        src, tgt = encode(vocab, pairs)
        lr = lr_now(state, tr)
        for group in opt.param_groups:
            group["lr"] = lr
        logits = model(src, tgt, width=src.size(1))
        loss = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        (loss + relaxation_pull(model)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tr["clip_norm"])
        opt.step()
        wrong = int((~sequence_right(logits.detach(), tgt)).sum())
        length_curriculum.record(state["curriculum"], size, wrong, len(pairs))
        window["loss"] += float(loss.detach()); window["wrong"] += wrong; window["seen"] += len(pairs); window["n"] += 1
        lr_decay.plateau_record(state["decay"], float(loss.detach()))
        if step % cur["every"] == 0:
            length_curriculum.check(state["curriculum"], step, cur["bound"], longest)
            lr_decay.plateau_check(state["decay"], step, tr["decay_factor"], tr["decay_window"])
        if dev_due(state, settings):
            check = {"step": step, "lr": lr, **test(model, vocab, dev, settings["eval_batch_tokens"])}
            state["dev"].append(check)
            print(f"dev {data['dev_size']} at step {step}: {check}", file=sys.stderr)
            if better(check, state["best"]):
                state["best"] = check
                best_weights = {k: v.clone() for k, v in model.state_dict().items()}
        if step % settings["log_every"] == 0:
            state["seconds"] = time.perf_counter() - t0
            line = {"step": step, "seconds": round(state["seconds"], 1), "size": state["curriculum"]["length"],
                    "loss": round(window["loss"] / window["n"], 4),
                    "seq_error": round(window["wrong"] / window["seen"], 4),
                    "curriculum_error": state["curriculum"].get("last_error"), "lr": lr}
            log.write(json.dumps(line) + "\n"); log.flush()
            window = {"loss": 0.0, "wrong": 0, "seen": 0, "n": 0}
        if step % settings["checkpoint_every"] == 0:
            state["seconds"] = time.perf_counter() - t0
            torch.save({"settings": settings, "seed": seed, "model": model.state_dict(),
                        "optimizer": opt.state_dict(), "state": state, "rng": rng.getstate(),
                        "torch_rng": torch.get_rng_state(), "best_weights": best_weights}, ckpt.with_suffix(".tmp"))
            ckpt.with_suffix(".tmp").replace(ckpt)
    state["seconds"] = time.perf_counter() - t0
    torch.save({"settings": settings, "seed": seed, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "state": state, "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(), "best_weights": best_weights}, ckpt.with_suffix(".tmp"))
    ckpt.with_suffix(".tmp").replace(ckpt)
    tested_step = state["step"]
    if best_weights is not None and data["keep_best"]:   # test the weights of the best dev check
        model.load_state_dict(best_weights)
        tested_step = state["best"]["step"]
    results = evaluate(model, vocab, tests, settings, task)
    stopped = ("settled" if finished(state, tr) else "max_steps" if state["step"] >= tr["max_steps"]
               else "max_minutes")
    out = {"seed": seed, "task": task, "steps": state["step"], "stopped": stopped, "train_seconds": round(state["seconds"], 1),
           "curriculum_size": state["curriculum"]["length"], "grown_at": state["curriculum"]["grown_at"],
           "parameters": sum(p.numel() for p in model.parameters()), "test": results, "tested_step": tested_step,
           "dev_size": data["dev_size"], "dev": state["dev"], "lr_decayed_at": state["decay"]["decayed_at"],
           "held_out_inputs": len(banned), "settings": settings}
    (run_dir / "result.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


# Settings that say when to stop or what to test, not how to train: a run resumed with other values of
# these is the same run, continued (more steps) or tested elsewhere; any other change starts over.
# (The settle schedule is training: it sets the lr. ``keep_best`` only picks which weights the tests score.)
STOPPING = {("train", "max_steps"), ("train", "max_minutes"), ("data", "test_sizes"), ("data", "keep_best"),
            ("data", "long_test_gate"), ("eval_batch_tokens",), ("log_every",), ("checkpoint_every",)}


def same_training(a: dict, b: dict) -> bool:
    """Whether ``a`` and ``b`` train the same model (they differ at most in ``STOPPING``)."""
    def without(settings: dict) -> dict:
        settings = json.loads(json.dumps(settings))
        for *parents, last in STOPPING:
            node = settings
            for p in parents:
                node = node[p]
            node.pop(last, None)
        return settings
    return without(a) == without(b)


def out_of_time(t0: float, tr: dict) -> bool:
    """The wall-clock cap (``max_minutes``, 0 = none): a budget, recorded in the result as ``stopped``."""
    return bool(tr["max_minutes"]) and time.perf_counter() - t0 > 60 * tr["max_minutes"]


def finished(state: dict, tr: dict) -> bool:
    """Stop once the curriculum has reached ``stop_size`` and the settle schedule (``settle_steps`` at the
    base lr, then ``settle_phase_steps`` at each of ``settle_lrs``) is done there."""
    cur = state["curriculum"]
    at_top = lr_decay.steps_at_top(cur["grown_at"], cur["length"], tr["stop_size"], state["step"])
    return lr_decay.settled(at_top, tr["settle_steps"], tr["settle_lrs"], tr["settle_phase_steps"])


def evaluate(model, vocab, tests: dict, settings: dict, task: str) -> dict:
    """Every test size in turn; a longer one only while the previous one scored at least ``gate``."""
    results, gate = {}, settings["data"]["long_test_gate"]
    for size in sorted(tests):
        t = time.perf_counter()
        r = test(model, vocab, tests[size], settings["eval_batch_tokens"])
        r["seconds"] = round(time.perf_counter() - t, 1)
        results[str(size)] = r
        print(f"size {size}: {r}", file=sys.stderr)
        if r["sequence_accuracy"] < gate:
            for rest in sorted(tests):
                if rest > size:
                    results[str(rest)] = {"skipped": f"size {size} scored below {gate}"}
            break
    return results


def summarize(out: Path, snapshot: Path) -> None:
    """Every run under ``out`` (finished or not) into ``snapshot``: ``runs.json`` and ``runs.md``.

    A run already in the snapshot whose folder is not under ``out`` (made elsewhere, its folder gone) is
    kept as recorded, marked ``earlier``: its ``changed`` list is against the block as it was then."""
    base = load_settings()
    runs = []
    here = {p.name for p in out.iterdir() if p.is_dir()}
    if (snapshot / "runs.json").exists():
        runs = [{**r, "earlier": True} for r in json.loads((snapshot / "runs.json").read_text())
                if r["run"] not in here]
    for run_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()] \
            if (run_dir / "log.jsonl").exists() else []
        result = json.loads((run_dir / "result.json").read_text()) if (run_dir / "result.json").exists() else None
        settings = result["settings"] if result else None
        if settings is None and (run_dir / "checkpoint.pt").exists():
            saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)
            settings = saved["settings"]
        runs.append({"run": run_dir.name, "finished": result is not None,
                     "changed": differences(base, settings) if settings else None,
                     "curriculum": [(line["step"], line["seconds"], line["size"]) for line in log],
                     **({k: v for k, v in result.items() if k != "settings"} if result else
                        {"steps": log[-1]["step"] if log else 0, "train_seconds": log[-1]["seconds"] if log else 0,
                         "curriculum_size": log[-1]["size"] if log else None})})
    runs.sort(key=lambda r: r["run"])
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / "runs.json").write_text(json.dumps(runs, indent=1) + "\n")
    rows = ["| run | changed from params.yaml control | seed | steps | train s | size reached | "
            "seq. acc. per test size (held-out pairs) | weights tested (step) | dev checks: step seq. acc. | stopped |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        tests = "; ".join(f"{size}: " + (f"{t['sequence_accuracy']:.4f} ({t['pairs']})" if "pairs" in t else "not run")
                          for size, t in r.get("test", {}).items()) or "no test (stopped early)"
        changed = ", ".join(r["changed"] or []) or "-"
        dev = "; ".join(f"{d['step']} {d['sequence_accuracy']:.2f}" for d in r.get("dev", [])) or "-"
        if dev != "-":
            dev = f"({r['dev_size']} bits) {dev}"
        rows.append(f"| {r['run']} | {'(earlier block) ' + changed if r.get('earlier') else changed} | "
                    f"{r.get('seed', '')} | {r['steps']} | {r['train_seconds']} | {r['curriculum_size']} | {tests} | "
                    f"{r.get('tested_step', r['steps'])} | {dev} | {r.get('stopped', 'killed')} |")
    (snapshot / "runs.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def replay_decay(log: list[dict], check_every: int, factor: float, window: int) -> dict:
    """The 2015 rule run over a run's ``log.jsonl`` (mean training loss per ``log_every`` steps), checking
    every ``check_every`` steps: where it would have lowered the lr, had nothing else changed. Exact up to
    its first decay (the run trained at the lr it logged); an indication after it."""
    state = lr_decay.plateau_start()
    for line in log:
        lr_decay.plateau_record(state, line["loss"])
        if line["step"] % check_every == 0:
            lr_decay.plateau_check(state, line["step"], factor, window)
    return {"decayed_at": state["decayed_at"], "scale": state["scale"]}


def differences(base, settings, prefix: str = "") -> list[str]:
    if isinstance(base, dict) and isinstance(settings, dict):
        return [d for k in sorted(set(base) | set(settings))
                for d in differences(base.get(k), settings.get(k), f"{prefix}{k}.")]
    return [] if base == settings else [f"{prefix[:-1]}={settings}"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "control")
    ap.add_argument("--run", default=None, help="run folder name (default: seed<seed>)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--init", type=Path, metavar="RUN_DIR",
                    help="start from another run's checkpoint (weights, optimiser, curriculum, step) with "
                         "these settings (e.g. a lower lr): a second training phase")
    ap.add_argument("--summarize", type=Path, metavar="SNAPSHOT",
                    help="only collect every run under --out into SNAPSHOT (runs.json, runs.md)")
    ap.add_argument("--replay-decay", type=Path, metavar="RUN_DIR",
                    help="only print where the 2015 rule (decay_factor, decay_window; e.g. --set "
                         "train.decay_factor=0.98) would have lowered the lr in RUN_DIR's log, checking every "
                         "50 and every 200 steps")
    args = ap.parse_args(argv)
    if args.replay_decay:
        tr = override(load_settings(), args.set)["train"]
        log = [json.loads(line) for line in (args.replay_decay / "log.jsonl").read_text().splitlines()]
        for every in (50, 200):  # our check interval and the 2015 code's
            print(f"checks every {every} steps, ×{tr['decay_factor']} over {tr['decay_window']}:",
                  replay_decay(log, every, tr["decay_factor"], tr["decay_window"]))
        return
    if args.summarize:
        summarize(args.out, args.summarize)
        return
    settings = override(load_settings(), args.set)
    out = train(settings, args.seed, args.out / (args.run or f"seed{args.seed}"), args.init)
    print(json.dumps({k: v for k, v in out.items() if k != "settings"}, indent=1))


if __name__ == "__main__":
    main()
