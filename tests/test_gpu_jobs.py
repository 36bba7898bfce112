"""A GPU job on a machine we have not seen, without a GPU: it fails in one line where CUDA does not
work, and each local job runs on GPUs of its own.

No GPU is needed: ``nvidia-smi`` is a script of the test's (a machine with four GPUs and a given
driver), and where the stage must believe in CUDA, ``torch.cuda`` is patched to say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from activemem import gpus, locking
from activemem.config import load_params
from activemem.stages import evaluate as evaluate_stage
from activemem.stages import train as train_stage
from activemem.train.loop import run_config

from conftest import REPO

FAKE_DRIVER = "535.104.05"


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine with ``FAKE_GPUS`` (default 4) NVIDIA GPUs as ``nvidia-smi`` lists them; this process's
    CUDA_VISIBLE_DEVICES and GPU locks are put back afterwards."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        case "$*" in
          *driver_version*) echo {FAKE_DRIVER} ;;
          *index*) i=0; while [ $i -lt "${{FAKE_GPUS:-4}}" ]; do echo $i; i=$((i+1)); done ;;
          *) exit 9 ;;
        esac
        """))
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("CUDA_VISIBLE_DEVICES", "LOCAL_RANK", "RANK", "FAKE_GPUS"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    gpus.release()
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)


def params_file(tmp_path: Path, **train) -> Path:
    """The real params.yaml with the smoke scale's train block changed."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["smoke"]["train"].update(train)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train_args(params: Path, data: Path, out: Path) -> list[str]:
    return ["--params", str(params), "--scale", "smoke", "--model", "gru_attention", "--data", str(data),
            "--out", str(out), "--no-progress"]


# ---- item 1: GPUs asked for means CUDA, or one line saying why not -----------------------------------

def test_gpus_make_auto_mean_cuda_in_the_runs_settings(tmp_path):
    asked = load_params(params_file(tmp_path, gpus=2, device="auto"), "smoke")
    assert run_config(asked, "gru_attention").device == "cuda"
    none = load_params(params_file(tmp_path, gpus=0, device="auto"), "smoke")
    assert run_config(none, "gru_attention").device == "auto"      # no GPUs: wherever it runs
    rehearsal = load_params(params_file(tmp_path, gpus=2, device="cpu"), "smoke")
    assert run_config(rehearsal, "gru_attention").device == "cpu"  # asked for: CPU ranks


def test_a_gpu_job_where_the_driver_is_too_old_fails_in_one_line(machine, prepared, monkeypatch, capsys):
    """torch built for CUDA 13 on a node whose driver is older: the stage stops before training, naming
    the build, the driver and torch's own reason (today it trains on the CPU and exits 0)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")

    def init():
        raise RuntimeError("The NVIDIA driver on your system is too old (found version 12020).\n"
                           "Please update your GPU driver.")

    monkeypatch.setattr(torch.cuda, "init", init)
    params = params_file(machine, gpus=1, device="auto")
    with pytest.raises(SystemExit) as stop:
        train_stage.main(train_args(params, prepared, machine / "out"))
    message = str(stop.value.code)
    assert message.startswith(f"error: {params}: smoke.train.gpus is 1, so the job runs on CUDA, but CUDA is not usable")
    assert "built for CUDA 13.0" in message and f"NVIDIA driver {FAKE_DRIVER}" in message
    assert "too old (found version 12020). Please update" in message and "\n" not in message
    assert not (machine / "out" / "checkpoint.pt").exists()


def test_a_gpu_job_with_a_cpu_only_torch_fails_in_one_line(machine, prepared, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    params = params_file(machine, gpus=1, device="auto")
    with pytest.raises(SystemExit) as stop:
        train_stage.main(train_args(params, prepared, machine / "out"))
    message = str(stop.value.code)
    assert "smoke.train.gpus is 1" in message and "CPU-only build (torch.version.cuda is None)" in message
    assert "install a CUDA build of torch" in message and "\n" not in message


def test_fewer_visible_gpus_than_the_job_asks_for_fail_before_torchrun(machine, prepared, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)   # e.g. a SLURM job given 2 of the 4 asked for
    monkeypatch.setattr(train_stage.os, "execv", lambda *a: pytest.fail("torchrun started"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(SystemExit) as stop:
        train_stage.main(train_args(params_file(machine, gpus=4, device="auto"), prepared, machine / "out"))
    assert "smoke.train.gpus is 4 but only 2 GPU(s) are visible (CUDA_VISIBLE_DEVICES='0,1')" in str(stop.value.code)


# ---- item 2: each local job on GPUs of its own ---------------------------------------------------

CLAIM = """
import sys
from activemem import gpus
try:
    taken = gpus.claim(int(sys.argv[1]), sys.argv[2], "test job")
except gpus.NoFreeGpu as err:
    print("refused:", err, flush=True)
    sys.exit(3)
import os
print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
sys.stdin.read()          # holds its GPUs until the test closes its stdin
"""


def start_job(count: int, root: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen([sys.executable, "-c", CLAIM, str(count), str(root)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=env)
    return job, job.stdout.readline().strip()


def test_concurrent_jobs_get_different_gpus_and_free_them_when_they_end(machine):
    jobs = []
    try:
        for _ in range(3):
            jobs.append(start_job(1, machine))
        assert sorted(seen for _, seen in jobs) == ["0", "1", "2"]
        # four GPUs, three taken: a 2-GPU job is refused at once, naming them (no waiting: not a scheduler)
        refused, line = start_job(2, machine)
        assert refused.wait(timeout=60) == 3
        assert line.startswith("refused: the job needs 2 GPU(s) but GPU(s) 0, 1, 2 of this machine's 4 are taken")
        assert "--resources gpu=4" in line
        # the job on GPU 1 ends: its GPU is free again, for the next job
        job, seen = jobs.pop(1)
        job.stdin.close()
        job.wait(timeout=60)
        two, seen = start_job(2, machine)
        jobs.append((two, seen))
        assert seen == "1,3"
    finally:
        for job, _ in jobs:
            job.stdin.close()
            job.wait(timeout=60)


def test_nothing_is_chosen_where_the_scheduler_or_the_user_chose(machine, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")                  # SLURM's, for a job given --gpus=1
    assert gpus.claim(1, machine, "job") is None and os.environ["CUDA_VISIBLE_DEVICES"] == "2"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("LOCAL_RANK", "1")                            # a torchrun rank: its launcher chose
    assert gpus.claim(1, machine, "job") is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    monkeypatch.delenv("LOCAL_RANK")
    assert gpus.claim(0, machine, "job") is None                     # a CPU job
    monkeypatch.setenv("PATH", str(machine / "empty"))               # no nvidia-smi: CUDA's own view stands
    assert gpus.claim(1, machine, "job") is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    monkeypatch.setenv("PATH", f"{machine / 'bin'}")
    monkeypatch.setenv("FAKE_GPUS", "2")
    with pytest.raises(gpus.NoFreeGpu, match="the job needs 4 GPU.s. but this machine has 2"):
        gpus.claim(4, machine, "job")


def test_the_train_stage_hands_torchrun_its_own_gpus(machine, prepared, monkeypatch):
    """A 2-GPU training job while another job of the workspace holds GPU 0: torchrun starts on GPUs 1
    and 2, holding their locks across its exec."""
    other = locking.acquire(machine / gpus.SLOTS / __import__("socket").gethostname() / "gpu0.lock", "other job")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(os.environ["CUDA_VISIBLE_DEVICES"].split(",")))
    started = []

    def execv(path, argv):
        started.append((argv, os.environ.get("CUDA_VISIBLE_DEVICES"),
                        [os.get_inheritable(h.fileno()) for h in gpus._held]))
        raise SystemExit(0)

    monkeypatch.setattr(train_stage.os, "execv", execv)
    try:
        with pytest.raises(SystemExit):
            train_stage.main(train_args(params_file(machine, gpus=2, device="auto"), prepared, machine / "out"))
    finally:
        other.close()
    argv, visible, inherited = started[0]
    assert "--nproc_per_node=2" in argv and visible == "1,2" and inherited == [True, True]


def test_the_evaluate_stage_takes_one_gpu_of_its_own(machine, prepared, monkeypatch):
    other = locking.acquire(machine / gpus.SLOTS / __import__("socket").gethostname() / "gpu0.lock", "a training")
    seen = []

    def evaluate(*args, **kwargs):
        seen.append(os.environ.get("CUDA_VISIBLE_DEVICES"))
        return {"model": "gru_attention", "bleu": 0, "chrf": 0, "perplexity": 1, "bleu_greedy": None}

    monkeypatch.setattr(evaluate_stage, "evaluate", evaluate)
    try:
        evaluate_stage.main(["--params", str(params_file(machine, gpus=4, device="auto")), "--scale", "smoke",
                             "--model", "gru_attention", "--data", str(prepared), "--checkpoint", "x.pt",
                             "--out", str(machine / "eval"), "--no-progress"])
    finally:
        other.close()
    assert seen == ["1"]
