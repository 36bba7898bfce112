"""Stage ``paper``: Table 1, the BLEU-by-length figure, learning curves, the claims and the report.

    python -m activemem.stages.paper --params params.yaml --scale demo --results results/demo \\
        --data data/demo/prepared --paper paper --out paper/build/demo

Reads every (model, seed) run's ``evaluation.json``, logs and hypotheses under
``<results>/<model>/seed<k>`` (``params.yaml`` ``seeds``; several give mean ± sd and claims that
must hold for every seed, see ``activemem/paper/seeds.py``), the published table
(``<paper>/published.yaml``), the claims (``<paper>/claims.yaml``) and the Jinja templates
(``<paper>/templates``). Writes to ``<out>``: ``table1.{md,tex}`` and ``table1.published.{md,tex}``
(same template: ``diff`` them), ``bleu_by_length.{png,pdf}``, ``learning_curves.{png,pdf}``,
``extrapolation_bleu_by_length.{png,pdf}`` (only when the models were tested on the longer split),
``claims.json``, ``report.md``, a self-contained ``report.html`` and ``made_from.json``. The report
opens with what moved against the committed snapshot of its scale (``<paper>/snapshot/<scale>``, or
``<scale>-<k>seeds`` for k seeds; ``activemem/paper/snapshot_diff.py``): which models' numbers and which
verdicts, or that nothing did, or that the scale has no snapshot.

Nothing stale is read: the test text is checked against the prepare stage's ``manifest.json``, each
evaluation against the checkpoint and data it records it was made from, and each run's hypotheses
against the digests its ``evaluation.json`` records (``activemem/lineage.py``), before any number is
used; ``made_from.json`` records every file read, for the workflow's own check.

It renders exactly the models of ``params.yaml`` ``models``; warnings (uncommitted edits, models
from different code or settings, truncated training, a model without a published row, a test set
cut by ``evaluate.max_sentences``, test sentences wider than any trained width) go to stderr and
open the report. A WMT'14 scale's report opens with its corpora, the pairs kept and every setting
that differs from the ``paper`` preset (``config.preset_comparison``; the stage tracks the scale, its
defaults and the preset in ``activemem/dag.py``, so both engines rerun it when the note would change).

A source whose registry entry names a ``report`` of its own (``activemem/data/sources``) gets that
report instead: the algorithmic tasks have no Table 1 and no BLEU but a table per task, accuracy
against length and their own claims (``<paper>/claims.algorithmic.yaml``), see
``activemem/paper/algorithmic.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from activemem import engines, lineage
from activemem.atomic import write_json
from activemem.config import preset_comparison, train_config
from activemem.data import sources
from activemem.data.store import verify_files
from activemem.paper.claims import display_verdict
from activemem.paper.report import build, load_metrics
from activemem.paper.seeds import run_folder
from activemem.paper.snapshot_diff import snapshot_files
from activemem.stages._common import missing_input, params_or_exit, parser, require_folder, run_stage


# what the stage reads of each run, beside evaluation.json (the logs: the learning curves)
RUN_FILES = ("hypotheses.txt", "hypotheses.greedy.txt", "hypotheses.test_long.txt", "train/train_log.csv",
             "train/dev_log.csv")


def verified_inputs(results: Path, data: Path, names: list[str], seeds: list[int]) -> dict:
    """Everything this stage reads, checked against what produced it; returns the record of it."""
    manifest = json.loads((data / "manifest.json").read_text())
    verify_files(data, manifest["files"], [name for name in manifest["files"]  # the test text (and the report)
                                           if not name.endswith(".npy") and not name.startswith(("train", "dev"))])
    read = [data / "manifest.json"]
    for name in names:
        for seed in seeds:
            folder = results / run_folder(name, seed)
            evaluation = load_metrics(folder / "evaluation.json")
            lineage.require_made_from(folder / "evaluation.json", evaluation.get(lineage.KEY))
            # hypotheses edited or copied in after the evaluation would be scored beside its numbers
            lineage.require_outputs(folder / "evaluation.json", evaluation, engines.rerun("evaluate", f"{name}-{seed}"))
            read += [folder / "evaluation.json", *(folder / f for f in RUN_FILES if (folder / f).exists())]
    return lineage.made_from(*read)


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__)
    p.add_argument("--results", required=True, help="results/<scale>, one folder per model")
    p.add_argument("--data", required=True, help="the prepare stage's output (test references)")
    p.add_argument("--paper", default="paper", help="folder with published.yaml, claims.yaml, templates/")
    p.add_argument("--out", required=True, help="output folder, e.g. paper/build/<scale>")
    args = p.parse_args(argv)
    params = params_or_exit(args)
    require_folder(args.results, "train and evaluate", "--results")
    require_folder(args.data, "prepare", "--data")
    # checked by the schema when the params file was loaded (types, ranges: config.py, schema.py)
    settings = {k: params["report"][k] for k in ("far_below_margin", "match_tolerance", "significance_level",
                                                 "floor_bleu", "min_bucket_sentences")}
    evaluate = {k: params["evaluate"][k] for k in ("bootstrap_resamples", "seed", "width")}
    # the evaluations after its best that make a run converged (paper/convergence.py)
    patience = {n: train_config(params, n).patience for n in params["model_names"]}
    try:
        made_from = verified_inputs(Path(args.results), Path(args.data), params["model_names"], params["seeds"])
        own = sources.hook(params["data"]["source"], "report")
        if own:  # a source with a report of its own (the algorithmic tasks: a table per task, no BLEU)
            result = own(params["scale"], params["model_names"], Path(args.results), Path(args.paper),
                         Path(args.out), params["seeds"], patience)
        else:
            result = build(params["scale"], params["model_names"], Path(args.results), Path(args.data),
                           Path(args.paper), Path(args.out), settings, evaluate, params["seeds"],
                           preset_comparison(params), params["data"]["source"], patience)
    except FileNotFoundError as err:
        sys.exit(f"error: {missing_input(err, {args.results: 'evaluate', args.data: 'prepare'})}")
    except ValueError as err:
        sys.exit(f"error: {err}")
    # the snapshot this run was compared with is an input too: a regenerated snapshot changes the report
    made_from.update(lineage.made_from(*snapshot_files(Path(args.paper), params["scale"], params["seeds"])))
    write_json(Path(args.out) / "made_from.json", {lineage.KEY: made_from})
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"against the committed snapshot: {result['snapshot'].text()}")
    for claim in result["claims"]:
        print(f"[{display_verdict(claim)}] {claim['statement']} — {claim['evidence']} ({claim['budget']})")
    # the last line of the run under DVC, whose own output ends with its lock file
    beside = result.get("beside", "report.md, Table 1, figures, claims.json")  # a source's own report says its own
    print(f"report: {Path(args.out) / 'report.html'} (and {beside} beside it)")


if __name__ == "__main__":
    run_stage(main, "paper")
