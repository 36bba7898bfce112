# Results whose inputs are gone or changed since they were made are removed before Snakemake plans the
# run, so that the same command rebuilds them. Snakemake judges results by modification times only: a
# training job that failed or was killed (Snakemake deletes its output), a checkpoint replaced inside a
# directory() output or a prepared file edited by hand would leave the old evaluations, Table 1 and
# claims "up to date". Each result records what it was made from (activemem/lineage.py); upstream first,
# so that removing one makes the results read from it stale in turn. Only the main Snakemake process
# does this, holding the workspace as its run will (activemem/locking.py: ours and DVC's lock), and only
# while no other run holds it (a job on a cluster node, or a `snakemake -n` beside a running pipeline or
# a `dvc repro`, touches nothing).
#
# A dry run (`snakemake -n`) is how users look before they run: it removes nothing and only says what
# is stale and what the real run would remove and make again. The workflow is loaded before Snakemake
# knows how it will execute (workflow.dryrun is set only then), so the dry run is read from the output
# settings, which the command line sets before the Snakefile is parsed.
#
# The archives come first: they live outside the workspace, so Snakemake cannot list them as inputs;
# the download's output is stale when an archive a run would use now is not the copy its sources.json
# records (activemem/stages/download.py, changed_archives), and the prepared data is stale when that
# sources.json is gone or changed (a refused download leaves none).
import shutil
import sys

from activemem import lineage
from activemem.stages.download import changed_archives


def _remove_stale_download(dry_run: bool):
    raw = Path(rules.download.output[0])
    try:
        why = changed_archives(PARAMS, raw)
    except (ValueError, OSError) as err:  # a bad vouched file, an unreadable archive: the stage says it
        print(f"warning: could not check the archives of {raw}: {err}", file=sys.stderr)
        return
    if why and dry_run:
        print(f"stale: {raw / 'sources.json'}: {why}: a real run removes {raw} and makes it again; this dry run "
              f"removed nothing", file=sys.stderr)
    elif why:
        shutil.rmtree(raw)
        print(f"stale: {raw / 'sources.json'}: {why}: removed {raw}, to be made again", file=sys.stderr)


def _results_in_pipeline_order():
    prepared = Path(rules.prepare.output[0])
    found = [lineage.Result(prepared / "manifest.json", [prepared], key="files", base=prepared),
             lineage.Result(prepared / "manifest.json", [prepared])]  # made_from: the download's sources.json
    runs = [dict(model=m, seed=s) for m in MODELS for s in SEEDS]
    for run in runs:
        train = Path(expand(rules.train.output[0], **run)[0])
        found.append(lineage.Result(train / "summary.json", [train], own={"checkpoint": train / "checkpoint.pt"}))
    for run in runs:
        evaluated = [Path(p) for p in expand(list(rules.evaluate.output), **run)]
        found.append(lineage.Result(Path(expand(rules.evaluate.output.evaluation, **run)[0]), evaluated))
    paper_build = Path(rules.paper.output[0])
    found.append(lineage.Result(paper_build / "made_from.json", [paper_build]))
    return found


def _remove_stale_results(dry_run: bool):
    try:
        with locking.pipeline(f"snakemake (scale {SCALE}) checking its results"):
            _remove_stale_download(dry_run)
            lines = lineage.remove_stale(_results_in_pipeline_order(), dry_run=dry_run)
    except locking.Busy:
        return  # another run owns the workspace: it rebuilds what it changes; this one plans only
    for line in lines:
        print(line, file=sys.stderr)
    if dry_run and lines:
        print(f"dry run: nothing removed; a real run removes the {len(lines)} stale result"
              f"{'s' if len(lines) > 1 else ''} above first and redoes their jobs, which the plan below may leave out",
              file=sys.stderr)


if workflow.is_main_process:
    _remove_stale_results(dry_run=bool(getattr(workflow.output_settings, "dryrun", False)))
