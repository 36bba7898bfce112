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
from activemem.config import ParamsError
from activemem.cores import capped_threads


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when a GPU is visible, else the CPU; asking for ``cuda`` without one fails."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ParamsError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


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
