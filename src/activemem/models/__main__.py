"""``python -m activemem.models --summary``: parameter counts of every model at a given size.

Without ``--params``, each model uses its config defaults (the paper-size settings we know of) at the
paper's 32,768-piece vocabulary. With ``--params params.yaml --scale demo`` it uses that scale's sizes
and that scale's vocabulary: the one the prepare stage made (``data/<scale>/prepared/manifest.json``,
e.g. 726 pieces at the demo, where 1,000 were asked) when it has run, else the size asked
(``prepare.vocab_size``), and says which. ``--vocab-size`` overrides both.

Models are built on PyTorch's ``meta`` device: shapes without memory or initialisation, so counting the
paper-size models takes a fraction of a second instead of a minute of orthogonal initialisation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from activemem import models
from activemem.entry import HelpFormatter, quiet_on_closed_pipe

PAPER_VOCAB = 32768  # the paper-scale sub-word vocabulary, the default without --params


def summary(vocab_size: int, presets: dict[str, dict]) -> list[tuple[str, int, dict]]:
    import torch

    rows = []
    for name in models.NAMES:
        with torch.device("meta"):  # parameter shapes only: the count needs no values
            model = models.build(name, vocab_size, **presets.get(name, {}))
        rows.append((name, model.num_parameters(), dataclasses.asdict(model.config)))
    return rows


def scale_vocab(params: dict, scale: str, workspace: Path) -> tuple[int, str]:
    """The vocabulary a scale's models are built with, and where the number comes from."""
    manifest = workspace / "data" / scale / "prepared" / "manifest.json"
    if manifest.exists():
        return int(json.loads(manifest.read_text())["vocab_size"]), f"made by the prepare stage, {manifest}"
    return int(params["prepare"]["vocab_size"]), "prepare.vocab_size, as asked: the prepare stage has not run"


def main(argv: list[str] | None = None, prog: str = "python -m activemem.models") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--summary", action="store_true", help="print parameters per model")
    parser.add_argument("--vocab-size", type=int, default=None,
                        help=f"vocabulary size (default: the scale's with --params, else {PAPER_VOCAB:,})")
    parser.add_argument("--params", help="read model sizes (and the vocabulary) of a scale from this params.yaml")
    parser.add_argument("--scale", default="paper", help="scale whose sizes to read (with --params)")
    args = parser.parse_args(argv)
    presets: dict[str, dict] = {}
    vocab, source = args.vocab_size or PAPER_VOCAB, "--vocab-size" if args.vocab_size else "the paper's"
    if args.params:
        from activemem.config import load_params, model_hparams
        params = load_params(args.params, scale=args.scale)
        presets = {name: model_hparams(params, name) for name in models.NAMES}
        if not args.vocab_size:
            vocab, source = scale_vocab(params, args.scale, Path(args.params).resolve().parent)
    print(f"{'model':<24} {'parameters':>14}  config (vocabulary {vocab:,}: {source})")
    for name, count, config in summary(vocab, presets):
        print(f"{name:<24} {count:>14,}  {config}")


if __name__ == "__main__":
    with quiet_on_closed_pipe():
        main()
