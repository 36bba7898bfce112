# Shared helpers of the Snakemake rules. Every rule runs `python -m activemem.stages.<stage>` with the
# same arguments as the stage of the same name in dvc.yaml (tests/test_pipeline.py checks this).
import os
import sys
from pathlib import Path

import yaml

from activemem import interrupt, locking
from snakemake.utils import validate

from activemem import dag
from activemem.config import ParamsError, load_params, override_differences, read


def _asked(*flags):
    """Whether Snakemake's command line has one of ``flags`` (long ones as written or abbreviated, as
    argparse takes them; a one-letter one alone or among others, as in ``-np``). Snakemake tells the
    workflow nothing of its mode while it loads, and this is the one moment to speak before it does."""
    for word in sys.argv[1:]:
        for flag in flags:
            if flag.startswith("--") and len(word) > 4 and flag.startswith(word.split("=")[0]):
                return True
            if len(flag) == 2 and word.startswith("-") and not word.startswith("--") and word[1:].isalpha() \
                    and flag[1] in word[1:]:
                return True
    return False


# A second Snakemake while a run (ours, or a stage of `dvc repro`) is going: Snakemake's own checks come
# first and advise --rerun-incomplete (the running jobs' outputs are marked incomplete), then --unlock,
# which removes the live run's lock. Say what is true before either, from the workspace lock
# (activemem/locking.py). A dry run only looks: it goes on, told that some jobs it lists are running.
if workflow.is_main_process:
    _HELD = locking.workspace_holder()
    if _HELD is not None:
        _pid = _HELD.get("pid")
        _stop = f"Ctrl-C in its terminal, or `kill -INT {_pid}`" if _pid else "Ctrl-C in its terminal"
        _WHO = locking.describe(_HELD)
        if _asked("--dry-run", "--dryrun", "-n"):
            print(f"note: {_WHO} is running in this workspace: some jobs listed below may be its jobs in "
                  f"progress", file=sys.stderr)
        elif _asked("--unlock"):
            raise WorkflowError(
                f"refusing --unlock: {_WHO} is running in this workspace, and Snakemake's lock is its own, "
                f"not left over; unlocking would let another run write over its files. Wait for it to end, "
                f"or stop it first ({_stop}), then run your command again (no --unlock needed)")
        else:
            raise WorkflowError(
                f"this workspace is in use: {_WHO} is running here (held in .activemem/workspace.lock). "
                f"A second run would take its half-written outputs for its own, and Snakemake's advice "
                f"(--rerun-incomplete, then --unlock) would break it. Wait for it to end, or stop it first "
                f"({_stop}), then run your command again")

# Ctrl-C: the running jobs stop as failed jobs do (their outputs and incomplete marks removed), so the
# same command goes on; one line instead of event-loop tracebacks (activemem/interrupt.py). Local
# execution only: on a cluster Snakemake's own Ctrl-C cancels the jobs it submitted.
if workflow.is_main_process:
    interrupt.install(lambda: workflow.local_exec)

# The stages read params.yaml, never Snakemake's `config`: an override given with --config would
# rerun jobs that then ignore it. So the one override allowed is `scale` (passed to every stage as
# --scale); anything else is refused here, naming the key. The file is read with PyYAML's plain safe
# loader, as Snakemake reads its configfile (YAML 1.1), not with activemem.config.read (which also
# takes YAML 1.2 floats such as `1e-08`): both sides must read every value the same way, or a value
# written `1e-08` would show up as an override.
_OVERRIDES = [key for key in override_differences(yaml.safe_load(Path("params.yaml").read_text()), config)
              if key != "scale"]
if _OVERRIDES:
    raise WorkflowError(
        f"--config changes {', '.join(_OVERRIDES)}, but the stages read params.yaml and would not see it: "
        f"edit params.yaml instead (both engines read it); only --config scale=<name> is passed on")

# The SLURM profile (pipeline/profiles/slurm) ships with placeholders where a cluster's account and
# partitions go. Snakemake would hand them to sbatch as they are, and a dry run shows nothing wrong, so
# a resource still holding one stops the workflow when it loads, naming the profile file and each key.
PLACEHOLDER = "CHANGE-ME"


def _profile_file():
    """The profile file this run reads (--profile, or $SNAKEMAKE_PROFILE), or None."""
    from snakemake.cli import get_profile_dir

    args, name = sys.argv[1:], os.environ.get("SNAKEMAKE_PROFILE")
    for i, arg in enumerate(args):
        if arg == "--profile" and i + 1 < len(args):
            name = args[i + 1]
        elif arg.startswith("--profile="):
            name = arg.partition("=")[2]
    found = get_profile_dir(name) if name and name != "none" else None
    return os.path.relpath(found[1]) if found else None


def _placeholders():
    """Each resource key whose value is still the profile's placeholder, as the profile spells it."""
    settings = workflow.resource_settings
    value = lambda res: str(getattr(res, "raw", res))
    keys = [f"default-resources: {name}" for name, res in (settings.default_resources or {}).items()
            if PLACEHOLDER in value(res)]
    keys += [f"set-resources: {rule}: {name}" for rule, mapping in settings.overwrite_resources.items()
             for name, res in mapping.items() if PLACEHOLDER in value(res)]
    return keys


_UNFILLED = _placeholders()
if _UNFILLED:
    raise WorkflowError(
        f"{_profile_file() or 'the profile (or command line)'}: {', '.join(_UNFILLED)} still "
        f"{'hold' if len(_UNFILLED) > 1 else 'holds'} the placeholder {PLACEHOLDER}: fill in your cluster's account "
        f"and partitions (on a cluster without accounts, delete the slurm_account line), as "
        f"pipeline/profiles/README.md says"
    )

SCALE = config["scale"]
# Checks all of params.yaml when the workflow loads: a bad value fails here, naming its key path.
try:
    PARAMS = load_params("params.yaml", SCALE)
except ParamsError as err:
    raise WorkflowError(str(err)) from None
# The JSON Schema exported from schema.py (pipeline/schemas/, for editors too) holds as well; our checker
# above stays the authority (it also checks what JSON Schema cannot: complete scales, settings that must
# agree). Validated on params.yaml as the stages read it (YAML 1.2 numbers), not on Snakemake's `config`.
validate(read("params.yaml"), "../schemas/params.schema.json")
S = PARAMS  # the scale's resolved settings (its block merged over `defaults`)
MODELS = PARAMS["model_names"]
SEEDS = PARAMS["seeds"]  # one training and evaluation per (model, seed): results/<scale>/<model>/seed<k>


wildcard_constraints:
    seed=r"\d+",
# What each job reads, as its `params:` (Snakemake reruns a job when an entry changes): the values of the
# params.yaml key paths its stage reads and a digest of the code it runs, from the stage table
# (activemem/dag.py) that dvc.yaml is generated from, so both engines rerun the same stages.
RAW = read("params.yaml")


def settings(stage):
    """The rule's `settings` param: a function of the job's wildcards where the stage runs per model."""
    if dag.BY_NAME[stage].per_run:
        return lambda w: dag.settings_values(RAW, stage, SCALE, w.model)
    return dag.settings_values(RAW, stage, SCALE)


onstart:
    # One pipeline run per workspace, from before this run's first job: a concurrent `dvc repro` (or
    # second Snakemake) fails at once, before DVC deletes or checks out any output, and this run stops
    # here while a dvc command holds the folder (activemem/locking.py). Held until Snakemake exits.
    global _WORKSPACE_LOCKS
    try:
        _WORKSPACE_LOCKS = locking.start_pipeline(f"snakemake (scale {SCALE})")
    except locking.Busy as err:
        raise WorkflowError(str(err)) from None
