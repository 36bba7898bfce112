"""``python -m activemem.models --summary``: parameter counts of every model at a given size.

Without ``--params``, each model uses its config defaults (the paper-size settings we know of);
with ``--params params.yaml --scale paper`` it uses that scale's presets from ``params.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses

from activemem import models
from activemem.entry import HelpFormatter, quiet_on_closed_pipe


def summary(vocab_size: int, presets: dict[str, dict]) -> list[tuple[str, int, dict]]:
    rows = []
    for name in models.NAMES:
        model = models.build(name, vocab_size, **presets.get(name, {}))
        rows.append((name, model.num_parameters(), dataclasses.asdict(model.config)))
    return rows


def main(argv: list[str] | None = None, prog: str = "python -m activemem.models") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--summary", action="store_true", help="print parameters per model")
    parser.add_argument("--vocab-size", type=int, default=32768,
                        help="vocabulary size (default 32768, the paper-scale sub-word vocabulary)")
    parser.add_argument("--params", help="read model presets from this params.yaml")
    parser.add_argument("--scale", default="paper", help="scale whose presets to read (with --params)")
    args = parser.parse_args(argv)
    presets: dict[str, dict] = {}
    if args.params:
        from activemem.config import load_params, model_hparams
        params = load_params(args.params, scale=args.scale)
        presets = {name: model_hparams(params, name) for name in models.NAMES}
    print(f"{'model':<24} {'parameters':>14}  config (vocab {args.vocab_size})")
    for name, count, config in summary(args.vocab_size, presets):
        print(f"{name:<24} {count:>14,}  {config}")


if __name__ == "__main__":
    with quiet_on_closed_pipe():
        main()
