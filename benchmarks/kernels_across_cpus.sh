#!/usr/bin/env bash
# The pinned CPU kernels give the same numbers on other x86-64 CPUs: proof by emulation, on one machine.
#
#   bash benchmarks/kernels_across_cpus.sh [KERNELS] [CPU ...]     (defaults: avx2; Haswell EPYC-v1)
#
# Runs benchmarks/kernel_fingerprint.py (one training step of every demo model, digested bit for bit) on
# this machine, then under QEMU's user-mode emulation of other CPU models: `qemu-x86_64 -cpu Haswell` is an
# Intel CPU with AVX2 and no AVX-512, `-cpu EPYC-v1` an AMD Zen 1. Each reports its own vendor and
# instruction set to torch, oneDNN and MKL, which pick their kernels as they would on that machine; QEMU
# computes every instruction exactly, so a digest that differs is a different kernel, not emulation noise.
# With KERNELS=native the digests differ between CPUs: that is what the pin is for.
#
# Needs QEMU's user-mode emulator (Debian: apt-get install qemu-user; 7.2 or newer emulates AVX2).
# Emulation is slow: a few minutes per CPU model on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
kernels=${1:-avx2}
shift || true
cpus=("$@")
[ ${#cpus[@]} -gt 0 ] || cpus=(Haswell EPYC-v1)
python=${PYTHON:-python}
command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 not found (apt-get install qemu-user)" >&2; exit 2; }

digests() {  # "<ATen capability> <model>=<digest prefix> ..." of one fingerprint run
    "$@" benchmarks/kernel_fingerprint.py --kernels "$kernels" --no-check 2>/dev/null | "$python" -c '
import json, sys
result = json.load(sys.stdin)
print(result["kernels"]["aten_capability"], *(f"{m}={d[:12]}" for m, d in result["digests"].items()))'
}

echo "| CPU | ATen | digests (first 12 hex digits) |"
echo "|---|---|---|"
host=$(digests "$python")
echo "| this machine: $("$python" -c 'from activemem.kernels import cpu_name; print(cpu_name())') | ${host%% *} | ${host#* } |"
same=1
for cpu in "${cpus[@]}"; do
    line=$(digests qemu-x86_64 -cpu "$cpu" "$(command -v "$python")")
    echo "| qemu -cpu $cpu | ${line%% *} | ${line#* } |"
    [ "${line#* }" = "${host#* }" ] || same=0
done
if [ $same = 1 ]; then echo "kernels $kernels: every CPU gave this machine's digests"; else
    echo "kernels $kernels: the digests differ between CPUs"; fi
