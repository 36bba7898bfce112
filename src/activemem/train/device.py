"""Where a training or evaluation job runs, and how: the ``train.device``, ``train.threads``,
``train.deterministic`` and ``train.bf16`` settings turned into torch state.

The evaluation stage reads the same settings as training, so both ask this module, and a model is
measured on the kind of device, with the thread count, that it was trained with.
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager

import torch

from activemem import kernels
from activemem.gpus import nvidia_smi
from activemem.config import ParamsError
from activemem.cores import capped_threads


def implied_device(name: str, gpus: int) -> str:
    """``train.device`` as a job runs it: ``auto`` means CUDA when the scale asks for GPUs
    (``train.gpus`` > 0), so a job sized for GPUs that lands where CUDA does not work stops instead of
    training on the CPU for days inside a GPU allocation; with ``gpus: 0``, ``auto`` stays ``auto``."""
    return "cuda" if name == "auto" and gpus > 0 else name


def _nvidia_driver() -> str | None:
    """The NVIDIA driver's version as ``nvidia-smi`` reports it, or None (no tool, no driver)."""
    versions = nvidia_smi("driver_version")
    return versions[0] if versions else None


def cuda_problem() -> str | None:
    """Why CUDA cannot be used here, in one line naming torch's CUDA build and the driver (None: it can).

    ``torch.cuda.is_available()`` only says False; initialising CUDA says why (no driver, a driver
    older than the CUDA that torch was built for, no device), so it is asked here, after the fact."""
    if torch.cuda.is_available():
        return None
    build = (f"torch {torch.__version__} is built for CUDA {torch.version.cuda}" if torch.version.cuda else
             f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)")
    driver = _nvidia_driver()
    parts = [build, f"NVIDIA driver {driver}" if driver else "no NVIDIA driver answers (nvidia-smi)"]
    if torch.version.cuda:
        try:
            torch.cuda.init()
            parts.append("torch sees no CUDA device")
        except Exception as err:  # noqa: BLE001  torch's own reason is the useful part, whatever its type
            reason = " ".join(str(err).split())
            parts.append(f"torch says: {reason[:300]}")
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None:
        parts.append(f"CUDA_VISIBLE_DEVICES={hidden!r}")
    fix = ("install a torch build for this driver's CUDA (setup.sh: TORCH_SPEC) or update the driver"
           if torch.version.cuda else "install a CUDA build of torch (setup.sh: TORCH_SPEC)")
    return f"CUDA is not usable: {'; '.join(parts)}: {fix}"


def pick_device(name: str, gpus: int = 0, setting: str = "train") -> torch.device:
    """The device of ``train.device`` (``implied_device``): ``auto`` is CUDA when a GPU is visible,
    else the CPU; asking for CUDA (``cuda``, or ``gpus`` > 0) where it cannot be used fails with
    ``cuda_problem``'s line. ``setting`` is the key path of the train block in messages."""
    implied = implied_device(name, gpus)
    if implied == "auto":
        implied = "cuda" if torch.cuda.is_available() else "cpu"
    if implied == "cuda":
        problem = cuda_problem()
        if problem:
            why = (f"{setting}.gpus is {gpus}, so the job runs on CUDA" if gpus > 0
                   else f"{setting}.device is 'cuda'")
            raise ParamsError(f"{why}, but {problem}; to train on the CPU instead set {setting}.device: cpu")
    return torch.device(implied)


def require_gpus(count: int, setting: str = "train") -> None:
    """Fail in one line when fewer than ``count`` CUDA devices are visible (torchrun would start a rank
    for each and the extra ones would fail deep inside ``torch.cuda.set_device``)."""
    seen = torch.cuda.device_count()
    if seen < count:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise ParamsError(f"{setting}.gpus is {count} but only {seen} GPU(s) are visible"
                          + (f" (CUDA_VISIBLE_DEVICES={hidden!r})" if hidden is not None else "")
                          + f": give the job {count} GPUs or lower {setting}.gpus")


def use_threads(threads: int, setting: str = "train.threads") -> int:
    """Run torch on the preset's thread count, lowered to the cores the job was given (``cores.py``);
    returns the count used, which callers record.

    The thread count is part of the result on CPU (it sets the summation order of multi-threaded
    kernels), so it comes from the preset, not from the machine; but a preset for a cluster node run
    on a laptop would oversubscribe it many times over, so the cores given are its ceiling. Under
    torchrun the ranks of one node (``LOCAL_WORLD_SIZE``) share them."""
    used = capped_threads(threads, setting, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    torch.set_num_threads(used)
    return used


def check_cpu_kernels(setting: str, device: torch.device) -> dict:
    """What the process computes with (``kernels.in_effect``); a CPU job whose pin did not take (an aarch64
    CPU, torch imported before the stage could pin) says on stderr that its numbers are this machine's."""
    state = kernels.in_effect(setting)
    if device.type == "cpu" and setting != kernels.NATIVE and not state["pinned"]:
        print(f"warning: train.cpu_kernels is {setting} but {state['why_not']}: the numbers are this "
              f"machine's own (ATen {state['aten_capability']}), not those of the committed snapshot",
              file=sys.stderr)
    return state


def use_deterministic_kernels(deterministic: bool) -> None:
    # Multi-threaded CPU kernels (e.g. embedding backward) otherwise sum in a varying order, and two
    # runs of one commit drift apart; on CUDA, ops without a deterministic version only warn.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def uses_bf16(bf16: bool, device: torch.device) -> bool:
    """bf16 autocast is a GPU speed setting: a CPU run always computes in float32."""
    return bf16 and device.type == "cuda"


def bf16_autocast(device: torch.device, enabled: bool) -> AbstractContextManager:
    """The forward pass under bf16 autocast when ``enabled`` (see ``uses_bf16``), else unchanged."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)
