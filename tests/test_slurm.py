"""The SLURM profile (``pipeline/profiles/slurm``) on a real SLURM cluster: one node, on loopback.

The session fixture starts ``munged``, ``slurmctld`` and ``slurmd`` (Debian packages ``munge``,
``slurmctld``, ``slurmd``, ``slurm-client``) with their state, logs and keys in a temporary folder,
and stops each by the PID it started. Then the smoke DAG runs with the README's cluster command
(the profile filled in as the README says) and must give a local run's numbers, every job having run
as a SLURM job with what params.yaml asks for. ``.ci/run`` installs the packages; elsewhere the
tests skip, naming what is missing (``ACTIVEMEM_REQUIRE_SLURM=1``, set by CI, turns that into a
failure). Select them with ``python -m pytest -q -k slurm``: 11.7 minutes measured on 2 CPU cores
that other work was sharing (load average 3 to 9); the cluster run alone is most of it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from activemem.config import load_params

from conftest import REPO
from run_numbers import results_only
from test_pipeline import engine_env, repo_copy

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "srun", "scancel")
PACKAGES = "munge slurmctld slurmd slurm-client"
# Slurm's clients (srun inside a job too) read this file; the executor plugin's job step drops
# SLURM_CONF from srun's environment, so a cluster of our own needs its config at the default path.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
PARTITION = "activemem"
MODELS = load_params(REPO / "params.yaml", "smoke")["model_names"]  # every model the smoke DAG trains
RUN_LIMIT_S = 1800  # the smoke DAG takes minutes; a hung scheduler fails instead of stalling CI


def missing_requirements() -> str | None:
    """Why a SLURM cluster cannot be started here, or None."""
    if os.name != "posix" or os.geteuid() != 0:
        return "starting munged/slurmctld/slurmd needs root"
    missing = [tool for tool in DAEMONS + CLIENTS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install {PACKAGES})"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "the Snakemake SLURM executor plugin is not installed (pip install -e '.[slurm]')"
    if DEFAULT_CONF.is_symlink() and not DEFAULT_CONF.exists():
        DEFAULT_CONF.unlink()  # left by a run of this test that was killed: it points into a deleted folder
    if DEFAULT_CONF.exists():
        return f"{DEFAULT_CONF} exists: this host has a SLURM configuration that the test must not replace"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("ACTIVEMEM_REQUIRE_SLURM") == "1":  # CI: a skipped cluster test would prove nothing
        pytest.fail(f"ACTIVEMEM_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smoke_threads() -> int:
    return load_params(REPO / "params.yaml", "smoke")["train"]["threads"]


def slurm_conf(root: Path, host: str) -> str:
    cpus = max(os.cpu_count() or 1, smoke_threads())
    return f"""\
ClusterName=activemem-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# no accounting (no slurmdbd): the profile polls job states with squeue, which needs none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# finished jobs stay in squeue for an hour, where the test reads what each one asked for
MinJobAge=3600
ReturnToService=2
# The node is declared with at least the CPUs a smoke job asks for and the memory the profile gives
# its CPU jobs; nothing enforces memory here (no cgroups), so this only lets the scheduler place them.
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=32768 State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """A one-node SLURM cluster whose every process this test started and stops by its PID."""

    def __init__(self, root: Path):
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.linked_conf = False

    def start(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.root.glob("*.out")))

    def wait_until(self, what: str, ready, limit_s: float = 60) -> None:
        end = time.monotonic() + limit_s
        while not ready():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode} while waiting for {what}\n{self.logs()}")
            if time.monotonic() > end:
                pytest.fail(f"no {what} after {limit_s:.0f} s\n{self.logs()}")
            time.sleep(0.5)

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout

    def node_idle(self) -> bool:
        try:
            return self.run("sinfo", "--noheader", "--format=%T").strip() == "idle"
        except subprocess.TimeoutExpired:
            return False

    def jobs(self, run_id: str) -> list[dict]:
        """Every job of one Snakemake run (its jobs are named by the run's ID), finished ones too."""
        out = self.run("squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%T|%k|%C|%m|%l")
        keys = ("id", "state", "comment", "cpus", "memory", "time_limit")
        return [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line.strip()]

    def stop(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            # nothing of a failed run keeps running on the node once the daemons are gone
            subprocess.run(["scancel", "--partition", PARTITION], capture_output=True, timeout=30)
            end = time.monotonic() + 30
            while time.monotonic() < end and self.run("squeue", "--noheader", "--states=RUNNING,COMPLETING").strip():
                time.sleep(1)
        for name in reversed(list(self.procs)):  # slurmd, slurmctld, then munged
            proc = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.linked_conf and DEFAULT_CONF.is_symlink() and DEFAULT_CONF.resolve() == (self.root / "slurm.conf"):
            DEFAULT_CONF.unlink()


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory, request) -> Cluster:
    reason = missing_requirements()
    if reason:
        skip_or_fail(reason)
    root = tmp_path_factory.mktemp("slurm")
    root.chmod(0o755)  # munged wants its socket's folder reachable by every user
    cluster = Cluster(root)
    request.addfinalizer(cluster.stop)
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    host = socket.gethostname().split(".")[0]
    (root / "slurm.conf").write_text(slurm_conf(root, host))
    DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_CONF.symlink_to(root / "slurm.conf")
    cluster.linked_conf = True
    # -F / -D: each daemon stays in the foreground, so the PID we hold is the daemon's own
    cluster.start("munged", ["munged", "-F", "--force", f"--socket={root}/munge.socket", f"--key-file={key}",
                             f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid",
                             f"--seed-file={root}/munged.seed"])
    cluster.wait_until("munge socket", (root / "munge.socket").exists, limit_s=20)
    cluster.start("slurmctld", ["slurmctld", "-D", "-f", str(root / "slurm.conf")])
    cluster.start("slurmd", ["slurmd", "-D", "-f", str(root / "slurm.conf")])
    cluster.wait_until("idle node in sinfo", cluster.node_idle)
    return cluster


def fill_in_profile(root: Path, partition: str, gpu_partition: str) -> None:
    """What the README asks of a user: the partitions for the CHANGE-ME values; on a cluster without
    accounts (this one has no accounting at all), the account line deleted."""
    config = root / "pipeline/profiles/slurm/config.yaml"
    text = re.sub(r'(?m)^\s*slurm_account: "CHANGE-ME".*\n', "", config.read_text())
    text = text.replace('"CHANGE-ME-GPU"', f'"{gpu_partition}"').replace('"CHANGE-ME"', f'"{partition}"')
    assert "CHANGE-ME" not in "".join(line.split("#")[0] for line in text.splitlines()), \
        "the profile has a CHANGE-ME value the README (and this test) does not fill in"
    config.write_text(text)


def test_a_profile_with_placeholders_is_refused_when_the_workflow_loads(tmp_path):
    """The profile as shipped: a dry run stops at once, naming the file and every key to fill in (it
    used to plan every job, and a real run would have sent CHANGE-ME to sbatch); half filled in, it
    names what is left."""
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]'")
    root = repo_copy(tmp_path, "smoke")

    def refusal() -> str:
        out = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "pipeline/profiles/slurm",
                              "--config", "scale=smoke", "--dry-run"], cwd=root, env=engine_env(),
                             capture_output=True, text=True)
        assert out.returncode != 0, out.stdout[-2000:]
        return next(line for line in (out.stdout + out.stderr).splitlines() if "placeholder" in line)

    assert refusal() == (
        "pipeline/profiles/slurm/config.yaml: default-resources: slurm_account, default-resources: "
        "slurm_partition, set-resources: train: slurm_partition, set-resources: evaluate: slurm_partition "
        "still hold the placeholder CHANGE-ME: fill in your cluster's account and partitions (on a cluster "
        "without accounts, delete the slurm_account line), as pipeline/profiles/README.md says")
    config = root / "pipeline/profiles/slurm/config.yaml"
    config.write_text(config.read_text().replace('"CHANGE-ME"', '"cpu-part"'))
    assert refusal().startswith("pipeline/profiles/slurm/config.yaml: set-resources: train: slurm_partition, "
                                "set-resources: evaluate: slurm_partition still hold the placeholder")


def snapshot_env(root: Path) -> dict:
    """The pipeline's environment, with the stages imported from the copy's own ``src`` (ahead of the
    editable install): the two runs, minutes apart, then run the same code even while the working
    tree changes. SLURM jobs inherit it (the plugin submits with ``--export=ALL``)."""
    env = engine_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "src"), env.get("PYTHONPATH")]))
    return env


def job_logs(root: Path) -> str:
    """The end of each SLURM job's log (the plugin's, one per job): where a failed stage says why."""
    return "".join(f"\n--- {log.relative_to(root)}\n" + "\n".join(log.read_text().splitlines()[-25:])
                   for log in sorted(root.glob(".snakemake/slurm_logs/**/*.log")))


def test_slurm_profile_runs_the_smoke_dag_as_slurm_jobs_with_local_results(slurm_cluster, tmp_path):
    cluster_root, local_root = tmp_path / "cluster", tmp_path / "local"
    cluster_root.mkdir()
    repo_copy(cluster_root, "smoke")
    shutil.copytree(cluster_root, local_root, symlinks=True)  # one snapshot of the code for both runs
    fill_in_profile(cluster_root, PARTITION, PARTITION)
    # The reference local run shares the CPUs with the cluster's jobs; it mostly fills the time the
    # cluster run spends waiting between status checks.
    local = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=local_root,
                             env=snapshot_env(local_root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the README's cluster command, at the smoke scale
        run = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "pipeline/profiles/slurm",
                              "--config", "scale=smoke"], cwd=cluster_root, env=snapshot_env(cluster_root),
                             capture_output=True, text=True, timeout=RUN_LIMIT_S)
    finally:
        local_out = local.communicate(timeout=RUN_LIMIT_S)[0]
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:] + job_logs(cluster_root) + slurm_cluster.logs()
    assert local.returncode == 0, local_out[-3000:]

    # Every rule ran as a SLURM job of this run, and each finished there.
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    jobs = slurm_cluster.jobs(run_id)
    expected = {"rule_download", "rule_prepare", "rule_paper"} | {
        f"rule_{rule}_wildcards_{model}_1" for rule in ("train", "evaluate") for model in MODELS}  # seed 1
    assert sorted(job["comment"] for job in jobs) == sorted(expected), jobs
    assert {job["state"] for job in jobs} == {"COMPLETED"}, jobs
    assert len(re.findall(r"has been submitted with SLURM jobid", log)) == len(expected)
    # What each job asked SLURM for came from params.yaml (threads, memory, wall time of the preset).
    smoke = load_params(cluster_root / "params.yaml", "smoke")["train"]
    for job in jobs:
        if job["comment"].startswith(("rule_train_", "rule_evaluate_")):
            assert int(job["cpus"]) == smoke["threads"], job
        if job["comment"].startswith("rule_train_"):
            assert job["memory"] == f"{smoke['mem_mb']}M", job
            hours, minutes = divmod(smoke["runtime_min"], 60)  # squeue shows [h:]mm:ss
            assert job["time_limit"] == (f"{hours}:{minutes:02d}:00" if hours else f"{minutes}:00"), job
    # The plugin's per-job logs are kept (the profile asks so), one per job, under the rule's name.
    logs = cluster_root / ".snakemake/slurm_logs"
    for job in jobs:
        rule = job["comment"].removeprefix("rule_").partition("_wildcards_")[0]
        assert list((logs / f"rule_{rule}").rglob(f"{job['id']}.log")), job

    # Same code, params and seeds: the cluster's results are the local run's.
    for model in MODELS:
        run = f"results/smoke/{model}/seed1"
        cluster_results, local_results = cluster_root / run, local_root / run
        cluster_metrics = json.loads((cluster_results / "evaluation.json").read_text())
        assert results_only(cluster_metrics) == results_only(json.loads((local_results / "evaluation.json").read_text()))
        assert cluster_metrics["perplexity"] > 1  # a real number, not an empty result on both sides
        for name in ("hypotheses.txt", "hypotheses.greedy.txt"):
            assert (cluster_results / name).read_text() == (local_results / name).read_text(), (model, name)
    table = "paper/build/smoke/table1.md"
    assert (cluster_root / table).read_text() == (local_root / table).read_text()


# --- GPU jobs: what the plugin would submit at a preset with GPUs (no GPU or cluster needed) --------


class _Resources(dict):
    """A job's resources as the plugin reads them (``resources.get(name)`` and ``resources.name``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def dry_run_jobs(root: Path, scale: str) -> dict[str, SimpleNamespace]:
    """Each job's threads and resources as Snakemake computes them through the profile. A dry run caps
    threads at --cores (1 unless given); a cluster run has no such cap, hence the large --cores."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "--profile", "pipeline/profiles/slurm",
                          "--config", f"scale={scale}", "--dry-run", "--cores", "1024"],
                         cwd=root, env=engine_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=rule \w+:)", out.stdout)[1:]:
        rule = re.match(r"rule (\w+):", block).group(1)
        model = re.search(r"wildcards: model=(\w+), seed=(\d+)", block)
        threads = re.search(r"^\s+threads: (\d+)", block, re.M)
        listed = re.search(r"^\s+resources: (.*)$", block, re.M)
        resources = _Resources()
        for item in listed.group(1).split(", ") if listed else []:
            key, value = item.split("=", 1)
            resources[key] = int(value) if value.isdigit() else value
        jobs[f"{rule}@{model.group(1)}-{model.group(2)}" if model else rule] = SimpleNamespace(
            name=rule, wildcards=list(model.groups()) if model else [], threads=int(threads.group(1)) if threads else 1,
            resources=resources)
    return jobs


def sbatch_line(job) -> str:
    """The plugin's own sbatch command builder, as its executor calls it for a single job."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    params = {"run_uuid": "RUN", "slurm_logfile": "LOG", "comment_str": f"rule_{job.name}", "account": "",
              "partition": f"-p {job.resources['slurm_partition']}", "workdir": "."}
    return get_submit_command(job, params) + set_gres_string(job)


def test_slurm_gpu_jobs_ask_for_the_presets_gpus_and_torchrun_starts_one_process_each(tmp_path, monkeypatch):
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[slurm]'")
    from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting, get_gpu_setting
    root = repo_copy(tmp_path, "paper")
    fill_in_profile(root, "cpu-part", "gpu-part")
    preset = load_params(root / "params.yaml", "paper")["train"]
    assert preset["gpus"] > 1  # the case this test is about: several GPUs in one training job
    jobs = dry_run_jobs(root, "paper")
    for model in MODELS:
        train = sbatch_line(jobs[f"train@{model}-1"]).split()
        assert f"--gpus={preset['gpus']}" in train and "-p" in train and "gpu-part" in train, train
        assert f"--cpus-per-task={preset['threads']}" in train, train
        assert ["--mem", str(preset["mem_mb"])] == train[train.index("--mem"):train.index("--mem") + 2]
        assert ["-t", str(preset["runtime_min"])] == train[train.index("-t"):train.index("-t") + 2]
        # one task on one node: torchrun (--standalone) starts a process per GPU there
        assert "--nodes=1" in train and not any(arg.startswith("--ntasks") for arg in train), train
        # inside the job, the plugin's job step starts the rule with srun on the same GPUs and CPUs
        step = jobs[f"train@{model}-1"]
        assert get_gpu_setting(step) == f"--gpus={preset['gpus']}"
        assert get_cpu_setting(step, True) == f"--cpus-per-task={preset['threads']}"
        evaluate = sbatch_line(jobs[f"evaluate@{model}-1"]).split()
        assert "--gpus=1" in evaluate and "gpu-part" in evaluate, evaluate
    for rule in ("download", "prepare", "paper"):
        line = sbatch_line(jobs[rule]).split()
        assert "cpu-part" in line and not any("gpu" in arg for arg in line), line
    # the prepare job is sized by params.yaml too (benchmarks/prepare_scale.py measured it)
    prepare = load_params(root / "params.yaml", "paper")["prepare"]
    line = sbatch_line(jobs["prepare"]).split()
    assert f"--cpus-per-task={prepare['threads']}" in line, line
    assert ["--mem", str(prepare["mem_mb"])] == line[line.index("--mem"):line.index("--mem") + 2]
    assert ["-t", str(prepare["runtime_min"])] == line[line.index("-t"):line.index("-t") + 2]

    # ... and the train stage hands itself to torchrun with one process per GPU of the preset.
    from activemem.stages import train as train_stage
    started = []

    def execv(path, argv):
        started.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(train_stage.os, "execv", execv)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    # the GPUs SLURM gave the job (a job asking for GPUs where CUDA does not work stops before torchrun)
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: preset["gpus"])
    monkeypatch.chdir(root)
    (root / "data/paper/prepared").mkdir(parents=True)  # the stage checks its input folder before handing over
    with pytest.raises(SystemExit):
        train_stage.main(["--params", "params.yaml", "--scale", "paper", "--model", "neural_gpu",
                          "--seed", "1", "--data", "data/paper/prepared", "--out", "results/paper/neural_gpu/seed1/train"])
    assert started and "torch.distributed.run" in started[0] and f"--nproc_per_node={preset['gpus']}" in started[0]
