"""Both engines rerun exactly the stages whose settings changed, with `defaults` in params.yaml.

At the smoke scale (the issue asks about demo; smoke runs the same rules in a fraction of the time)
and without running any stage: every output is faked, then recorded as up to date from the current
params (``snakemake --touch`` in one copy; ``dvc commit`` in another). Each edit of params.yaml is
then judged by the engines themselves: Snakemake's dry run lists the jobs it would run; ``dvc status``
names the stages whose own ``params:`` changed (activemem/dag.py), and DVC's dry run with what they
force downstream plans Snakemake's jobs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from activemem.config import read

from conftest import REPO
from test_pipeline import dvc_stages, engine_env, repo_copy, snakemake, snakemake_jobs, stale_stages

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

MODELS = read(REPO / "params.yaml")["models"]   # the models params.yaml runs
TRAIN = {f"train@{m}-1" for m in MODELS}          # <model>-<seed>, seeds: [1]
EVALUATE = {f"evaluate@{m}-1" for m in MODELS}

# (id, old text, new text, Snakemake's jobs, DVC's stale stages: the paper stage's own params, the scale's whole
# block and defaults, make it stale at once where Snakemake reruns it after the stages before it)
EDITS = [
    ("scale's own lr", "    lr: 0.003\n", "    lr: 0.004\n", TRAIN | EVALUATE | {"paper"}, TRAIN | {"paper"}),
    ("a default the paper stage reads", "    width: search ", "    width: fixed ", EVALUATE | {"paper"},
     EVALUATE | {"paper"}),
    # a default reaches the scale through its section's YAML merge key, or key by key in a sub-mapping the
    # scale sets in part (smoke's `sampling`: max_rate comes from defaults)
    ("a default the scale takes", "    clip_norm: 4.0 ", "    clip_norm: 5.0 ", TRAIN | EVALUATE | {"paper"},
     TRAIN | {"paper"}),
    ("a default inside a sub-mapping", "max_rate: 0.1,", "max_rate: 0.2,", TRAIN | EVALUATE | {"paper"},
     TRAIN | {"paper"}),
    # the report states the scale's settings and its defaults (a WMT scale's against the paper preset): only
    # the paper stage, the cheapest, reruns for an edit no other stage reads
    ("a default the scale overrides", "    lr: 0.0005 ", "    lr: 0.0007 ", {"paper"}, {"paper"}),
    ("the paper preset", "    max_steps: 1000000\n", "    max_steps: 900000\n", {"paper"}, {"paper"}),
    ("another scale's block", "    lr: 0.005 ", "    lr: 0.006 ", set(), set()),
    ("one model", "    neural_gpu: {maps: 8, height: 2}", "    neural_gpu: {maps: 12, height: 2}",
     {"train@neural_gpu-1", "evaluate@neural_gpu-1", "paper"}, {"train@neural_gpu-1", "paper"}),
    ("a comment", "# Training seeds", "# The training seeds", set(), set()),
    # what SLURM is asked for (memory, wall time) changes where a job may run, not what it computes: no
    # training or evaluation reruns
    ("a job's memory", "    mem_mb: 2000\n", "    mem_mb: 3000\n", {"paper"}, {"paper"}),
    ("the prepare job's wall time", "mem_mb: 1000, runtime_min: 10}", "mem_mb: 1000, runtime_min: 20}", {"paper"},
     {"paper"}),
    # read by the paper stage's bootstrap alone: no model is decoded again (issue #30)
    ("a report-only setting", "bootstrap_resamples: 100,", "bootstrap_resamples: 200,", {"paper"}, {"paper"}),
    ("the bootstrap's seed", "    seed: 1\n    max_sentences", "    seed: 2\n    max_sentences", {"paper"}, {"paper"}),
    # training decodes its dev BLEU with the evaluation's length limits: the learning curves follow (issue #33)
    ("dev BLEU's decoding", "max_len_offset: 3,", "max_len_offset: 4,", TRAIN | EVALUATE | {"paper"},
     TRAIN | EVALUATE | {"paper"}),
    ("the CPU kernels", "    cpu_kernels: avx2\n    buckets: [8, 16", "    cpu_kernels: native\n    buckets: [8, 16",
     TRAIN | EVALUATE | {"paper"}, TRAIN | {"paper"}),
]


def run(root, *cmd: str) -> str:
    out = subprocess.run([sys.executable, "-m", *cmd], cwd=root, env=engine_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def fake_outputs(root) -> None:
    for stage in dvc_stages(root).values():
        for out in stage["outs"]:
            path = root / out
            if path.suffix:                      # a file output
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("{}\n")
            else:                                # a folder output
                path.mkdir(parents=True, exist_ok=True)
                (path / "fake").write_text("fake\n")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two smoke checkouts (one per engine: each writes its own marks into the outputs) whose every
    output exists and is up to date."""
    snake_root = repo_copy(tmp_path_factory.mktemp("snakemake"), "smoke")
    fake_outputs(snake_root)
    snakemake(snake_root, "--touch", "--forceall", cores="1")  # records each job's params as run
    assert snakemake_jobs(snake_root) == {}
    dvc_root = repo_copy(tmp_path_factory.mktemp("dvc"), "smoke")
    run(dvc_root, "dvc", "repro", "archives")  # cheap and real: the files the DVC stages depend on
    # The archives' check is always changed (it runs on every `dvc repro`) and would force everything below it
    # in the dry runs with --force-downstream here; it has nothing to check at the smoke scale: frozen.
    dvc_yaml = dvc_root / "dvc.yaml"  # (`dvc freeze` refuses a stage with ${…} in it)
    dvc_yaml.write_text(dvc_yaml.read_text().replace("    always_changed: true\n", "    always_changed: true\n    frozen: true\n"))
    fake_outputs(dvc_root)
    run(dvc_root, "dvc", "commit", "--force")
    assert stale_stages(run(dvc_root, "dvc", "status", "--json")) == {}
    return snake_root, dvc_root


@pytest.mark.parametrize("name,old,new,snake,dvc", EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_reruns_exactly_the_stages_it_changes(recorded, name, old, new, snake, dvc):
    snake_root, dvc_root = recorded
    text = (snake_root / "params.yaml").read_text()
    assert text.count(old) == 1, old
    for root in recorded:
        (root / "params.yaml").write_text(text.replace(old, new))
    try:
        assert set(snakemake_jobs(snake_root)) == snake
        assert set(stale_stages(run(dvc_root, "dvc", "status", "--json"))) == dvc
        # with what those stages' new outputs force downstream, DVC's plan is Snakemake's
        dry = run(dvc_root, "dvc", "repro", "--dry", "--force-downstream")
        assert {line.split("'")[1] for line in dry.splitlines() if line.startswith("Running stage")} == snake
    finally:
        for root in recorded:  # the next edit is compared with the recorded state
            (root / "params.yaml").write_text(text)
