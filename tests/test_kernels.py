"""The pinned CPU kernels (``activemem/kernels.py``): a stage command pins them before torch loads, the
provenance says whether the pin held, and one training step of every demo model gives the committed
digests (``benchmarks/kernel_fingerprint.json``) on this machine, whatever x86-64 CPU it is."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from activemem import kernels
from conftest import REPO

X86_WITH_AVX2 = platform.machine().lower() in kernels.X86 and "avx2" in open("/proc/cpuinfo").read()
needs_avx2 = pytest.mark.skipif(not X86_WITH_AVX2, reason="pinned AVX2 kernels need an x86-64 CPU with AVX2")

# What a `python -m activemem.stages.<stage> --params P --scale S` process does before the stage module
# loads: Python imports activemem.stages with argv[0] == "-m". Then torch loads, and says what it runs.
PROBE = """
import sys
params, scale, setting = sys.argv[1:]
sys.argv = ["-m", "--params", params, "--scale", scale]
import activemem.stages
import torch
from activemem import kernels
print(torch.backends.cpu.get_cpu_capability(), kernels.in_effect(setting)["pinned"])
"""


def probe(params, scale: str, setting: str) -> list[str]:
    """[ATen's capability, whether ``setting`` holds] in a fresh process started like a stage command."""
    clean = {k: v for k, v in os.environ.items() if k not in kernels.PINS["avx2"]}
    out = subprocess.run([sys.executable, "-c", PROBE, str(params), scale, setting], capture_output=True, text=True,
                         env=clean, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_each_setting_names_its_environment():
    assert kernels.environment("native") == {}
    assert kernels.environment("avx2") == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                                           "MKL_CBWR": "COMPATIBLE"}
    with pytest.raises(ValueError, match="avx512"):
        kernels.environment("avx512")


@needs_avx2
def test_a_stage_command_pins_the_kernels_before_torch_loads():
    # the smoke scale pins avx2; this CPU may run AVX-512 natively, the stage process must not
    assert probe(REPO / "params.yaml", "smoke", "avx2") == ["AVX2", "True"]


@needs_avx2
def test_a_native_scale_leaves_the_machine_its_own_kernels(tmp_path):
    native = tmp_path / "params.yaml"
    native.write_text((REPO / "params.yaml").read_text().replace("cpu_kernels: avx2", "cpu_kernels: native"))
    plain = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                           capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                if k not in kernels.PINS["avx2"]})
    assert probe(native, "smoke", "native") == [plain.stdout.strip(), "False"]


def test_an_unreadable_params_file_pins_nothing(tmp_path):
    # the stage itself reports a broken file, in its own words; the pin just stays out of the way
    broken = tmp_path / "params.yaml"
    broken.write_text("smoke: [")
    capability, pinned = probe(broken, "smoke", "avx2")
    assert pinned == "False"


def test_torch_loaded_first_is_reported_not_hidden():
    import torch  # noqa: F401  (this test process has torch already)
    assert "torch was imported before" in (kernels.pin("avx2") or "") or not X86_WITH_AVX2
    state = kernels.in_effect("avx2")
    if not all(os.environ.get(k) == v for k, v in kernels.environment("avx2").items()):
        assert state["pinned"] is False and state["why_not"]
    assert kernels.in_effect("native")["pinned"] is False


@needs_avx2
def test_one_step_of_every_demo_model_gives_the_committed_digests():
    """The one-command machine check of the README: a machine that fails this trains other numbers than
    paper/snapshot/demo from the same seed (kernels, torch or a model changed)."""
    run = subprocess.run([sys.executable, str(REPO / "benchmarks" / "kernel_fingerprint.py")], capture_output=True,
                         text=True, cwd=REPO, env={k: v for k, v in os.environ.items() if k not in kernels.PINS["avx2"]})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["kernels"]["pinned"] and result["kernels"]["aten_capability"] == "AVX2"
    record = json.loads((REPO / "benchmarks" / "kernel_fingerprint.json").read_text())
    assert result["digests"] == record["digests"]
