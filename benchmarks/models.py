"""Training throughput and peak memory of every registry model, and the fast path's before/after.

    python benchmarks/models.py                  # all three tables below, CPU or the first GPU
    python benchmarks/models.py --table models --maps 256 --length 60 --batch 32   # paper WMT sizes
    python benchmarks/models.py --preset paper   # one step per model at a preset's sizes: FLOPs, memory, GPU hours

``--preset`` is ``benchmarks/paper_cost.py`` (see there); without it:

Tables: ``models`` (every registry model at one size), ``train`` (the Extended Neural GPU's training
step before and after the fast path, at the two shapes of issue 11: maps 64/height 4/batch 16/
width 24/vocab 8000 and maps 32/height 4/batch 32/width 24/vocab 100) and ``decode`` (a demo-sized
Extended Neural GPU, beam 4: the old fixed-width decode, the new fixed-width decode and the new
width search, in sentences per second). "Before" is ``benchmarks/baseline_extended.py``, a frozen
copy of the code before the fast path; before and after run in one process, interleaved, and the
best of the rounds is kept, because other processes share the CPU.

Each model runs in a fresh subprocess so that its peak resident memory (CPU) is its own; on CUDA
the peak is ``torch.cuda.max_memory_allocated`` and the step runs under bf16 autocast, as training
does. Tokens/s counts target tokens per second of training step, after one warm-up step.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import torch

from activemem import models
from activemem.models.width_search import candidate_widths
from activemem.tokens import BOS, PAD, RESERVED
from activemem.train.loss import smoothed_loss

import baseline_extended  # noqa: E402  (benchmarks/ is the script's directory, so on sys.path)
import paper_cost  # noqa: E402


def hparams(name: str, args) -> dict:
    """The model's size beside an active memory of ``--maps`` × ``--height`` (its Config says how)."""
    return models.config_class(name).at_size(args.maps, args.height)


def measure(name: str, args) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = models.build(name, args.vocab, **hparams(name, args)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    src = torch.randint(RESERVED, args.vocab, (args.batch, args.length), device=device)
    target = torch.randint(RESERVED, args.vocab, (args.batch, args.length), device=device)
    tgt_in = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = smoothed_loss(model(src, tgt_in), target, 0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocator, kernels
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    seconds = (time.perf_counter() - start) / args.steps
    return {"model": name, "params": model.num_parameters(), "step_s": seconds,
            "tokens_per_s": args.batch * args.length / seconds, "peak_mib": peak}


def interleaved(runs: dict, rounds: int) -> dict:
    """Best seconds per call of each function, calling them in turn ``rounds`` times."""
    for fn in runs.values():
        fn()  # warm-up: allocator, kernels
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def extended_pair(vocab: int, hparams: dict):
    """The old and the new Extended Neural GPU with the same parameters."""
    torch.manual_seed(0)
    new = models.build("extended_neural_gpu", vocab, **hparams)
    old = baseline_extended.build(vocab, **hparams)
    old.load_state_dict(new.state_dict())
    return old, new


def train_table(rounds: int) -> None:
    print("\nExtended Neural GPU training step, before/after the fast path (same parameters, same batch)")
    print(f"{'maps':>4} {'height':>6} {'batch':>5} {'width':>5} {'vocab':>5} {'before s':>9} "
          f"{'after s':>8} {'speed-up':>8}  max |logit diff|")
    for maps, height, batch, width, vocab in [(64, 4, 16, 24, 8000), (32, 4, 32, 24, 100)]:
        old, new = extended_pair(vocab, {"maps": maps, "height": height})
        src = torch.randint(RESERVED, vocab, (batch, width))
        target = torch.randint(RESERVED, vocab, (batch, width))
        tgt_in = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)
        with torch.no_grad():
            diff = (old.eval()(src, tgt_in) - new.eval()(src, tgt_in)).abs().max().item()
        runs = {}
        for name, model in (("before", old.train()), ("after", new.train())):
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

            def step(model=model, optimizer=optimizer):
                loss = smoothed_loss(model(src, tgt_in), target, 0.1)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            runs[name] = step
        best = interleaved(runs, rounds)
        print(f"{maps:>4} {height:>6} {batch:>5} {width:>5} {vocab:>5} {best['before']:>9.3f} "
              f"{best['after']:>8.3f} {best['before'] / best['after']:>7.2f}×  {diff:.1e}")


def decode_table(rounds: int, sentences: int) -> None:
    """Sentences per second of a demo-sized model (params.yaml demo: maps 48, height 2, vocab 1000)."""
    hparams = {"maps": 48, "height": 2, "dropout": 0.0, "gate_bias": 2.0}
    old, new = extended_pair(1000, hparams)
    old.eval(), new.eval()
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(4, 17, (sentences,), generator=g).sort().values   # sub-words, like the demo
    src_all = torch.full((sentences, int(lengths.max())), PAD)
    for i, n in enumerate(lengths.tolist()):
        src_all[i, :n] = torch.randint(RESERVED, 1000, (n,), generator=g)
    batch, beam, alpha = 64, 4, 0.6                                      # params.yaml demo.evaluate
    buckets = [8, 12, 16, 20, 24, 28, 32]                                # params.yaml demo.train.buckets

    def decode(model, width):
        def run():
            with torch.no_grad():
                for i in range(0, sentences, batch):
                    src = src_all[i:i + batch]
                    src = src[:, :int((src != PAD).sum(1).max())]
                    max_len = math.ceil(1.5 * src.size(1)) + 5
                    if width == "search, every width":   # every width up to the widest bucket
                        trained = list(range(1, buckets[-1] + 1))
                        model.hypotheses(src, max_len, beam, alpha, width="search", trained_widths=trained)
                    elif width == "search":
                        model.hypotheses(src, max_len, beam, alpha, width="search", trained_widths=buckets)
                    else:
                        model.hypotheses(src, max_len, beam, alpha)
        return run
    best = interleaved({"before, fixed width": decode(old, "fixed"),
                        "after, fixed width": decode(new, "fixed"),
                        "after, search every width": decode(new, "search, every width"),
                        "after, search buckets": decode(new, "search")}, rounds)
    print(f"\nDecoding, demo-sized Extended Neural GPU (untrained: every hypothesis runs to its width), "
          f"{sentences} sentences of 4–16 sub-words, beam {beam}, batch {batch}, search widths: every "
          f"width or the training buckets {buckets} in |src|…2|src|+8")
    # The search decodes every sentence once per candidate width: its cost per (sentence, width)
    # decode is the fair comparison with one fixed-width decode per sentence.
    every = list(range(1, buckets[-1] + 1))
    decodes = {"search every width": sum(len(candidate_widths(n, every)) for n in lengths.tolist()),
               "search buckets": sum(len(candidate_widths(n, buckets)) for n in lengths.tolist())}
    print(f"{'decode':<26} {'sentences/s':>11} {'widths/sentence':>15} {'decodes/s':>9}")
    for name, seconds in best.items():
        count = next((c for key, c in decodes.items() if name.endswith(key)), sentences)
        print(f"{name:<26} {sentences / seconds:>11.1f} {count / sentences:>15.2f} {count / seconds:>9.1f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--maps", type=int, default=64)
    parser.add_argument("--height", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--batch", type=int,
                        help="sentences per step (default 16; with --preset: the measured batch, default "
                             "the preset's per-GPU batch on CUDA, 4 on CPU)")
    parser.add_argument("--length", type=int, default=24, help="source = target = memory width")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--table", choices=["models", "train", "decode"], action="append",
                        help="print only these tables (repeatable; default: all three)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of before/after")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for the train and decode tables (0: torch's default); on a "
                             "shared machine 1 thread gives steadier before/after ratios")
    parser.add_argument("--sentences", type=int, default=128, help="sentences in the decode table")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    paper_cost.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.preset:
        paper_cost.run(args)
        return
    if args.batch is None:
        args.batch = 16
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return
    tables = args.table or ["models", "train", "decode"]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads={torch.get_num_threads()} torch={torch.__version__}")
    if "models" in tables:
        models_table(args, argv)
    if "train" in tables:
        train_table(args.rounds)
    if "decode" in tables:
        decode_table(args.rounds, args.sentences)


def models_table(args, argv) -> None:
    print(f"device={args.device} torch={torch.__version__} maps={args.maps} height={args.height} "
          f"batch={args.batch} length={args.length} vocab={args.vocab}")
    print(f"{'model':<24} {'params':>12} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>9}")
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    passthrough = [a for i, a in enumerate(passthrough)
                   if a != "--table" and (i == 0 or passthrough[i - 1] != "--table")]
    for name in models.NAMES:
        out = subprocess.run([sys.executable, __file__, *passthrough, "--one", name],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['model']:<24} {r['params']:>12,} {r['step_s']:>8.3f} {r['tokens_per_s']:>10.0f} "
              f"{r['peak_mib']:>9.0f}")


if __name__ == "__main__":
    main()
