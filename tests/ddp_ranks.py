"""One rank of a two-rank CPU (gloo) training whose ranks are made to see different things.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/ddp_ranks.py \\
        --params P --data D --out O --scenario dev|nan

Started by ``tests/test_rank_decisions.py``. ``dev``: each rank is shown its own dev perplexities (rank 0
falling then flat, rank 1 rising from the start) and rank 1's clock runs a thousand times fast, so a
rank deciding alone would decay the learning rate, stop by patience and stop by the clock at other
steps than rank 0. ``nan``: rank 1's loss turns non-finite at step 3. Each rank writes what it ended
with to ``O/rank<r>.json``: its step, stop reason, learning-rate scale, dev history and a checksum of
its weights, or the error it stopped with.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import types
from pathlib import Path

import torch

from activemem.config import load_params
from activemem.train import loop

RANK = int(os.environ["RANK"])
# rank 0: falls, then three evaluations without improvement (patience 3 stops at evaluation 9);
# rank 1: rises from the start (decay at every evaluation, patience would stop it at evaluation 4)
DEV = {0: [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.5, 5.6, 5.7, 5.8, 5.9, 6.0],
       1: [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0]}


def main() -> None:
    p = argparse.ArgumentParser()
    for name in ("--params", "--data", "--out", "--scenario"):
        p.add_argument(name, required=True)
    args = p.parse_args()
    params = load_params(args.params, "smoke")
    params["train"].update(max_steps=12, eval_every=1, checkpoint_every=100, log_every=1, patience=3,
                           plateau_window=1, lr_decay=0.5, min_improvement=0.0, max_minutes=60.0)
    seen = iter(DEV[RANK])

    def split_nll(*_args, **_kwargs):
        return math.log(next(seen)) * 100, 100       # nll sum and tokens of this rank's "dev set"

    loop.split_nll = split_nll
    if RANK == 1 and args.scenario == "dev":
        real = time.perf_counter
        # a clock that passes the hour of max_minutes within a few steps (each call: +1000 s)
        calls = iter(range(10**9))
        loop.time = types.SimpleNamespace(perf_counter=lambda: real() + 1000.0 * next(calls))
    if RANK == 1 and args.scenario == "nan":
        real_loss = loop.smoothed_loss
        steps = iter(range(10**9))
        loop.smoothed_loss = lambda *a, **k: real_loss(*a, **k) * (math.nan if next(steps) == 2 else 1.0)
    ended = {}
    real_finish = loop._finish

    def finish(run, *a, **k):
        ended.update(step=run.state["step"], stop_reason=run.state["stop_reason"], lr_scale=run.state["lr_scale"],
                     dev_history=run.state["dev_history"],
                     weights=sum(float(v.double().sum()) for v in run.model.state_dict().values()))
        return real_finish(run, *a, **k)

    loop._finish = finish
    out = Path(args.out)
    try:
        loop.train("gru_attention", params, args.data, out / "train", progress=False)
    except loop.NonFiniteLoss as err:
        ended["error"] = str(err)
    (out / f"rank{RANK}.json").write_text(json.dumps(ended))
    if "error" in ended and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
