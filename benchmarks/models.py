"""Training throughput and peak memory of every registry model on the current device.

    python benchmarks/models.py                  # fixed default config, CPU or the first GPU
    python benchmarks/models.py --maps 256 --length 60 --batch 32   # the paper's WMT sizes

Each model runs in a fresh subprocess so that its peak resident memory (CPU) is its own; on CUDA
the peak is ``torch.cuda.max_memory_allocated`` and the step runs under bf16 autocast, as training
does. Tokens/s counts target tokens per second of training step, after one warm-up step.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from activemem import models
from activemem.tokens import BOS, RESERVED
from activemem.train.loss import smoothed_loss


def hparams(name: str, args) -> dict:
    if name == "gru_attention":
        return {"embedding_dim": args.maps, "hidden": 2 * args.maps, "attention_dim": 2 * args.maps}
    return {"maps": args.maps, "height": args.height}


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--maps", type=int, default=64)
    parser.add_argument("--height", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=24, help="source = target = memory width")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return
    print(f"device={args.device} torch={torch.__version__} maps={args.maps} height={args.height} "
          f"batch={args.batch} length={args.length} vocab={args.vocab}")
    print(f"{'model':<24} {'params':>12} {'s/step':>8} {'tokens/s':>10} {'peak MiB':>9}")
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    for name in models.NAMES:
        out = subprocess.run([sys.executable, __file__, *passthrough, "--one", name],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['model']:<24} {r['params']:>12,} {r['step_s']:>8.3f} {r['tokens_per_s']:>10.0f} "
              f"{r['peak_mib']:>9.0f}")


if __name__ == "__main__":
    main()
