# activemem pipeline (Snakemake engine). The same DAG as dvc.yaml, over the same stage commands.
#   snakemake --cores all                         # the default scale (params.yaml: scale)
#   snakemake --cores all --config scale=paper    # another scale
#   snakemake --profile pipeline/profiles/slurm   # on a SLURM cluster
from snakemake.utils import min_version

min_version("8.0")

# Snakemake's own error for a params.yaml it cannot parse names no line: read it ourselves first, for
# the one-line message the stages (and DVC) give, with file and line.
from activemem.config import ParamsError, read
from activemem import engines_sync

try:
    read("params.yaml")
except ParamsError as err:
    raise WorkflowError(str(err)) from None


configfile: "params.yaml"


# `snakemake --report report.zip`: this description, the DAG, run times, and the paper stage's outputs
report: "pipeline/report/workflow.rst"


include: "pipeline/rules/common.smk"
include: "pipeline/rules/data.smk"
include: "pipeline/rules/train.smk"
include: "pipeline/rules/eval.smk"
include: "pipeline/rules/paper.smk"
include: "pipeline/rules/stale.smk"


rule all:
    default_target: True
    input:
        rules.paper.output,


onsuccess:
    # Tell DVC what this run made (dvc commit), so that `dvc repro` after it plans nothing (engines_sync.py)
    _shared = engines_sync.after_snakemake(SCALE, globals().get("_WORKSPACE_LOCKS"), touch=workflow.touch)
    if _shared:
        print(_shared)
    # The paper stage prints where the report is, but Snakemake's own lines follow it: say it last.
    # Only when this run's scale has one (a run asked for a single output may not have built it).
    if Path(f"paper/build/{SCALE}/report.html").is_file():
        print(f"report: paper/build/{SCALE}/report.html (and report.md, Table 1, figures, claims.json beside it)")


onerror:
    # After Ctrl-C, Snakemake's own last words are its job errors: say what happened and what to run.
    if interrupt.interrupted():
        print(interrupt.after_interrupt(), file=sys.stderr)
