"""Which CPU kernels torch runs: the machine's own, or one instruction set pinned for every x86-64 CPU.

On a CPU, torch picks its kernels for the machine's instruction set when its libraries load, and
kernels for different instruction sets add numbers in different orders. The last bits of every sum
then depend on the machine, and after hundreds of training steps so do the BLEU scores and the claim
verdicts: the same seed on an AVX-512 machine and on an AVX2 laptop trains two different models.
Three kernel families decide it, each read from an environment variable once, when it loads:

- ATen's vectorised operators (elementwise maths, reductions, the embedding and loss kernels):
  ``ATEN_CPU_CAPABILITY``;
- oneDNN, which runs the convolutions (the Neural GPU's CGRU) and some matrix products:
  ``ONEDNN_MAX_CPU_ISA``;
- MKL's matrix products (GRU+Attention, the Transformer, every output projection): ``MKL_CBWR``,
  its conditional numerical reproducibility. Its ISA branches (``AVX2``) are honoured on Intel CPUs
  only (MKL falls back to its own choice elsewhere), so the pin takes ``COMPATIBLE``, the one branch
  MKL runs alike on Intel and AMD.

``train.cpu_kernels: avx2`` pins all three to AVX2, which every x86-64 CPU of the last decade has
(Intel since Haswell, 2013; AMD since Excavator, 2015), so a CPU scale gives the same numbers on any
of them, with or without AVX-512 or AMX. ``native`` leaves each library its own choice (fastest;
numbers of this kind of machine). Because the variables are read when torch loads, the stage command
sets them before torch is imported (``activemem/stages/__init__.py``); ``in_effect()`` reads back what
the running process got, and the provenance of every result records it.
"""

from __future__ import annotations

import os
import platform
import sys

NATIVE = "native"
# setting -> the environment that pins it; read by the libraries when torch is imported
PINS: dict[str, dict[str, str]] = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "COMPATIBLE",
    },
}
SETTINGS = (NATIVE, *PINS)
X86 = ("x86_64", "amd64", "i386", "i686")


def environment(setting: str) -> dict[str, str]:
    """The variables ``setting`` sets (none for ``native``)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown cpu_kernels setting {setting!r} (one of {', '.join(SETTINGS)})")
    return dict(PINS.get(setting, {}))


def pin(setting: str) -> str | None:
    """Set ``setting``'s variables in this process, for torch to read when it loads. Returns why the
    pin cannot hold (None when it will): torch already imported, or a CPU that is not x86-64."""
    if setting == NATIVE:
        return None
    if not _x86():
        return f"{_not_x86(setting)}: the numbers are this machine's own"
    if "torch" in sys.modules:
        return "torch was imported before the kernels could be pinned: the numbers are this machine's own"
    os.environ.update(environment(setting))
    return None


def in_effect(setting: str) -> dict:
    """What the running process computes with (torch imported): the setting asked for, whether it holds,
    ATen's capability as torch reports it, the pinned variables as this process sees them, and the CPU.
    ``pinned`` is false for ``native`` and for a pin that could not take effect (``why`` says)."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    wanted = environment(setting)
    seen = {name: os.environ.get(name) for name in wanted}
    why = None
    if setting != NATIVE:
        if not _x86():
            why = _not_x86(setting)
        elif seen != wanted:
            why = "the pinning variables were not set when torch loaded"
        elif capability.lower() != setting:
            why = f"this CPU runs ATen at {capability}, below {setting.upper()}"
    return {
        "setting": setting,
        "pinned": setting != NATIVE and why is None,
        "why_not": why,
        "aten_capability": capability,
        "environment": seen,
        "machine": platform.machine(),
        "cpu": cpu_name(),
    }


def _x86() -> bool:
    return platform.machine().lower() in X86


def _not_x86(setting: str) -> str:
    return f"this {platform.machine()} CPU has no {setting.upper()} kernels"


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
