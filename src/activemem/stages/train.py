"""Stage ``train``: train one registry model on the prepared data (resumes by itself).

    python -m activemem.stages.train --params params.yaml --scale demo --model extended_neural_gpu \\
        --seed 1 --data data/demo/prepared --out results/demo/extended_neural_gpu/seed1/train \\
        --work checkpoints/demo/extended_neural_gpu/seed1

``--seed`` is one of ``params.yaml`` ``seeds`` (default: the first): it sets the initial weights, the
order of the training batches, dropout and the scheduled-sampling coins, nothing else (the data has
its own ``data.seed``).

With ``train.gpus`` > 1 in ``params.yaml`` the stage re-runs itself under ``torchrun`` (one process per
GPU, DistributedDataParallel), so pipelines call it the same way for any number of GPUs. Calling
``torchrun --standalone --nproc_per_node=4 -m activemem.stages.train …`` directly works too.

Outputs in ``<out>``: ``checkpoint.pt`` (model, optimiser, RNG, data position), ``train_log.csv``
(per-step loss, perplexity, lr, grad norm, tokens/s), ``dev_log.csv`` (the learning curves: dev perplexity
and, every ``train.dev_bleu.every`` evaluations, greedy dev BLEU, against steps, training FLOPs and seconds)
and ``summary.json`` (steps, stop reason, ``truncated``, training FLOPs, ``selected``: the step whose
weights evaluation scores and its cost, dev perplexity, ``provenance``). While
training they live in ``<work>`` (default: ``<out>``), where a killed run finds them and resumes;
pipelines pass a ``--work`` outside their declared outputs, which they delete before a rerun.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from activemem.config import ParamsError, train_config
from activemem.evaluate.dev_bleu import greedy_dev_bleu
from activemem.locking import Busy
from activemem.stages._common import claim_gpus, missing_input, params_or_exit, parser, require_folder, run_stage
from activemem.train.device import implied_device, pick_device, require_gpus
from activemem.train.loop import NonFiniteLoss, train


def launch(args, params: dict, device: str, gpus: int, argv: list[str] | None) -> None:
    """Before any training: the job's own GPUs of the machine, then whether CUDA works with them (one
    line if not, before any rank starts); with more than one GPU, hand over to torchrun, which starts
    and watches one process per GPU (this process becomes it: the GPU locks stay with it)."""
    if implied_device(device, gpus) != "cpu":  # (a CPU rehearsal of several ranks takes no GPU)
        claim_gpus(args, gpus, f"training {args.model} seed {params['train']['seed']}")
    setting = f"{params['scale']}.train"
    try:
        if pick_device(device, gpus, setting).type == "cuda":
            require_gpus(max(gpus, 1), setting)
    except ParamsError as err:
        sys.exit(f"error: {args.params}: {err}")
    if gpus > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
                    "-m", "activemem.stages.train", *(argv if argv is not None else sys.argv[1:])]
        os.execv(sys.executable, launcher)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--model", required=True, help="registry name (activemem.models.NAMES)")
    p.add_argument("--data", required=True, help="the prepare stage's output directory")
    p.add_argument("--out", required=True, help="directory for the checkpoint and logs")
    p.add_argument("--work", help="directory for the resumable checkpoint (default: --out)")
    p.add_argument("--seed", type=int, help="training seed (default: the first of params.yaml 'seeds')")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    if args.model not in params["models"]:
        sys.exit(f"error: {args.params}: no '{params['scale']}.models.{args.model}' block "
                 f"(known: {sorted(params['models'])})")
    if args.seed is not None:
        if args.seed < 0:
            sys.exit(f"error: --seed must be >= 0, got {args.seed}")
        params["train"]["seed"] = args.seed
    require_folder(args.data, "prepare", "--data")
    settings = train_config(params, args.model)  # typed, the model's own train overrides on top
    gpus = params["train"]["gpus"]  # the job's GPUs, as the pipeline's train rule reserves them
    if "LOCAL_RANK" not in os.environ:  # the job's launcher, not one of torchrun's ranks
        launch(args, params, settings.device, gpus, argv)
    try:
        # dev BLEU for the learning curves, where the model's settings ask for it (decoding: the evaluate package's)
        scorer = greedy_dev_bleu(Path(args.data), params["evaluate"]) if settings.dev_bleu.every else None
        summary = train(args.model, params, Path(args.data), Path(args.out), args.work,
                        progress=not args.no_progress, dev_scorer=scorer)
    except FileNotFoundError as err:
        sys.exit(f"error: {missing_input(err, {args.data: 'prepare'})}")
    except (ParamsError, NonFiniteLoss, ValueError, Busy) as err:
        sys.exit(f"error: {err}")
    print(f"{args.model}: {summary['steps']} of {summary['max_steps']} steps in {summary['seconds']:.0f}s "
          f"({summary['stop_reason']}{', TRUNCATED by max_minutes' if summary['truncated'] else ''}), "
          f"dev perplexity {summary['final_dev_perplexity']:.2f}")


if __name__ == "__main__":
    run_stage(main, "train")
