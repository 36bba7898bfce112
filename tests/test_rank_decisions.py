"""Rank 0 decides for every rank: two CPU ranks (gloo, torchrun) shown different dev perplexities, a
clock running fast on one of them, or a non-finite loss on one of them, still decay, stop and fail
together (``tests/ddp_ranks.py`` is one rank). A rank deciding alone would stop while the other waits
in its next collective: the run would hang or break, which the time limit turns into a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

LIMIT_S = 240


def two_ranks(prepared, tmp_path, scenario: str) -> dict[int, dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    try:
        run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              str(REPO / "tests" / "ddp_ranks.py"), "--params", str(REPO / "params.yaml"),
                              "--data", str(prepared), "--out", str(tmp_path), "--scenario", scenario],
                             env=env, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the ranks did not finish within {LIMIT_S} s (one waits for the other): "
                    f"{(err.stderr or b'')[-2000:]!r}")
    assert run.returncode == 0, run.stderr[-3000:]
    return {rank: json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)}


def test_ranks_shown_different_dev_perplexities_follow_rank_0(prepared, tmp_path):
    ranks = two_ranks(prepared, tmp_path, "dev")
    # rank 0's numbers: best 5.0 at evaluation 6, then three worse ones stop it (patience 3) at step 9,
    # each of them a plateau (worse than the one before): three decays
    expected = {"step": 9, "stop_reason": "patience", "lr_scale": 0.125,
                "dev_history": pytest.approx([10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 5.5, 5.6, 5.7])}
    for rank in (0, 1):
        assert {k: ranks[rank][k] for k in expected} == expected, rank
    assert ranks[0]["weights"] == ranks[1]["weights"]       # the same learning rate at every step


def test_a_non_finite_loss_on_one_rank_stops_both(prepared, tmp_path):
    ranks = two_ranks(prepared, tmp_path, "nan")
    for rank in (0, 1):
        assert "non-finite loss" in ranks[rank].get("error", "") and "at step 3 " in ranks[rank]["error"], ranks[rank]
