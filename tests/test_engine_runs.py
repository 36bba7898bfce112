"""Two engines, one workspace: a run owns the folder from its first action or touches nothing, and a
killed Snakemake takes its jobs with it so that the README's recovery works as written (issue 23,
items 7 and 8).

Each test runs the real engines on a one-model smoke copy of the project. A job is held at its start
where a test needs the run to stand still: a ``python`` placed first on the engine's ``PATH`` waits
for a file before it becomes the real interpreter.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_pipeline import engine_env, repo_copy

from conftest import REPO

pytestmark = pytest.mark.slow  # runs the engines end to end: `pytest -m "not slow"` leaves it out

MODEL = "neural_gpu"


def one_model_copy(dest: Path) -> Path:
    root = repo_copy(dest, "smoke")
    params = root / "params.yaml"
    params.write_text(re.sub(r"(?m)^models: \[.*?\]", f"models: [{MODEL}]", params.read_text(), count=1))
    return root


def run(root: Path, *cmd: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *cmd], cwd=root, env=env or engine_env(), capture_output=True,
                          text=True, timeout=timeout)


def gated_env(tmp: Path, stage: str, gate: Path) -> dict:
    """The engine's environment, where ``python -m activemem.stages.<stage>`` first creates
    ``<gate>.waiting``, then waits until ``gate`` exists."""
    bin_dir = tmp / "gated-bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"
    wrapper.write_text("#!/bin/sh\n"
                       f'case " $* " in *" activemem.stages.{stage} "*)\n'
                       f'  touch "{gate}.waiting"; while [ ! -e "{gate}" ]; do sleep 0.1; done;;\n'
                       "esac\n"
                       f'exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    env = engine_env()
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}


def wait_for(condition, what: str, timeout: float = 240, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            pytest.fail(f"the run ended (exit {process.returncode}) before {what}:\n{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def snapshot(root: Path, *folders: str) -> dict[str, str]:
    """Every file and folder under ``folders``: content hash, size and modification time."""
    seen = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            key = str(path.relative_to(root))
            if path.is_dir():
                seen[key] = "folder"
            else:
                st = path.stat()
                seen[key] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {st.st_size} {st.st_mtime_ns}"
    return seen


def descendants(pid: int) -> set[int]:
    """The live processes below ``pid``."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in table.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; it only waits for its parent to read its status


def test_dvc_repro_during_a_snakemake_run_is_refused_before_it_touches_anything(tmp_path):
    """Issue 23 item 7: `dvc repro` used to delete the train folder Snakemake had just made (DVC
    removes a stage's outputs before running its command, which only then met the workspace lock)."""
    root = one_model_copy(tmp_path / "ws")
    dvc = run(root, "dvc", "repro", "prepare")  # DVC is up to date up to prepare; train is new to it
    assert dvc.returncode == 0, dvc.stdout[-2000:] + dvc.stderr[-2000:]
    gate = tmp_path / "gate"
    snake = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=root,
                             env=gated_env(tmp_path, "evaluate", gate), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # the model is trained: Snakemake now waits for its evaluate job
        wait_for(lambda: Path(f"{gate}.waiting").exists(), "the evaluate job", process=snake)
        folders = ("data", "results", "checkpoints", "paper")
        before = snapshot(root, *folders)
        assert f"results/smoke/{MODEL}/seed1/train/checkpoint.pt" in before
        started = time.monotonic()
        refused = run(root, "dvc", "repro", timeout=120)
        assert refused.returncode != 0, refused.stdout[-2000:]
        assert "Unable to acquire lock" in refused.stderr, refused.stderr[-2000:]
        assert time.monotonic() - started < 60
        assert snapshot(root, *folders) == before  # nothing deleted, checked out or rewritten
        gate.touch()
        out, _ = snake.communicate(timeout=300)
        assert snake.returncode == 0, out[-3000:]
    finally:
        gate.touch()
        if snake.poll() is None:
            snake.kill()
            snake.wait()


@pytest.mark.parametrize("dvc_is", ["between stages", "starting a stage"])
def test_snakemake_during_a_dvc_run_stops_before_its_first_job(tmp_path, dvc_is):
    """The other way round, at the two moments when no stage of DVC's holds the workspace lock:
    between two stages (DVC holds its repo lock), and while a stage's command starts (DVC has let go
    of its repo lock to run it, and the stage has not yet taken the workspace lock). Snakemake refuses
    to start instead of running beside DVC."""
    root = one_model_copy(tmp_path / "ws")
    gate = tmp_path / "gate"
    if dvc_is == "between stages":  # DVC's own repo lock, taken as its commands take it
        holder = ("import time; from dvc.repo import Repo; repo = Repo('.'); repo.lock.lock(); "
                  "print('held', flush=True); time.sleep(120)")
        dvc = subprocess.Popen([sys.executable, "-c", holder], cwd=root, stdout=subprocess.PIPE, text=True,
                               start_new_session=True)

        def ready() -> bool:
            return dvc.stdout.readline().strip() == "held"
    else:  # a real `dvc repro`, its first stage's command held before Python starts
        dvc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=root,
                               env=gated_env(tmp_path, "archives", gate), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)

        def ready() -> bool:
            return Path(f"{gate}.waiting").exists()
    try:
        wait_for(ready, "DVC to be at work", process=dvc)
        before = snapshot(root, ".")
        snake = run(root, "snakemake", "--cores", "2", timeout=120)
        said = snake.stdout + snake.stderr
        assert snake.returncode != 0
        assert re.search(r"\.dvc/tmp/(lock is held by|rwlock lists a stage of) .*\(pid \d+\)(: | in progress: )"
                         r"DVC is working in this folder", said), said[-3000:]
        after = snapshot(root, ".")
        engines_state = (".snakemake", ".activemem", ".dvc/tmp")  # the engines' locks and records
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                         and not k.startswith(engines_state))
        assert changed == []
        assert not any((root / ".snakemake" / "locks").glob("*"))  # Snakemake's own locks are released
    finally:
        os.killpg(dvc.pid, signal.SIGKILL)
        dvc.wait()


def readme_recovery() -> tuple[str, str]:
    """The two commands the README gives for a Snakemake that was killed."""
    text = " ".join(REPO.joinpath("README.md").read_text().split())
    m = re.search(r"If Snakemake itself was killed.*?`(snakemake --unlock)`.*?"
                  r"`(snakemake --cores all --rerun-incomplete)`", text)
    assert m, "README: the recovery after a killed Snakemake"
    return m.group(1), m.group(2)


def test_a_killed_snakemake_ends_its_jobs_and_the_readme_recovery_works(tmp_path):
    """Issue 23 item 8: after `kill -9` of Snakemake its training job went on as an orphan, and the
    README's advice then failed (IncompleteFilesException, then LockException)."""
    unlock, again = readme_recovery()
    root = one_model_copy(tmp_path / "ws")
    # training long enough to outlast the check below by far, had it been left running
    params = root / "params.yaml"
    text, n = re.subn(r"(?m)^(    max_steps: )6$", r"\g<1>30", params.read_text(), count=1)
    assert n == 1
    params.write_text(text)
    snake = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=root, env=engine_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    jobs: set[int] = set()
    try:
        log = root / f"checkpoints/smoke/{MODEL}/seed1/train_log.csv"
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, "the first training step",
                 process=snake)
        jobs = descendants(snake.pid)  # bash, the train stage, tee
        assert jobs
        os.kill(snake.pid, signal.SIGKILL)
        snake.wait()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in jobs) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in jobs if alive(pid)], "the training job outlived Snakemake"

        unlocked = run(root, *unlock.split())
        assert unlocked.returncode == 0, unlocked.stdout[-2000:] + unlocked.stderr[-2000:]
        cmd = again.split()
        recovered = run(root, cmd[0], *["2" if word == "all" else word for word in cmd[1:]], timeout=600)
        assert recovered.returncode == 0, recovered.stdout[-3000:] + recovered.stderr[-3000:]
        assert (root / "paper/build/smoke/table1.md").exists()
    finally:
        if snake.poll() is None:
            snake.kill()
            snake.wait()
        for pid in jobs:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def snakemake_held_at_download(root: Path, tmp_path: Path, gate: Path) -> subprocess.Popen:
    """A Snakemake run of ``root`` (its own session), returned once its download job waits at ``gate``."""
    snake = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=root,
                             env=gated_env(tmp_path, "download", gate), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: Path(f"{gate}.waiting").exists(), "the download job", process=snake)
    except BaseException:
        os.killpg(snake.pid, signal.SIGKILL)
        snake.wait()
        raise
    return snake


def test_a_second_snakemake_is_told_who_runs_and_unlock_cannot_break_the_run(tmp_path):
    """Issue 33 #6: a second Snakemake beside a running one met IncompleteFilesException (advice:
    --rerun-incomplete), then LockException (advice: --unlock), and --unlock removed the live run's
    lock. The project's guard now speaks first, naming the run (engine and pid) and what to do."""
    root = one_model_copy(tmp_path / "ws")
    gate = tmp_path / "gate"
    first = snakemake_held_at_download(root, tmp_path, gate)
    try:
        locks = sorted((root / ".snakemake" / "locks").glob("*"))
        assert locks  # the first run's own Snakemake lock
        who = f"snakemake (scale smoke) (pid {first.pid}, since "
        second = run(root, "snakemake", "--cores", "1", timeout=120)
        said = second.stdout + second.stderr
        assert second.returncode != 0 and f"this workspace is in use: {who}" in said, said[-3000:]
        assert f"`kill -INT {first.pid}`" in said and "IncompleteFilesException" not in said, said[-3000:]
        unlock = run(root, "snakemake", "--unlock", timeout=120)
        said = unlock.stdout + unlock.stderr
        assert unlock.returncode != 0 and f"refusing --unlock: {who}" in said, said[-3000:]
        assert sorted((root / ".snakemake" / "locks").glob("*")) == locks  # the live run keeps its lock
        look = run(root, "snakemake", "-n", timeout=120)
        assert look.returncode == 0 and f"note: {who}" in look.stderr, look.stdout[-2000:] + look.stderr[-2000:]
        assert first.poll() is None
    finally:
        gate.touch()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


@pytest.mark.parametrize("how", ["Ctrl-C in its terminal", "kill -INT of Snakemake alone"])
def test_ctrl_c_of_snakemake_says_what_to_run_and_that_command_goes_on(tmp_path, how):
    """Issue 33 #7: Ctrl-C left the killed job's output marked incomplete (the same command then asked
    for --rerun-incomplete), printed event-loop tracebacks when it came while Snakemake planned, and a
    SIGINT to Snakemake alone waited for the running jobs to end by themselves."""
    root = one_model_copy(tmp_path / "ws")
    gate = tmp_path / "gate"
    snake = snakemake_held_at_download(root, tmp_path, gate)
    try:
        started = time.monotonic()
        if how == "Ctrl-C in its terminal":  # the terminal signals its whole foreground process group
            os.killpg(snake.pid, signal.SIGINT)
        else:
            os.kill(snake.pid, signal.SIGINT)
        out, _ = snake.communicate(timeout=120)
        assert snake.returncode != 0 and time.monotonic() - started < 60, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        assert ("stopped by Ctrl-C: the jobs that were running were stopped and their unfinished outputs removed; "
                "finished results are kept. To go on, run the same command again: snakemake --cores 2") in out, out[-3000:]
        assert not [p for p in (root / ".snakemake" / "incomplete").rglob("*") if p.is_file()]
        assert not (root / "data/smoke/raw").exists()
        gate.touch()
        again = run(root, "snakemake", "--cores", "2", "data/smoke/prepared")  # no --rerun-incomplete
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert (root / "data/smoke/prepared/manifest.json").exists()
    finally:
        gate.touch()
        if snake.poll() is None:
            os.killpg(snake.pid, signal.SIGKILL)
            snake.wait()
