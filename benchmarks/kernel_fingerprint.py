"""Does this machine compute what the committed results were computed with? One command, seconds.

    python benchmarks/kernel_fingerprint.py                 # pinned kernels (avx2), checked against the record
    python benchmarks/kernel_fingerprint.py --kernels native --no-check   # this machine's own kernels

One training step's arithmetic of every model kind at the demo's sizes (fixed seed, fixed batch): the
forward pass, the label-smoothed loss and the backward pass, digested to one SHA-256 per model (the
loss and every gradient, bit for bit). The demo's numbers (``paper/snapshot/demo``) are hundreds of
such steps, so a machine whose digests match the record (``benchmarks/kernel_fingerprint.json``,
made with the same torch) trains the same models and gets the same Table 1; one that differs says
which model kind moved, before an hour of training says it by other numbers.

Each run is a fresh process: the kernels are chosen when torch loads (``activemem/kernels.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = HERE / "kernel_fingerprint.json"
# One batch of the demo's shape (24 pairs of width 16, its busiest bucket) at the demo's vocabulary (what
# its sentencepiece model makes of 1,000) and threads; the model sizes are params.yaml's demo block.
VOCAB, BATCH, WIDTH = 726, 24, 16
SCALE = "demo"


def demo_settings(params_file: Path) -> tuple[dict, int]:
    """The demo scale's model sizes and its thread count, from ``params_file``."""
    from activemem.config import load_params, model_hparams

    params = load_params(params_file, SCALE)
    return {name: model_hparams(params, name) for name in params["model_names"]}, params["train"]["threads"]


def digests(sizes: dict[str, dict], threads: int) -> dict[str, str]:
    import torch

    from activemem import models as registry
    from activemem.train.loss import smoothed_loss

    torch.set_num_threads(threads)
    out = {}
    for name, hparams in sizes.items():
        torch.manual_seed(1)
        model = registry.build(name, VOCAB, **hparams)
        src = torch.randint(4, VOCAB, (BATCH, WIDTH))
        tgt = torch.randint(4, VOCAB, (BATCH, WIDTH))
        bos = torch.full((BATCH, 1), 1)
        logits = model(src, torch.cat([bos, tgt[:, :-1]], dim=1))
        loss = smoothed_loss(logits, tgt, 0.1)
        loss.backward()
        digest = hashlib.sha256(loss.detach().numpy().tobytes())
        for _, p in sorted(model.named_parameters()):
            digest.update(p.grad.numpy().tobytes())
        out[name] = digest.hexdigest()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernels", default="avx2", help="train.cpu_kernels setting: avx2 (pinned) or native")
    p.add_argument("--models", nargs="*", help="registry models (default: the demo's)")
    p.add_argument("--params", type=Path, default=HERE.parent / "params.yaml", help="the params file")
    p.add_argument("--no-check", action="store_true", help="print the digests, compare with nothing")
    p.add_argument("--record", action="store_true", help="write the digests as the new record")
    args = p.parse_args(argv)

    from activemem import kernels
    problem = kernels.pin(args.kernels)  # before torch loads
    sizes, threads = demo_settings(args.params)
    found = digests({m: sizes[m] for m in (args.models or sizes)}, threads)
    import torch
    state = kernels.in_effect(args.kernels)
    result = {"torch": str(torch.__version__), "kernels": state, "digests": found}
    print(json.dumps(result, indent=1))
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    if args.record:
        RECORD.write_text(json.dumps({"torch": result["torch"], "kernels": args.kernels, "cpu": state["cpu"],
                                      "digests": found}, indent=1) + "\n")
        return
    if args.no_check:
        return
    record = json.loads(RECORD.read_text())
    if record["kernels"] != args.kernels or record["torch"] != result["torch"]:
        sys.exit(f"the record was made with torch {record['torch']}, kernels {record['kernels']}: not comparable "
                 f"with torch {result['torch']}, kernels {args.kernels}")
    moved = [m for m in found if record["digests"].get(m) != found[m]]
    if moved:
        sys.exit(f"DIFFERENT from the record ({record['cpu']}): {', '.join(moved)}. This machine trains other "
                 f"numbers than paper/snapshot/ from the same seed.")
    print(f"same as the record ({record['cpu']}): this machine reproduces the committed CPU numbers", file=sys.stderr)


if __name__ == "__main__":
    main()
